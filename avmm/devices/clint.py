"""SiFive CLINT: software interrupts (msip), timer comparators and mtime.

The Python model behind the in-core CLINT, used when the irqchip is placed in
Python. ``msip[h]`` drives hart h's MSIP line; a write to ``mtimecmp[h]`` hands
the new deadline to ``timers[h]`` (the runtime keeps MTIP in step with guest
time); ``mtime`` is read from the guest clock and is read-only here, as in the
in-core CLINT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from .base import Clock, GuestErrors, IrqLine, Metric, TimerLine

MSIP_BASE = 0x0000
MTIMECMP_BASE = 0x4000
MTIME = 0xBFF8
MAX_HARTS = 4095  # msip words fit below 0x4000
U64 = (1 << 64) - 1
DISARMED = U64


@attrs.define
class ClintStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {}
    ipis: int = 0  # msip writes that raised a line
    timer_writes: int = 0
    guest_errors: int = 0


class Clint:
    """msip at 4*h, mtimecmp at 0x4000 + 8*h, mtime at 0xbff8."""

    size = 0x10000

    def __init__(
        self,
        msip: Sequence[IrqLine],
        timers: Sequence[TimerLine],
        clock: Clock,
        *,
        name: str = "clint",
    ) -> None:
        if len(msip) != len(timers):
            raise ValueError(f"{len(msip)} msip lines but {len(timers)} timers")
        if not 0 < len(msip) <= MAX_HARTS:
            raise ValueError(f"a CLINT serves 1..{MAX_HARTS} harts, not {len(msip)}")
        self.name = name
        self.stats = ClintStats()
        self._msip_lines = list(msip)
        self._timers = list(timers)
        self._clock = clock
        self._guest_error = GuestErrors(name, self.stats)
        self._msip = [0] * len(msip)
        self._mtimecmp = [DISARMED] * len(msip)

    @property
    def harts(self) -> int:
        return len(self._msip)

    def read(self, offset: int, size: int) -> int:
        where = self._decode(offset, size, "read")
        if where is None:
            return 0
        kind, hart, shift, mask = where
        if kind == "msip":
            return self._msip[hart]
        value = self._mtimecmp[hart] if kind == "mtimecmp" else self._clock.now() & U64
        return (value >> shift) & mask

    def write(self, offset: int, size: int, value: int) -> None:
        where = self._decode(offset, size, "write", value)
        if where is None:
            return
        kind, hart, shift, mask = where
        if kind == "msip":
            self._set_msip(hart, value & 1)
        elif kind == "mtimecmp":
            old = self._mtimecmp[hart]
            new = (old & ~(mask << shift) & U64) | ((value & mask) << shift)
            self._mtimecmp[hart] = new
            self.stats.timer_writes += 1
            self._timers[hart].set_deadline(new)
        else:
            self._guest_error("mtime", f"write of {value:#x} to read-only mtime ignored")

    def _decode(
        self, offset: int, size: int, what: str, value: int | None = None
    ) -> tuple[str, int, int, int] | None:
        """(register kind, hart, bit shift, mask) for an access, or None after logging."""
        shown = "" if value is None else f" of {value:#x}"
        if MSIP_BASE <= offset < MSIP_BASE + 4 * self.harts:
            if size == 4 and offset % 4 == 0:
                return "msip", (offset - MSIP_BASE) // 4, 0, 1
        elif (
            MTIMECMP_BASE <= offset < MTIMECMP_BASE + 8 * self.harts or MTIME <= offset < MTIME + 8
        ):
            if (size == 8 and offset % 8 == 0) or (size == 4 and offset % 4 == 0):
                mask = U64 if size == 8 else 0xFFFF_FFFF
                shift = 8 * (offset % 8)
                if offset >= MTIME:
                    return "mtime", 0, shift, mask
                return "mtimecmp", (offset - MTIMECMP_BASE) // 8, shift, mask
        else:
            self._guest_error("offset", f"{what}{shown} at unknown offset {offset:#x}")
            return None
        self._guest_error("width", f"{size}-byte {what}{shown} at {offset:#x}")
        return None

    def _set_msip(self, hart: int, bit: int) -> None:
        if bit and not self._msip[hart]:
            self.stats.ipis += 1
        self._msip[hart] = bit
        self._msip_lines[hart].set_level(bool(bit))

    def reset(self) -> None:
        """Clear every msip and disarm every comparator, driving the lines."""
        for hart in range(self.harts):
            self._msip[hart] = 0
            self._msip_lines[hart].set_level(False)
            self._mtimecmp[hart] = DISARMED
            self._timers[hart].set_deadline(DISARMED)

    def state(self) -> dict[str, Any]:
        return {"msip": list(self._msip), "mtimecmp": list(self._mtimecmp)}

    def restore(self, state: dict[str, Any]) -> None:
        msip = [int(v) & 1 for v in state["msip"]]
        mtimecmp = [int(v) & U64 for v in state["mtimecmp"]]
        if len(msip) != self.harts or len(mtimecmp) != self.harts:
            raise ValueError(f"CLINT state is for {len(msip)} harts, this CLINT has {self.harts}")
        self._msip = msip
        self._mtimecmp = mtimecmp
        for hart in range(self.harts):
            self._msip_lines[hart].set_level(bool(msip[hart]))
            self._timers[hart].set_deadline(mtimecmp[hart])
