"""Counters the runtime keeps for the metrics: exact counts from real guests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from avmm import sbi
from avmm.devices.base import IrqLine
from avmm.runtime.counters import SLICE_BUCKETS
from avmm.runtime.exits import MmioExit, SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.runtime.vcpu import Vcpu
from tests.runtime.guest import RAM_BASE, assemble, bare_metal_vm, load_elf

CLINT_MTIME = 0x0200_BFF8
PLIC_PRIORITY_1 = 0x0C00_0004
UNMAPPED = 0x4000_0000
DOORBELL = 0x1000_8000
DOORBELL_IRQ = 5
DTB = 0x8220_0000


class Doorbell:
    """Test device: a write of 1 raises its interrupt line, 0 lowers it."""

    name = "doorbell"
    size = 0x1000

    def __init__(self, irq: IrqLine) -> None:
        self.irq = irq

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        self.irq.set_level(bool(value & 1))

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


async def test_in_core_irqchip_accesses_are_counted_per_device_without_exits() -> None:
    source = f"""
        li t0, {CLINT_MTIME:#x}
        li t1, {PLIC_PRIORITY_1:#x}
        li t2, 7
    1:  ld a0, 0(t0)
        addi t2, t2, -1
        bnez t2, 1b
        sw zero, 0(t1)
        sw zero, 0(t1)
        lw a1, 0(t1)
        li t3, {UNMAPPED:#x}
        sw zero, 0(t3)
    """
    async with Host() as host:
        vm = host.create_vm("fast")
        vm.add_memory_slot(RAM_BASE, 1 << 20)
        vcpu = vm.create_vcpu()
        vm.setup_irqchip()
        vm.machine.write_phys(RAM_BASE, assemble(source))
        vcpu.hart.reset(RAM_BASE)
        exit = await vcpu.run()
    assert exit == MmioExit(0, UNMAPPED, 4, True, 0)
    core = vcpu.statistics().core
    assert core["mmio_fast"] == {"clint": 7, "plic": 3}
    assert core["mmio"] == {"read": 0, "write": 1}  # only the unmapped store left the core


@pytest.mark.parametrize("irqchip", ["core", "python"])
async def test_ipis_and_plic_line_rises_are_counted_with_either_irqchip(
    guests: Path, irqchip: str
) -> None:
    # irq.elf ping-pongs 20 IPIs each way through CLINT msip and rings the
    # doorbell (PLIC source 5) 20 times.
    async with Host(pcpus=2) as host:
        vm = host.create_vm("irq", irqchip=irqchip)  # type: ignore[arg-type]
        bare_metal_vm(vm, guests / "irq.elf", vcpus=2, patch={"rounds": 20})
        vm.add_device(DOORBELL, Doorbell(vm.irq_line(DOORBELL_IRQ)))
        result = await vm.run()
    assert result.code == 0, vm.console_output
    stats = vm.statistics()
    assert [v.ipis for v in stats.vcpus] == [20, 20]
    assert stats.irq_injections == {DOORBELL_IRQ: 20}
    fast = [v.core["mmio_fast"] for v in stats.vcpus]
    bus = {d.name: d.reads + d.writes for d in stats.bus.devices}
    if irqchip == "core":
        # Both harts write msip; only hart 0 claims the doorbell at the PLIC.
        assert all(f["clint"] > 0 for f in fast)  # type: ignore[index]
        assert fast[0]["plic"] > 0  # type: ignore[index]
        assert "clint" not in bus
    else:
        assert fast == [{"clint": 0, "plic": 0}] * 2
        assert bus["clint"] > 0 and bus["plic"] > 0


async def test_sbi_ipis_and_console_bytes_are_counted(guests: Path) -> None:
    async with Host(pcpus=2) as host:
        vm = host.create_vm("direct")
        vm.add_memory_slot(RAM_BASE, 64 << 20)
        for _ in range(4):
            vm.create_vcpu()
        entry = load_elf(vm, guests / "sbi.elf", {"nharts": 4})
        sbi.prepare_direct_boot(vm, entry=entry, dtb=DTB)
        result = await vm.run()
    assert result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0)
    stats = vm.statistics()
    # Each secondary interrupts hart 0 once through the SBI IPI extension.
    assert stats.vcpus[0].ipis >= 3
    assert stats.console_tx_bytes == len(vm.console_output) > 0
    assert stats.console_rx_bytes == 0  # the DBCN read found no input


async def test_every_slice_lands_in_one_duration_bucket(guests: Path) -> None:
    async with Host(slice=2_000) as host:
        vm = bare_metal_vm(host.create_vm("spin"), guests / "irq.elf", vcpus=2)
        vm.add_device(DOORBELL, Doorbell(vm.irq_line(DOORBELL_IRQ)))
        await vm.run()
    for v in vm.statistics().vcpus:
        assert len(v.slice_buckets) == len(SLICE_BUCKETS) + 1
        assert sum(v.slice_buckets) == v.slices > 0
        assert v.slice_seconds > 0


async def test_run_queue_sampling_sees_every_busy_vcpu(guests: Path) -> None:
    async def mean_runnable(vcpus: int) -> float:
        async with Host(slice=1_000) as host:
            vm = bare_metal_vm(
                host.create_vm("busy"),
                guests / "bench.elf",
                vcpus=vcpus,
                patch={"mode": 0, "count": 20_000, "nharts": vcpus},
            )
            result = await vm.run()
        assert result.code == 0, vm.console_output
        stats = host.statistics().scheduler
        assert stats.requests >= stats.slices > 0
        assert (stats.ready, stats.running) == (0, 0)  # nothing left once the VM ended
        return stats.runnable_sum / stats.requests

    assert await mean_runnable(1) == 1.0  # alone, a vCPU only ever sees itself
    # Three busy vCPUs share one execution slot: requests see the others queued.
    assert 2.0 < await mean_runnable(3) <= 3.0


async def test_a_timer_that_expires_while_the_vcpu_goes_to_sleep_still_wakes_it() -> None:
    # Found by the metrics tests: on the host clock, the comparator can pass between
    # the vCPU's last look at its interrupts and the moment it arms its wake-up
    # timer; no timer is armed for a deadline already gone, so it must look again.
    source = f"""
        li t0, 0x80
        csrs mie, t0              # MTIE; mstatus.MIE clear: WFI wakes, no trap
        li s1, {CLINT_MTIME:#x}
        li s2, 0x02004000         # mtimecmp of hart 0
        ld t3, 0(s1)
        li t5, 100000
        add t3, t3, t5            # 10 ms ahead
        sd t3, 0(s2)
        wfi
        li t4, {UNMAPPED:#x}
        sw zero, 0(t4)
    """
    async with Host() as host:
        vm = host.create_vm("late")
        vm.add_memory_slot(RAM_BASE, 1 << 20)
        vcpu = vm.create_vcpu()
        vm.setup_irqchip()
        vm.machine.write_phys(RAM_BASE, assemble(source))
        vcpu.hart.reset(RAM_BASE)
        goes_to_sleep = vm.vcpu_sleeps

        late_sleeps = []

        def late(v: Vcpu) -> None:
            while v.hart.next_deadline() is not None:  # let the deadline pass first
                pass
            late_sleeps.append(v.index)
            goes_to_sleep(v)

        vm.vcpu_sleeps = late  # type: ignore[method-assign,assignment]
        exit = await asyncio.wait_for(vcpu.run(), timeout=30)  # a hang guard
    assert exit == MmioExit(0, UNMAPPED, 4, True, 0)
    assert late_sleeps == [0]
    assert vcpu.counters.halt_wakeups == 1
