"""Interrupt wiring: the IrqLine / TimerLine implementations device models get.

A device model only knows ``IrqLine.set_level`` (devices/base.py). What a
level change does depends on where the VM's interrupt controller lives:

- ``irqchip = "core"`` (fast path): device lines go into the core's PLIC
  (:class:`CorePlicLine`); the core tells which harts' interrupt state changed
  (``Machine.take_kicks``) and those vCPUs are woken.
- ``irqchip = "python"``: the PLIC and CLINT are Python models on the bus;
  their outputs drive a hart's external lines (:class:`HartLine`), the CLINT's
  msip lines also make the target run next (:class:`MsipLine`, directed
  yield), and its comparators become the hart's ``mtimecmp``
  (:class:`HartTimerLine`), so the core raises MTIP at the exact time.

Lines hold what they drive (a machine, a hart's :class:`IrqVcpu`), never the VM.
Edges are detected once, by :class:`~avmm.devices.base.Edge` (as device outputs are).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from avmm import _core
from avmm.devices.base import Edge, IrqLine

DISARMED = (1 << 64) - 1


class IrqVcpu(Protocol):
    """A vCPU as its interrupt lines see it."""

    @property
    def hart(self) -> _core.Hart: ...

    def kick(self) -> None: ...

    def timer_changed(self) -> None: ...

    def ipi_received(self) -> None: ...


class CorePlicLine(Edge):
    """Input ``source`` of a machine's in-core PLIC; ``wake`` gets the harts to kick."""

    def __init__(
        self,
        machine: _core.Machine,
        source: int,
        injections: dict[int, int],
        wake: Callable[[int], None],
    ) -> None:
        super().__init__()
        self._machine = machine
        self.source = source
        self._injections = injections
        self._wake = wake

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if self.idle(level):
            return
        # a repeated assertion is a new request for the PLIC's gateway
        if self.rising(level):
            self._injections[self.source] += 1
        machine = self._machine
        machine.set_irq(self.source, level)
        kicks = machine.take_kicks()
        if kicks:
            self._wake(kicks)


class HartLine(Edge):
    """An external level line into one hart's ``mip`` (MEIP, SEIP or MSIP)."""

    def __init__(self, vcpu: IrqVcpu, mask: int) -> None:
        super().__init__()
        self._vcpu = vcpu
        self.mask = mask

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if not self.to(level):
            return
        self._vcpu.hart.set_irq_line(self.mask, level)
        if level:
            self._vcpu.kick()


class MsipLine(HartLine):
    """A CLINT msip bit: raising it is an IPI, so the target runs next."""

    def __init__(self, vcpu: IrqVcpu) -> None:
        super().__init__(vcpu, _core.MIP_MSIP)

    def set_level(self, level: bool) -> None:
        raised = bool(level) and not self.level
        super().set_level(level)
        if raised:
            self._vcpu.ipi_received()


class CountedLine(Edge):
    """A Python PLIC's input ``source``, counting its rising edges for the metrics."""

    def __init__(self, source: int, injections: dict[int, int], line: IrqLine) -> None:
        super().__init__()
        self.source = source
        self._injections = injections
        self._line = line

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if self.rising(level):
            self._injections[self.source] += 1
        self._line.set_level(level)


class HartTimerLine:
    """A CLINT comparator: becomes the hart's ``mtimecmp`` (None disarms)."""

    def __init__(self, vcpu: IrqVcpu) -> None:
        self._vcpu = vcpu

    def set_deadline(self, ticks: int | None) -> None:
        self._vcpu.hart.mtimecmp = DISARMED if ticks is None else ticks & DISARMED
        self._vcpu.timer_changed()


def plic_context_lines(vcpus: Sequence[IrqVcpu]) -> list[HartLine]:
    """PLIC contexts of the virt board: 2h -> MEIP of hart h, 2h+1 -> SEIP."""
    lines: list[HartLine] = []
    for vcpu in vcpus:
        lines.append(HartLine(vcpu, _core.MIP_MEIP))
        lines.append(HartLine(vcpu, _core.MIP_SEIP))
    return lines
