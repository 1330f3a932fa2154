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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm import _core

if TYPE_CHECKING:
    from avmm.devices.base import IrqLine
    from avmm.runtime.vcpu import Vcpu
    from avmm.runtime.vm import Vm

DISARMED = (1 << 64) - 1


class CorePlicLine:
    """Input ``source`` of the VM's in-core PLIC."""

    def __init__(self, vm: Vm, source: int) -> None:
        self._vm = vm
        self.source = source
        self.level = False

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if level == self.level:
            return
        self.level = level
        vm = self._vm
        if level:
            vm.irq_injections[self.source] += 1
        vm.machine.set_irq(self.source, level)
        vm.process_kicks()


class HartLine:
    """An external level line into one hart's ``mip`` (MEIP, SEIP or MSIP)."""

    def __init__(self, vcpu: Vcpu, mask: int) -> None:
        self._vcpu = vcpu
        self.mask = mask
        self.level = False

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if level == self.level:
            return
        self.level = level
        self._vcpu.hart.set_irq_line(self.mask, level)
        if level:
            self._vcpu.kick()


class MsipLine(HartLine):
    """A CLINT msip bit: raising it is an IPI, so the target runs next."""

    def __init__(self, vcpu: Vcpu) -> None:
        super().__init__(vcpu, _core.MIP_MSIP)

    def set_level(self, level: bool) -> None:
        raised = bool(level) and not self.level
        super().set_level(level)
        if raised:
            self._vcpu.counters.ipis += 1
            self._vcpu.vm.directed_yield(self._vcpu)


class CountedLine:
    """A Python PLIC's input ``source``, counting its rising edges for the metrics."""

    def __init__(self, vm: Vm, source: int, line: IrqLine) -> None:
        self._vm = vm
        self.source = source
        self._line = line
        self.level = False

    def set_level(self, level: bool) -> None:
        level = bool(level)
        if level and not self.level:
            self._vm.irq_injections[self.source] += 1
        self.level = level
        self._line.set_level(level)


class HartTimerLine:
    """A CLINT comparator: becomes the hart's ``mtimecmp`` (None disarms)."""

    def __init__(self, vcpu: Vcpu) -> None:
        self._vcpu = vcpu

    def set_deadline(self, ticks: int | None) -> None:
        self._vcpu.hart.mtimecmp = DISARMED if ticks is None else ticks & DISARMED
        self._vcpu.timer_changed()


def plic_context_lines(vcpus: list[Vcpu]) -> list[HartLine]:
    """PLIC contexts of the virt board: 2h -> MEIP of hart h, 2h+1 -> SEIP."""
    lines: list[HartLine] = []
    for vcpu in vcpus:
        lines.append(HartLine(vcpu, _core.MIP_MEIP))
        lines.append(HartLine(vcpu, _core.MIP_SEIP))
    return lines
