"""What the board needs of the runtime: a VM reset for reboots, and a sleeping
vCPU whose timer is already due when it settles down is woken."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from avmm import _core
from avmm.board.loader import load_elf
from avmm.runtime.exits import HtifExit, Interrupted, StopReason
from avmm.runtime.host import Host
from avmm.sbi import HsmState

RAM = 0x8000_0000
WFI_LOOP = bytes.fromhex("73005010") + bytes.fromhex("6ff0dfff")  # wfi; j -4


class _DeadlineCrossedLate:
    """A hart whose sleep timer fires a little early (host timers round): the
    comparator has not fired when the timer looks, and has when the timer asks
    for the next deadline to wait for, so there is none left."""

    def __init__(self, real: _core.Hart, machine: _core.Machine) -> None:
        self._real = real
        self._machine = machine
        self.looks = 0
        self.deadlines = 0

    def wakeup_pending(self) -> bool:
        self.looks += 1
        return self.looks > 3  # run loop, sleep, early timer: not yet

    def next_deadline(self) -> int | None:
        self.deadlines += 1
        if self.deadlines == 1:
            return self._machine.time + 10_000  # 1 ms ahead: the sleep timer
        return None

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


async def test_a_vcpu_whose_deadline_passes_as_its_timer_fires_wakes_up() -> None:
    async with Host(clock="host") as host:
        vm = host.create_vm("race")
        vm.add_memory_slot(RAM, 1 << 20)
        vcpu = vm.create_vcpu()
        vm.setup_irqchip()
        vm.machine.write_phys(RAM, WFI_LOOP)
        vcpu.hart.reset(RAM)
        crossed = _DeadlineCrossedLate(vcpu.hart, vm.machine)
        vcpu.hart = crossed  # type: ignore[assignment]
        vcpu.halt()
        task = asyncio.create_task(vcpu.run())
        for _ in range(200):
            await asyncio.sleep(0.001)
            if vcpu.counters.slices:
                break
        vcpu.request_stop()
        exit = await task
    assert crossed.deadlines >= 2  # the timer fired and found no deadline left
    assert exit == Interrupted(0, StopReason.STOP)
    assert vcpu.counters.slices >= 1  # it woke and ran instead of sleeping for good


async def test_vm_reset_forgets_requests_hsm_states_and_the_irqchip() -> None:
    async with Host(clock="host") as host:
        vm = host.create_vm("reset", irqchip="core")
        vm.add_memory_slot(RAM, 1 << 20)
        for _ in range(2):
            vm.create_vcpu()
        vm.setup_irqchip()
        power_on = vm.machine.irqchip_state()
        vm.machine.write_phys(RAM, WFI_LOOP)
        vm.reset_all(RAM)
        vm.vcpus[1].hsm_stop()
        vm.vcpus[0].hart.mtimecmp = 12345
        vm.vcpus[0].hart.set_x(5, 99)
        vm.machine.set_irq(3, True)  # a device line, and the PLIC state it leaves
        vm.machine.set_irq(3, False)
        vm.stop()  # leaves a stop request on every vCPU, as the end of a run does
        vm.reset()
        assert [v.hsm_state for v in vm.vcpus] == [HsmState.STARTED] * 2
        assert vm.machine.irqchip_state() == power_on
        hart = vm.vcpus[0].hart
        assert (hart.pc, hart.priv, hart.get_x(5), hart.mtimecmp) == (0, _core.PRIV_M, 0, 2**64 - 1)
        # No stale stop request: the vCPUs run again after the reset.
        vm.reset_all(RAM)
        for vcpu in vm.vcpus:
            vcpu.request_stop()
        run = asyncio.create_task(vm.run())
        result = await run
    assert isinstance(result.exit, Interrupted)


async def test_a_python_irqchip_is_reset_too() -> None:
    async with Host(clock="host") as host:
        vm = host.create_vm("reset-py", irqchip="python")
        vm.add_memory_slot(RAM, 1 << 20)
        vm.create_vcpu()
        vm.setup_irqchip()
        clint_base, plic_base = 0x0200_0000, 0x0C00_0000
        vm.bus.write(clint_base + 0x4000, 8, 777)  # mtimecmp of hart 0
        vm.bus.write(plic_base + 4 * 5, 4, 3)  # priority of source 5
        vm.reset()
        assert vm.bus.read(clint_base + 0x4000, 8) == 2**64 - 1
        assert vm.bus.read(plic_base + 4 * 5, 4) == 0
        assert vm.vcpus[0].hart.mtimecmp == 2**64 - 1


def _fwrace(tmp_path: Path, count: int, pad: int) -> Path:
    elf = tmp_path / f"fwrace-{count}-{pad}.elf"
    subprocess.run(
        [
            "riscv64-unknown-elf-gcc",
            "-march=rv64gc",
            "-mabi=lp64d",
            "-nostdlib",
            "-nostartfiles",
            "-static",
            "-Wl,-N,-Ttext=0x80000000,-Tdata=0x80010000,--section-start=.htif=0x80020000",
            "-Wl,--no-warn-rwx-segments",
            f"-DCOUNT={count}",
            f"-DPAD={pad}",
            "-o",
            str(elf),
            str(Path(__file__).with_name("fwrace.S")),
        ],
        check=True,
    )
    return elf


@pytest.mark.slow
@pytest.mark.parametrize("count", [440, 460, 480])
async def test_a_firmware_call_is_not_cut_in_half_by_the_end_of_a_slice(
    tmp_path: Path, count: int
) -> None:
    # Hart 0's ecall lands 40..120 instructions before the end of its 1000-instruction
    # slice; the M-mode handler takes ~420: without the grace hart 1 would run in
    # between and see the first step alone.
    elf = _fwrace(tmp_path, count, 200)
    async with Host(clock="host", slice=1000, policy="round-robin") as host:
        vm = host.create_vm("fwrace")
        vm.add_memory_slot(RAM, 1 << 20)
        for _ in range(2):
            vm.create_vcpu()
        vm.setup_irqchip()
        image = load_elf(vm.guest_memory, elf)
        vm.set_htif(image.tohost, image.fromhost)
        vm.reset_all(image.entry)
        result = await asyncio.wait_for(vm.run(), 60)
        handler_slices = vm.vcpus[0].counters.slices
    assert result.exit == HtifExit(1, 0)  # hart 1 saw both steps
    assert handler_slices >= 1
