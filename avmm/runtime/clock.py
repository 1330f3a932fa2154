"""Guest time: the clock modes a host offers and the clocks devices read.

- ``host``: guest time follows the host's monotonic clock (the core's
  ``CLOCK_HOST``). A vCPU asleep in WFI waits on a loop timer at its deadline.
- ``virtual``: guest time is instructions retired divided by ``ips`` (the
  core's ``CLOCK_VIRTUAL``). Reproducible. When every vCPU of a VM sleeps, the
  VM's time jumps (warps) to the earliest deadline instead of waiting.

:class:`VmClock` (ticks) and :class:`VmWallClock` (nanoseconds since the Unix
epoch) are what device models get; both derive from the VM's guest time, so
under the virtual clock a device sees the same times run after run.
"""

from __future__ import annotations

import time
from typing import Literal, Protocol

from avmm import _core
from avmm.errors import ConfigError

ClockName = Literal["host", "virtual"]
CLOCKS: tuple[ClockName, ...] = ("host", "virtual")
DEFAULT_IPS = 100_000_000
# Boot epoch of virtual-clock VMs: fixed, so wall-clock reads are reproducible
# (2024-01-01T00:00:00Z).
VIRTUAL_EPOCH_NS = 1_704_067_200 * 1_000_000_000


def core_mode(name: str) -> int:
    if name == "host":
        return _core.CLOCK_HOST
    if name == "virtual":
        return _core.CLOCK_VIRTUAL
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
