"""handle_exit with fabricated exits on a real Machine/Hart: no guest runs."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from avmm import _core
from avmm.devices.syscon import SifiveTest
from avmm.runtime.console import CaptureConsole
from avmm.runtime.events import MmioEvent
from avmm.runtime.exits import (
    DebugExit,
    HtifExit,
    InternalError,
    MmioExit,
    SystemEvent,
    SystemEventKind,
)
from avmm.runtime.handlers import handle_exit
from avmm.runtime.host import Host
from avmm.runtime.vcpu import Vcpu

RAM = 0x8000_0000
TOHOST = RAM + 0x1000
FROMHOST = RAM + 0x1008


class Regs:
    """A device with a value per offset; reads of unknown offsets give 0x5a."""

    name = "regs"
    size = 0x100

    def __init__(self) -> None:
        self.values: dict[int, int] = {0x10: 0xCAFE}
        self.writes: list[tuple[int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        return self.values.get(offset, 0x5A)

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes.append((offset, size, value))

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


@pytest.fixture
async def vcpu() -> AsyncIterator[Vcpu]:
    async with Host() as host:
        vm = host.create_vm("unit")
        vm.add_memory_slot(RAM, 1 << 20)
        vm.create_vcpu()
        vm.create_vcpu()
        vm.set_htif(TOHOST, FROMHOST)
        vm.add_device(0x1000_0000, Regs())
        yield vm.vcpus[0]


def console(vcpu: Vcpu) -> bytes:
    assert isinstance(vcpu.vm.console, CaptureConsole)
    return vcpu.vm.console.output


def test_budget_needs_nothing(vcpu: Vcpu) -> None:
    assert handle_exit(vcpu, _core.EXIT_BUDGET) is None


def pending_load(vcpu: Vcpu, *words: int) -> None:
    """Run ``words`` (machine code at RAM) until the core stops on an MMIO load."""
    vcpu.vm.machine.write_phys(RAM, b"".join(struct.pack("<I", w) for w in words))
    vcpu.hart.reset(RAM, _core.PRIV_M)
    tlb = vcpu.vm.host.pcpus[0].tlb
    assert vcpu.hart.run(10, tlb) == _core.EXIT_MMIO_READ


LUI_T0_DEVICE = 0x100002B7  # lui t0, 0x10000  (t0 = 0x1000_0000)
LW_A0_16_T0 = 0x0102A503  # lw a0, 16(t0)
LUI_T0_UNMAPPED = 0x300002B7  # lui t0, 0x30000  (t0 = 0x3000_0000)
LD_A0_0_T0 = 0x0002B503  # ld a0, 0(t0)


def test_mmio_read_of_a_device_is_completed_with_its_value(vcpu: Vcpu) -> None:
    pending_load(vcpu, LUI_T0_DEVICE, LW_A0_16_T0)
    assert handle_exit(vcpu, _core.EXIT_MMIO_READ) is None
    # Staged once: the device's value went straight to the core; the load retired.
    assert vcpu.get_reg(10) == 0xCAFE
    assert vcpu.pc == RAM + 8
    assert vcpu.counters.mmio_exits_bus == 1


def test_mmio_write_reaches_the_device(vcpu: Vcpu) -> None:
    sub = vcpu.vm.host.events.subscribe([MmioEvent])
    access = MmioExit(0, 0x1000_0020, 2, True, 0x1234)
    assert handle_exit(vcpu, _core.EXIT_MMIO_WRITE, access) is None
    _, regs, _ = vcpu.vm.bus.devices[0]
    assert regs.writes == [(0x20, 2, 0x1234)]  # type: ignore[attr-defined]
    event = sub.get_nowait()
    assert event == MmioEvent("unit", 0, "regs", 0x1000_0020, 2, True, 0x1234)


def test_unmapped_mmio_goes_to_the_caller(vcpu: Vcpu) -> None:
    pending_load(vcpu, LUI_T0_UNMAPPED, LD_A0_0_T0)
    assert handle_exit(vcpu, _core.EXIT_MMIO_READ) == MmioExit(0, 0x3000_0000, 8, False, 0)
    assert vcpu.counters.mmio_exits_user == 1
    assert vcpu.pc == RAM + 4  # the load waits in the core for the caller's value
    vcpu.hart.complete_mmio_read(0x1_0000_0000_0001)
    assert vcpu.get_reg(10) == 0x1_0000_0000_0001


def test_syscon_poweroff_becomes_a_system_event(vcpu: Vcpu) -> None:
    vm = vcpu.vm
    vm.add_device(0x10_0000, SifiveTest(vm))
    poweroff = MmioExit(0, 0x10_0000, 4, True, 3 << 16 | 0x3333)
    exit = handle_exit(vcpu, _core.EXIT_MMIO_WRITE, poweroff)
    assert exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 3)


def test_wfi_with_nothing_pending_halts(vcpu: Vcpu) -> None:
    assert handle_exit(vcpu, _core.EXIT_WFI) is None
    assert vcpu.halted


def test_wfi_with_an_interrupt_pending_keeps_running(vcpu: Vcpu) -> None:
    vcpu.set_csr("mie", _core.MIP_MEIP)
    vcpu.inject_irq(_core.MIP_MEIP, True)
    assert handle_exit(vcpu, _core.EXIT_WFI) is None
    assert not vcpu.halted


def test_pause_is_counted(vcpu: Vcpu) -> None:
    handle_exit(vcpu, _core.EXIT_PAUSE)
    handle_exit(vcpu, _core.EXIT_PAUSE)
    assert vcpu.counters.pause_exits == 2


def write_tohost(vcpu: Vcpu, value: int) -> None:
    vcpu.vm.machine.write_phys(TOHOST, struct.pack("<Q", value))


def read_u64(vcpu: Vcpu, addr: int) -> int:
    return int(struct.unpack("<Q", vcpu.vm.machine.read_phys(addr, 8))[0])


def test_htif_putchar_prints_and_acknowledges(vcpu: Vcpu) -> None:
    write_tohost(vcpu, 1 << 56 | 1 << 48 | ord("A"))
    assert handle_exit(vcpu, _core.EXIT_HTIF) is None
    assert console(vcpu) == b"A"
    assert read_u64(vcpu, TOHOST) == 0
    assert read_u64(vcpu, FROMHOST) == 1 << 56 | 1 << 48 | 0x100 | ord("A")


def test_htif_odd_value_is_the_exit_code(vcpu: Vcpu) -> None:
    write_tohost(vcpu, 7 << 1 | 1)
    assert handle_exit(vcpu, _core.EXIT_HTIF) == HtifExit(0, 7)
    write_tohost(vcpu, 1)
    assert handle_exit(vcpu, _core.EXIT_HTIF) == HtifExit(0, 0)


def test_htif_unknown_request_is_a_counted_guest_error(vcpu: Vcpu) -> None:
    write_tohost(vcpu, 5 << 56 | 2)
    assert handle_exit(vcpu, _core.EXIT_HTIF) is None
    assert read_u64(vcpu, TOHOST) == 0
    assert vcpu.vm.statistics().guest_errors == 1


def test_debug_exit_reports_cause_and_pc(vcpu: Vcpu) -> None:
    vcpu.pc = RAM + 0x40
    exit = handle_exit(vcpu, _core.EXIT_DEBUG)
    assert isinstance(exit, DebugExit)
    assert exit.pc == RAM + 0x40


def test_internal_error_carries_a_register_dump(vcpu: Vcpu) -> None:
    vcpu.pc = RAM + 0x123 * 4
    vcpu.set_reg(10, 0xDEADBEEF)
    exit = handle_exit(vcpu, _core.EXIT_INTERNAL_ERROR)
    assert isinstance(exit, InternalError)
    assert f"pc {RAM + 0x123 * 4:#018x}" in exit.dump
    assert "a0=00000000deadbeef" in exit.dump
    assert "mstatus=" in exit.dump


def test_in_core_ipi_without_a_target_does_not_yield(vcpu: Vcpu) -> None:
    assert handle_exit(vcpu, _core.EXIT_IPI) is None
    assert vcpu.counters.directed_yields == 0


def test_every_core_exit_reason_has_a_handler() -> None:
    from avmm.runtime.handlers import HANDLERS

    assert sorted(HANDLERS) == list(range(len(_core.EXIT_NAMES)))
