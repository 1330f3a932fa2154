"""The paravirtual SBI's per-vCPU state travels in a snapshot: pv.elf
(guests/runtime/sbi/pv.c) registers an STA record and an avmm para-state page on
every hart, then spins under load on 4 vCPUs and 2 pCPUs, printing each hart's
steal as the records report it. Saved mid-load and restored into a fresh VM
(which has registered nothing), the run goes on exactly as an uninterrupted
one: same lines, same steal figures (the deterministic policy)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from avmm import sbi
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from avmm.snapshot import restore_snapshot, save_snapshot
from tests.runtime.guest import RAM_BASE, RAM_SIZE, load_elf

DTB = 0x8220_0000
GUARD = 300.0  # a hung guest fails the test instead of hanging CI (not a measurement)
SHUTDOWN = SystemEvent(0, SystemEventKind.SHUTDOWN, 0)


def _host() -> Host:
    return Host(pcpus=2, clock="virtual", policy="deterministic")


def _vm(host: Host, guests: Path) -> Vm:
    """The VM as the board makes it: RAM, 4 vCPUs, the guest, the SBI served."""
    vm = host.create_vm("pv")
    vm.add_memory_slot(RAM_BASE, RAM_SIZE)
    for _ in range(4):
        vm.create_vcpu()
    patch = {"nharts": 4, "ram_end": RAM_BASE + RAM_SIZE}
    sbi.prepare_direct_boot(vm, entry=load_elf(vm, guests / "pv.elf", patch), dtb=DTB)
    return vm


async def test_steal_records_and_para_pages_go_on_after_a_restore(
    guests: Path, tmp_path: Path
) -> None:
    async with _host() as host:
        whole_vm = _vm(host, guests)
        assert (await asyncio.wait_for(whole_vm.run(), GUARD)).exit == SHUTDOWN
        whole = whole_vm.console_output.decode()
        total = whole_vm.machine.instret
    assert whole.endswith("PASS\n") and " steal " in whole

    snap = tmp_path / "pv.snap"
    async with _host() as host:
        vm = _vm(host, guests)
        printed: list[int] = []

        async def save() -> None:
            await save_snapshot(vm, snap)
            printed.append(len(vm.console_output))
            host.request_stop()
            host.scheduler.unhold()

        tasks = []
        host.scheduler.on_hold = lambda: tasks.append(asyncio.create_task(save()))
        host.scheduler.hold_at = total * 6 // 10  # in the load, registrations made
        await asyncio.wait_for(vm.run(), GUARD)
    (at,) = printed
    assert whole[:at].startswith("sta errors ok\navmm errors ok\n")
    assert "PASS" not in whole[:at]

    async with _host() as host:
        fresh = _vm(host, guests)  # booted afresh: nothing registered yet
        assert all(v.para.sta is None and v.para.page is None for v in fresh.vcpus)
        await restore_snapshot(fresh, snap)
        assert all(v.para.sta is not None and v.para.page is not None for v in fresh.vcpus)
        assert (await asyncio.wait_for(fresh.run(), GUARD)).exit == SHUTDOWN
        assert fresh.console_output.decode() == whole[at:]
