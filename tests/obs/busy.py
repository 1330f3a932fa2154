"""A VM that runs until stopped, exercising what the metrics count (tests, bench).

Every hart loops forever: a counting loop (budget exits), a UART status read
and a byte to the UART (MMIO exits to a device model on the bus), a read of
the in-core CLINT's ``mtime`` (the fast path), then arms its timer a little
ahead and sleeps in WFI until it fires (WFI exits, halt time, timer
interrupts pending). Idle virtio devices sit on the bus so every device
family has series.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from avmm.devices.backends.block import RawImage
from avmm.devices.backends.char import NullChar
from avmm.devices.backends.net import NullNet
from avmm.devices.uart import Ns16550a
from avmm.devices.virtio import VirtioBlk, VirtioConsole, VirtioMmio, VirtioNet, VirtioRng
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm, VmResult
from tests.runtime.guest import RAM_BASE, assemble

UART = 0x1000_0000
UART_IRQ = 10
VIRTIO = 0x1000_1000
CLINT_MTIME = 0x0200_BFF8
CLINT_MTIMECMP = 0x0200_4000


def busy_source(spin: int = 2000, delay: int = 1000) -> str:
    """All harts: ``spin`` loop iterations, UART and CLINT accesses, WFI for ``delay`` ticks."""
    return f"""
        li s0, {UART:#x}
        li s1, {CLINT_MTIME:#x}
        li s2, {CLINT_MTIMECMP:#x}
        slli t0, a0, 3
        add s2, s2, t0
        li t0, 0x80
        csrs mie, t0        # MTIE, with mstatus.MIE clear: WFI wakes, no trap
        addi s3, a0, 0x30   # '0' + hartid
    loop:
        li t1, {spin}
    1:  addi t1, t1, -1
        bnez t1, 1b
        lbu t2, 5(s0)       # UART LSR
        sb s3, 0(s0)        # UART THR
        ld t3, 0(s1)        # mtime: in-core CLINT
        li t4, {delay}
        add t3, t3, t4
        sd t3, 0(s2)        # mtimecmp = now + delay
        wfi
        j loop
    """


def busy_vm(
    host: Host,
    name: str = "busy",
    *,
    vcpus: int = 2,
    disk: Path | None = None,
    spin: int = 2000,
    delay: int = 1000,
) -> Vm:
    """A VM of ``vcpus`` harts running :func:`busy_source` (``spin``, ``delay``), with a
    UART and idle virtio-rng, -console, -net and (given a ``disk`` image file) -blk
    devices."""
    vm = host.create_vm(name)
    vm.add_memory_slot(RAM_BASE, 4 << 20, dirty_log=True)
    for _ in range(vcpus):
        vm.create_vcpu()
    vm.setup_irqchip()
    vm.add_device(UART, Ns16550a(vm.console, vm.irq_line(UART_IRQ)))
    models = [
        VirtioRng(),
        VirtioConsole(NullChar()),
        VirtioNet(NullNet(), mac=bytes.fromhex("525400123456")),
    ]
    if disk is not None:
        models.append(VirtioBlk(RawImage(disk), vm.spawner))
    for n, model in enumerate(models):
        transport = VirtioMmio(model, vm.guest_memory, vm.irq_line(1 + n))
        vm.add_device(VIRTIO + n * 0x1000, transport)
    vm.machine.write_phys(RAM_BASE, assemble(busy_source(spin, delay)))
    vm.reset_all(RAM_BASE)
    return vm


@contextlib.asynccontextmanager
async def running(host: Host) -> AsyncIterator[asyncio.Task[dict[str, VmResult]]]:
    """Run every VM of ``host`` in the background; stop them on the way out."""
    task = asyncio.create_task(host.run())
    try:
        yield task
    finally:
        host.request_stop()
        await asyncio.wait_for(task, timeout=30)
