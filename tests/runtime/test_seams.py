"""Exit handling, interrupt lines and the clock against fakes of the Protocols they see."""

from __future__ import annotations

from typing import Any

from avmm import _core
from avmm.runtime.bus import MmioBus
from avmm.runtime.clock import HostClock, VirtualClock, make_clock
from avmm.runtime.counters import VcpuCounters
from avmm.runtime.events import EventBus
from avmm.runtime.handlers import handle_exit
from avmm.runtime.irq import CorePlicLine, MsipLine


class Regs:
    name = "regs"
    size = 0x100

    def read(self, offset: int, size: int) -> int:
        return 0xCAFE

    def write(self, offset: int, size: int, value: int) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


class PendingLoad:
    """A hart stopped on an MMIO load: records what completes it."""

    mmio_addr = 0x1000_0010
    mmio_size = 4

    def __init__(self) -> None:
        self.completed: list[int] = []
        self.mip: list[tuple[int, bool]] = []

    def complete_mmio_read(self, value: int) -> None:
        self.completed.append(value)

    def set_irq_line(self, mask: int, level: bool) -> None:
        self.mip.append((mask, level))


class ExitVm:
    def __init__(self) -> None:
        self.name = "fake"
        self.bus = MmioBus("fake")
        self.bus.register(0x1000_0000, Regs())
        self.events = EventBus()


class FakeVcpu:
    def __init__(self) -> None:
        self.index = 0
        self.hart = PendingLoad()
        self.counters = VcpuCounters()
        self.vm = ExitVm()
        self.kicks = 0
        self.ipis = 0

    def kick(self) -> None:
        self.kicks += 1

    def ipi_received(self) -> None:
        self.ipis += 1


def test_an_mmio_read_goes_from_the_device_straight_to_the_core() -> None:
    vcpu = FakeVcpu()
    assert handle_exit(vcpu, _core.EXIT_MMIO_READ) is None  # type: ignore[arg-type]
    assert vcpu.hart.completed == [0xCAFE]
    assert vcpu.counters.mmio_exits_bus == 1


def test_an_msip_line_raises_mip_and_reports_the_ipi_once_per_rising_edge() -> None:
    vcpu = FakeVcpu()
    line = MsipLine(vcpu)  # type: ignore[arg-type]
    line.set_level(True)
    line.set_level(True)
    line.set_level(False)
    assert vcpu.hart.mip == [(_core.MIP_MSIP, True), (_core.MIP_MSIP, False)]
    assert (vcpu.kicks, vcpu.ipis) == (1, 1)


def test_a_core_plic_line_counts_rising_edges_and_wakes_the_harts_the_core_names() -> None:
    machine = _core.Machine()
    machine.create_hart()
    machine.enable_plic(0x0C00_0000, 0x60)
    woken: list[int] = []
    injections = {5: 0}
    line = CorePlicLine(machine, 5, injections, woken.append)
    line.set_level(True)
    line.set_level(True)
    line.set_level(False)
    line.set_level(True)
    assert injections == {5: 2}


def test_clock_modes_are_strategies() -> None:
    assert isinstance(make_clock("host"), HostClock)
    virtual = make_clock("virtual", 1000)
    assert isinstance(virtual, VirtualClock) and virtual.epoch_ns is not None
    machine = _core.Machine()
    virtual.start(machine)
    assert machine.time == 0
