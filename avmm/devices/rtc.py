"""Goldfish RTC ("google,goldfish-rtc"), as Linux's rtc-goldfish driver uses it.

Time is nanoseconds since the Unix epoch: the wall clock plus an offset the
guest changes by writing TIME_HIGH then TIME_LOW. Reading TIME_LOW latches the
upper half for the following TIME_HIGH read. Writing ALARM_LOW arms an alarm
at (ALARM_HIGH << 32 | value); when it is due the interrupt becomes pending,
and the line is high while an interrupt is pending and IRQ_ENABLED is set.

The model starts no timers. It tells the runtime when its alarm is due in the
wall clock's time base (``next_alarm_ns()``, and the optional ``on_deadline``
callback whenever that changes); the runtime calls ``poll()`` at or after that
time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from .base import GuestErrors, IrqLine, IrqOutput, Metric, WallClock

TIME_LOW = 0x00
TIME_HIGH = 0x04
ALARM_LOW = 0x08
ALARM_HIGH = 0x0C
IRQ_ENABLED = 0x10
CLEAR_ALARM = 0x14
ALARM_STATUS = 0x18
CLEAR_INTERRUPT = 0x1C
U64 = (1 << 64) - 1


@attrs.define
class RtcStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {}
    alarms_fired: int = 0
    interrupts: int = 0
    time_sets: int = 0
    guest_errors: int = 0


class GoldfishRtc:
    """Time, one alarm and an interrupt line."""

    size = 0x1000

    def __init__(
        self,
        irq: IrqLine,
        wall: WallClock,
        *,
        name: str = "rtc",
        on_deadline: Callable[[int | None], None] | None = None,
    ) -> None:
        self.name = name
        self.stats = RtcStats()
        self._irq = IrqOutput(irq)
        self._wall = wall
        self._on_deadline = on_deadline
        self._guest_error = GuestErrors(name, self.stats)
        self._offset = 0  # guest time - wall time, ns (mod 2**64)
        self._time_high = 0
        self._alarm_high = 0
        self._alarm = 0  # alarm time in guest (RTC) ns
        self._alarm_running = False
        self._irq_enabled = False
        self._irq_pending = False

    def _now(self) -> int:
        return (self._wall.now_ns() + self._offset) & U64

    # ------------------------------------------------------------------ registers

    def read(self, offset: int, size: int) -> int:
        if size != 4 or offset % 4:
            self._guest_error("width", f"{size}-byte read at {offset:#x} (32-bit only)")
            return 0
        if offset == TIME_LOW:
            now = self._now()
            self._time_high = now >> 32
            return now & 0xFFFF_FFFF
        if offset == TIME_HIGH:
            return self._time_high
        if offset == ALARM_LOW:
            return self._alarm & 0xFFFF_FFFF
        if offset == ALARM_HIGH:
            return self._alarm >> 32
        if offset == IRQ_ENABLED:
            return int(self._irq_enabled)
        if offset == ALARM_STATUS:
            return int(self._alarm_running)
        if offset in (CLEAR_ALARM, CLEAR_INTERRUPT):
            return 0  # write-only
        self._guest_error("offset", f"read of unknown register {offset:#x}")
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset % 4:
            self._guest_error(
                "width", f"{size}-byte write of {value:#x} at {offset:#x} (32-bit only)"
            )
            return
        value &= 0xFFFF_FFFF
        if offset in (TIME_LOW, TIME_HIGH):
            now = self._now()
            if offset == TIME_LOW:
                new = (now & ~0xFFFF_FFFF) | value
            else:
                new = (now & 0xFFFF_FFFF) | (value << 32)
            self._offset = (self._offset + new - now) & U64
            self.stats.time_sets += 1
            self._deadline_changed()
        elif offset == ALARM_LOW:
            self._alarm = (self._alarm_high << 32) | value
            self._alarm_running = True
            self._deadline_changed()
            self.poll()
        elif offset == ALARM_HIGH:
            self._alarm_high = value
        elif offset == IRQ_ENABLED:
            self._irq_enabled = bool(value & 1)
            self._update_irq()
        elif offset == CLEAR_ALARM:
            if self._alarm_running:
                self._alarm_running = False
                self._deadline_changed()
        elif offset == CLEAR_INTERRUPT:
            self._irq_pending = False
            self._update_irq()
        elif offset == ALARM_STATUS:
            self._guest_error("status", f"write of {value:#x} to read-only ALARM_STATUS")
        else:
            self._guest_error("offset", f"write of {value:#x} to unknown register {offset:#x}")

    # ------------------------------------------------------------------ alarm

    def next_alarm_ns(self) -> int | None:
        """Wall-clock time (``WallClock.now_ns`` base) the armed alarm is due, or None."""
        if not self._alarm_running:
            return None
        return (self._alarm - self._offset) & U64

    def poll(self) -> None:
        """Fire the alarm if it is due; the runtime calls this at its deadline."""
        if self._alarm_running and self._now() >= self._alarm:
            self._alarm_running = False
            self._irq_pending = True
            self.stats.alarms_fired += 1
            self._deadline_changed()
            self._update_irq()

    def _deadline_changed(self) -> None:
        if self._on_deadline is not None:
            self._on_deadline(self.next_alarm_ns())

    def _update_irq(self) -> None:
        level = self._irq_pending and self._irq_enabled
        if self._irq.set(level):
            self.stats.interrupts += 1

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Reboot: the alarm and interrupt are cleared; the clock keeps its time."""
        self._alarm_running = False
        self._irq_enabled = False
        self._irq_pending = False
        self._update_irq()
        self._deadline_changed()

    def state(self) -> dict[str, Any]:
        return {
            "offset": self._offset,
            "time_high": self._time_high,
            "alarm_high": self._alarm_high,
            "alarm": self._alarm,
            "alarm_running": self._alarm_running,
            "irq_enabled": self._irq_enabled,
            "irq_pending": self._irq_pending,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._offset = int(state["offset"]) & U64
        self._time_high = int(state["time_high"]) & 0xFFFF_FFFF
        self._alarm_high = int(state["alarm_high"]) & 0xFFFF_FFFF
        self._alarm = int(state["alarm"]) & U64
        self._alarm_running = bool(state["alarm_running"])
        self._irq_enabled = bool(state["irq_enabled"])
        self._irq_pending = bool(state["irq_pending"])
        self._irq.restore(self._irq_pending and self._irq_enabled)
        self._deadline_changed()
