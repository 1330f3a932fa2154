"""The KVM-shaped API, driven by hand: run() returns what needs its caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from avmm import _core
from avmm.runtime.exits import DebugExit, Interrupted, MmioExit, StopReason
from avmm.runtime.host import Host
from avmm.runtime.vcpu import Vcpu
from tests.runtime.guest import RAM_BASE, assemble, bare_metal_vm

UNMAPPED = 0x4000_0000


async def one_vcpu(source: str, *, clock: str = "host") -> AsyncIterator[Vcpu]:
    async with Host(clock=clock) as host:
        vm = host.create_vm("api")
        vm.add_memory_slot(RAM_BASE, 1 << 20)
        vcpu = vm.create_vcpu()
        vm.machine.write_phys(RAM_BASE, assemble(source))
        vcpu.hart.reset(RAM_BASE)
        yield vcpu


@pytest.fixture
async def mmio_guest() -> AsyncIterator[Vcpu]:
    source = f"""
        li t0, {UNMAPPED:#x}
        lw a0, 0(t0)
        sd a0, 8(t0)
        addi a1, a0, 1
        j .
    """
    async for vcpu in one_vcpu(source):
        yield vcpu


async def test_unmapped_mmio_read_is_completed_by_the_caller(mmio_guest: Vcpu) -> None:
    exit = await mmio_guest.run()
    assert exit == MmioExit(0, UNMAPPED, 4, False, 0)
    mmio_guest.complete_mmio(0xFFFF_FFF0)  # lw sign-extends
    exit = await mmio_guest.run()
    assert exit == MmioExit(0, UNMAPPED + 8, 8, True, (1 << 64) - 16)
    assert mmio_guest.get_reg(10) == (1 << 64) - 16
    running = asyncio.create_task(mmio_guest.run())  # spins in `j .` from now on
    await asyncio.sleep(0.01)
    mmio_guest.request_pause()
    assert await running == Interrupted(0, StopReason.PAUSE)
    assert mmio_guest.get_reg(11) == (1 << 64) - 15
    assert mmio_guest.counters.mmio_exits_user == 2


async def test_a_read_nobody_completes_reads_all_ones(mmio_guest: Vcpu) -> None:
    await mmio_guest.run()
    await mmio_guest.run()
    assert mmio_guest.get_reg(10) == (1 << 64) - 1


async def test_single_step_and_breakpoints() -> None:
    source = """
        addi a0, zero, 1
        addi a0, a0, 2
        addi a0, a0, 3
        j .
    """
    async for vcpu in one_vcpu(source):
        vcpu.set_guest_debug(single_step=True)
        exit = await vcpu.run()
        assert exit == DebugExit(0, _core.DEBUG_STEP, RAM_BASE + 4)
        assert vcpu.get_reg(10) == 1
        vcpu.set_guest_debug(single_step=False)
        vcpu.set_breakpoint(RAM_BASE + 8)
        exit = await vcpu.run()
        assert exit == DebugExit(0, _core.DEBUG_BREAKPOINT, RAM_BASE + 8)
        assert vcpu.get_reg(10) == 3  # the breakpointed instruction has not run
        vcpu.clear_breakpoint(RAM_BASE + 8)
        vcpu.request_stop()
        assert await vcpu.run() == Interrupted(0, StopReason.STOP)


async def test_registers_and_csrs_by_name_or_number() -> None:
    async for vcpu in one_vcpu("j ."):
        vcpu.set_regs(list(range(32)))
        assert vcpu.get_regs() == [0, *range(1, 32)]  # x0 stays 0
        vcpu.set_csr("mscratch", 0x1234)
        assert vcpu.get_csr(_core.CSRS["mscratch"]) == 0x1234
        with pytest.raises(ValueError, match="unknown CSR"):
            vcpu.get_csr("nosuchcsr")


async def test_run_twice_at_once_is_an_error() -> None:
    from avmm.errors import CoreError

    async for vcpu in one_vcpu("j ."):
        first = asyncio.create_task(vcpu.run())
        await asyncio.sleep(0)
        with pytest.raises(CoreError, match="already running"):
            await vcpu.run()
        vcpu.request_stop()
        assert await first == Interrupted(0, StopReason.STOP)


class Alarm:
    """A device alarm in wall-clock ns that raises MEIP on the hart when polled."""

    def __init__(self, vcpu: Vcpu, at_ns: int) -> None:
        self.vcpu = vcpu
        self.at_ns: int | None = at_ns
        self.fired_at: int | None = None

    def next_alarm_ns(self) -> int | None:
        return self.at_ns

    def poll(self) -> None:
        wall = self.vcpu.vm.wall_clock.now_ns()
        if self.at_ns is not None and wall >= self.at_ns:
            self.fired_at = wall
            self.at_ns = None
            self.vcpu.inject_irq(_core.MIP_MEIP, True)


@pytest.mark.parametrize("clock", ["virtual", "host"])
async def test_sleeping_vcpu_wakes_at_a_device_deadline(clock: str) -> None:
    async for vcpu in one_vcpu("wfi\nj .-4", clock=clock):
        vm = vcpu.vm
        vcpu.set_csr("mie", _core.MIP_MEIP)  # WFI wakes on MEIP, no trap (MIE off)
        alarm = Alarm(vcpu, vm.wall_clock.now_ns() + 20_000_000)  # 20 ms of guest time
        vm.add_wall_alarm(alarm)
        task = asyncio.create_task(vcpu.run())
        while alarm.fired_at is None:
            await asyncio.sleep(0.005)
        vcpu.request_stop()
        assert await task == Interrupted(0, StopReason.STOP)
        assert vm.machine.time >= 200_000  # 20 ms at 10 MHz
        assert vcpu.counters.halt_wakeups >= 1
        if clock == "virtual":
            assert vm.warps == 1  # asleep: time jumped straight to the alarm


@pytest.mark.parametrize("clock", ["virtual", "host"])
async def test_a_sleeper_wakes_when_another_hart_sets_its_timer(clock: str) -> None:
    # Hart 1 sleeps in WFI with no deadline; then hart 0 arms hart 1's mtimecmp
    # through the in-core CLINT and sleeps for good. Hart 1 must wake at that
    # deadline and store to an unmapped address, which run() reports.
    source = f"""
        csrr a0, mhartid
        bnez a0, 2f
        li t0, 30000
    1:  addi t0, t0, -1
        bnez t0, 1b
        li t0, 0x02004008
        li t1, 0x0200bff8
        ld t2, 0(t1)
        addi t2, t2, 1000
        sd t2, 0(t0)
    3:  wfi
        j 3b
    2:  li t0, 0x80
        csrw mie, t0
        wfi
        li t0, {UNMAPPED:#x}
        sw zero, 0(t0)
        j .
    """
    async with Host(clock=clock) as host:
        vm = host.create_vm("timer")
        vm.add_memory_slot(RAM_BASE, 1 << 20)
        vm.create_vcpu()
        vm.create_vcpu()
        vm.setup_irqchip()
        vm.reset_all(RAM_BASE)
        vm.machine.write_phys(RAM_BASE, assemble(source))
        boot = asyncio.create_task(vm.vcpus[0].run())
        exit = await asyncio.wait_for(vm.vcpus[1].run(), timeout=30)  # a hang guard
        assert exit == MmioExit(1, UNMAPPED, 4, True, 0)
        assert vm.vcpus[1].counters.halt_wakeups >= 1
        vm.stop()
        assert await boot == Interrupted(0, StopReason.STOP)


class Broken:
    """A device model with a host bug: every read raises."""

    name = "broken"
    size = 0x1000

    def read(self, offset: int, size: int) -> int:
        raise RuntimeError("device model bug")

    def write(self, offset: int, size: int, value: int) -> None:
        pass

    def state(self) -> dict[str, object]:
        return {}

    def restore(self, state: dict[str, object]) -> None:
        pass


async def test_a_host_bug_in_a_device_propagates_and_frees_the_pcpu(mmio_guest: Vcpu) -> None:
    vm = mmio_guest.vm
    vm.add_device(UNMAPPED, Broken())
    with pytest.raises(RuntimeError, match="device model bug"):
        await mmio_guest.run()
    assert vm.host.scheduler.running is None
    assert vm.current is None


async def test_slices_of_m_mode_code_that_never_left_m_end_at_the_budget(guests: Path) -> None:
    # mstatus.MPP is U after reset; the firmware grace is only for a call from S/U.
    async with Host(slice=10_000) as host:
        vm = bare_metal_vm(
            host.create_vm("busy"),
            guests / "bench.elf",
            vcpus=1,
            patch={"mode": 0, "count": 50_000, "nharts": 1},
        )
        result = await vm.run()
    assert result.code == 0, vm.console_output
    vcpu = vm.statistics().vcpus[0]
    assert vcpu.exits["budget"] >= 3
    assert vcpu.instret <= vcpu.slices * 10_000


async def test_a_lone_busy_vcpu_runs_on_without_a_trip_through_the_scheduler_each_slice(
    guests: Path,
) -> None:
    patch = {"mode": 0, "count": 200_000, "nharts": 1}
    async with Host(slice=10_000) as host:
        vm = bare_metal_vm(host.create_vm("busy"), guests / "bench.elf", vcpus=1, patch=patch)
        result = await vm.run()
    assert result.code == 0, vm.console_output
    vcpu = vm.statistics().vcpus[0]
    assert vcpu.instret <= vcpu.slices * 10_000  # every budget is a slice ...
    assert host.scheduler.slices < vcpu.slices  # ... but nothing else wanted the pCPU
    # The deterministic policy reschedules at every slice: no run-on.
    async with Host(slice=10_000, policy="deterministic", clock="virtual") as host:
        vm = bare_metal_vm(host.create_vm("busy"), guests / "bench.elf", vcpus=1, patch=patch)
        result = await vm.run()
    assert result.code == 0, vm.console_output
    assert host.scheduler.slices == vm.statistics().vcpus[0].slices
