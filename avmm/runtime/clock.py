"""Guest time: the clock modes a host offers and the clocks devices read.

Each mode is a strategy object (:class:`HostClock`, :class:`VirtualClock`)
with the behaviour that differs, so the VM never branches on the mode's name;
:meth:`GuestClock.keeper` gives the per-VM half (:class:`Timekeeper`):

- ``host``: guest time follows the host's monotonic clock (the core's
  ``CLOCK_HOST``). A vCPU asleep in WFI waits on a loop timer at its deadline,
  and device deadlines (an RTC alarm) on another.
- ``virtual``: guest time is instructions retired divided by ``ips`` (the
  core's ``CLOCK_VIRTUAL``). Reproducible. When every vCPU of a VM sleeps, the
  VM's time jumps (warps) to the earliest deadline instead of waiting.

:class:`VmClock` (ticks) and :class:`VmWallClock` (nanoseconds since the Unix
epoch) are what device models get; both derive from the VM's guest time, so
under the virtual clock a device sees the same times run after run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

from avmm import _core
from avmm.constants import CLOCKS, DEFAULT_IPS, ClockName
from avmm.errors import ConfigError

__all__ = ["CLOCKS", "DEFAULT_IPS", "ClockName"]
# Boot epoch of virtual-clock VMs: fixed, so wall-clock reads are reproducible
# (2024-01-01T00:00:00Z).
VIRTUAL_EPOCH_NS = 1_704_067_200 * 1_000_000_000


class Sleeper(Protocol):
    """A vCPU as the clock sees it: asleep or not, and how to wake it."""

    @property
    def hart(self) -> _core.Hart: ...

    @property
    def halted(self) -> bool: ...

    @property
    def sleeping(self) -> bool: ...

    @property
    def in_run(self) -> bool: ...

    def kick(self) -> None: ...

    def arm_timer(self, delay: float) -> None: ...


class ClockedVm(Protocol):
    """A VM as its :class:`Timekeeper` sees it."""

    @property
    def machine(self) -> _core.Machine: ...

    @property
    def vcpus(self) -> Sequence[Sleeper]: ...

    @property
    def next_wake(self) -> int | None: ...

    @property
    def work_pending(self) -> bool: ...

    warps: int

    def recompute_next_wake(self) -> None: ...

    def device_deadline(self) -> int | None: ...

    def fire_device_deadlines(self, now: int) -> None: ...

    def wake_due(self) -> None: ...


class Timekeeper(Protocol):
    """The per-VM half of a clock mode: what happens when vCPUs sleep and wake,
    device work finishes, or a device deadline moves."""

    def sleeps(self, vcpu: Sleeper) -> None: ...

    def wakes(self) -> None: ...

    def work_done(self) -> None: ...

    def deadlines_changed(self) -> None: ...


class GuestClock(Protocol):
    """A clock mode, host-wide."""

    name: ClockName
    ips: int

    def start(self, machine: _core.Machine) -> None:
        """Set a new VM's machine to this mode."""

    @property
    def epoch_ns(self) -> int | None:
        """Boot epoch of a VM's wall clock; None: the host's real time."""

    def keeper(self, vm: ClockedVm) -> Timekeeper: ...


class HostClock:
    """Guest time follows the host's monotonic clock."""

    name: ClockName = "host"
    epoch_ns = None

    def __init__(self, ips: int = DEFAULT_IPS) -> None:
        self.ips = ips

    def start(self, machine: _core.Machine) -> None:
        machine.set_clock(_core.CLOCK_HOST, self.ips)

    def keeper(self, vm: ClockedVm) -> Timekeeper:
        return _HostTimekeeper(vm)


class _HostTimekeeper:
    def __init__(self, vm: ClockedVm) -> None:
        self._vm = vm
        self._device_timer: asyncio.TimerHandle | None = None

    def sleeps(self, vcpu: Sleeper) -> None:
        if not vcpu.halted:
            return
        machine = self._vm.machine
        deadline = vcpu.hart.next_deadline()
        if deadline is not None:
            vcpu.arm_timer((deadline - machine.time) / machine.timebase_hz)
        else:
            # The comparator may have fired since the caller looked (host time
            # moves between the two reads): no deadline left to wait for.
            vcpu.kick()

    def wakes(self) -> None:
        pass

    def work_done(self) -> None:
        pass

    def deadlines_changed(self) -> None:
        if self._device_timer is not None:
            self._device_timer.cancel()
            self._device_timer = None
        vm = self._vm
        deadline = vm.device_deadline()
        if deadline is not None:
            delay = (deadline - vm.machine.time) / vm.machine.timebase_hz
            loop = asyncio.get_running_loop()
            self._device_timer = loop.call_later(max(delay, 0.0), self._fired)

    def _fired(self) -> None:
        self._device_timer = None
        self._vm.fire_device_deadlines(self._vm.machine.time)
        self.deadlines_changed()


class VirtualClock:
    """Guest time is instructions retired divided by ``ips``; reproducible."""

    name: ClockName = "virtual"
    epoch_ns = VIRTUAL_EPOCH_NS

    def __init__(self, ips: int = DEFAULT_IPS) -> None:
        self.ips = ips

    def start(self, machine: _core.Machine) -> None:
        machine.set_clock(_core.CLOCK_VIRTUAL, self.ips)
        machine.time = 0  # not the host time that passed since the Machine was made

    def keeper(self, vm: ClockedVm) -> Timekeeper:
        return _VirtualTimekeeper(vm)


class _VirtualTimekeeper:
    def __init__(self, vm: ClockedVm) -> None:
        self._vm = vm

    def sleeps(self, vcpu: Sleeper) -> None:
        self._vm.recompute_next_wake()
        self._maybe_warp()

    def wakes(self) -> None:
        self._vm.recompute_next_wake()

    def work_done(self) -> None:
        self._maybe_warp()

    def deadlines_changed(self) -> None:
        self._vm.recompute_next_wake()

    def _maybe_warp(self) -> None:
        # Virtual time only moves with instructions: when nobody can run and no
        # device work is in flight, jump to the next deadline instead of waiting.
        vm = self._vm
        for vcpu in vm.vcpus:
            if vcpu.in_run and not vcpu.sleeping:
                return
        if vm.work_pending:
            return
        deadline = vm.next_wake
        if deadline is None:
            return
        now = vm.machine.time
        if deadline > now:
            vm.machine.warp(deadline - now)
            vm.warps += 1
        vm.wake_due()


def make_clock(name: str, ips: int = DEFAULT_IPS) -> GuestClock:
    if name == "host":
        return HostClock(ips)
    if name == "virtual":
        return VirtualClock(ips)
    raise ConfigError("sched.clock", f"{name!r} is not one of: {', '.join(CLOCKS)}")


class VmClock:
    """A VM's guest time in timebase ticks (the ``Clock`` devices read)."""

    def __init__(self, machine: _core.Machine) -> None:
        self._machine = machine

    def now(self) -> int:
        return self._machine.time

    @property
    def timebase_hz(self) -> int:
        return self._machine.timebase_hz


class VmWallClock:
    """Wall-clock time of a VM in ns: a boot epoch plus guest time.

    The epoch is the host's real time at creation under the host clock and a
    fixed date under the virtual clock.
    """

    def __init__(self, machine: _core.Machine, epoch_ns: int | None = None) -> None:
        self._machine = machine
        self._base_ticks = machine.time
        self.epoch_ns = time.time_ns() if epoch_ns is None else epoch_ns

    def now_ns(self) -> int:
        ticks = self._machine.time - self._base_ticks
        return self.epoch_ns + ticks * 1_000_000_000 // self._machine.timebase_hz

    def ticks_at(self, ns: int) -> int:
        """The guest time (ticks) at which :meth:`now_ns` reaches ``ns`` (rounded up)."""
        delta = ns - self.epoch_ns
        hz = self._machine.timebase_hz
        return self._base_ticks + -(-delta * hz // 1_000_000_000)


class WallAlarm:
    """A device alarm kept in wall-clock ns (the Goldfish RTC's ``next_alarm_ns``
    and ``poll``) seen as a deadline in guest ticks, for :meth:`Vm.add_deadline_source`."""

    def __init__(self, device: WallAlarmDevice, wall: VmWallClock) -> None:
        self._device = device
        self._wall = wall

    def next_deadline(self) -> int | None:
        ns = self._device.next_alarm_ns()
        return None if ns is None else max(self._wall.ticks_at(ns), 0)

    def expire(self, now: int) -> None:
        self._device.poll()


class WallAlarmDevice(Protocol):
    def next_alarm_ns(self) -> int | None: ...

    def poll(self) -> None: ...
