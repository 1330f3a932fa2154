"""SiFive PLIC with level-triggered gateways (the Python twin of the in-core PLIC).

Sources 1..ndev-1 exist; source 0 and ids at or above ``ndev`` are hard-wired
to zero (their priority and enable bits read 0 and ignore writes) rather than
being guest errors, because Linux walks ``1..riscv,ndev`` when it sets up.
Context 2h is hart h's M-mode, 2h+1 its S-mode.

Gateway, as QEMU's virt PLIC (which unmodified guests are written against):
every assertion of a source's line is a request and makes it pending, even
when the line was already high (a device asserts again when it has something
new to say); a deassertion withdraws a request. A claim returns the pending,
enabled source of highest priority above the context's threshold (ties:
lowest id), clears its pending bit and puts it in service; a request made
while in service waits for the completion. Completion does not sample the
line again: a level that simply stays high is delivered once. (A PLIC built
to the letter of the spec re-pends such a source at completion; with a UART
whose THRE condition stays true because the driver never reads IIR, as xv6's
does not, that is an interrupt storm QEMU does not have.) A context's output
is high while some pending, enabled source not in service has a priority
above its threshold. Priority 0 never interrupts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from .base import GuestErrors, IrqLine, Metric

PRIORITY_BASE = 0x0
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x200000
CONTEXT_STRIDE = 0x1000
MAX_SOURCES = 1024  # architectural id space
MAX_CONTEXTS = 15872
PRIORITY_MASK = 7
THRESHOLD_MASK = 7


@attrs.define
class PlicStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {}
    claims: int = 0
    spurious_claims: int = 0  # claims that returned 0
    completions: int = 0
    interrupts: int = 0  # rising edges on context outputs
    guest_errors: int = 0


class _Source:
    """The IrqLine a device drives for one PLIC source."""

    __slots__ = ("_plic", "number")

    def __init__(self, plic: Plic, number: int) -> None:
        self._plic = plic
        self.number = number

    def set_level(self, level: bool) -> None:
        self._plic.set_source_level(self.number, level)


class Plic:
    """Priorities, pending bits, per-context enables, thresholds and claim/complete."""

    size = 0x600000

    def __init__(self, ndev: int, contexts: Sequence[IrqLine], *, name: str = "plic") -> None:
        if not 2 <= ndev <= MAX_SOURCES:
            raise ValueError(f"PLIC ndev must be 2..{MAX_SOURCES}, not {ndev}")
        if not 0 < len(contexts) <= MAX_CONTEXTS:
            raise ValueError(f"PLIC needs 1..{MAX_CONTEXTS} contexts, not {len(contexts)}")
        self.name = name
        self.ndev = ndev
        self.stats = PlicStats()
        self._outputs = list(contexts)
        self._guest_error = GuestErrors(name, self.stats)
        self._sources = [_Source(self, n) for n in range(ndev)]
        n_ctx = len(contexts)
        self._priority = [0] * ndev
        self._pending = 0  # bitmask over source ids
        self._claimed = 0  # claimed, not yet completed
        self._line = 0  # current input levels
        self._enable = [0] * n_ctx  # bitmask over source ids
        self._threshold = [0] * n_ctx
        self._output_level = [False] * n_ctx
        self._valid = ((1 << ndev) - 1) & ~1  # source 0 does not exist

    @property
    def contexts(self) -> int:
        return len(self._outputs)

    def source(self, n: int) -> IrqLine:
        """The input line of source ``n`` (1..ndev-1)."""
        if not 1 <= n < self.ndev:
            raise ValueError(f"PLIC source {n} out of range 1..{self.ndev - 1}")
        return self._sources[n]

    # ------------------------------------------------------------------ inputs

    def set_source_level(self, n: int, level: bool) -> None:
        bit = 1 << n
        if not self._valid & bit:
            raise ValueError(f"PLIC source {n} out of range 1..{self.ndev - 1}")
        if level:
            self._line |= bit
            self._pending |= bit
        else:
            self._line &= ~bit
            self._pending &= ~bit
        self._update()

    # ------------------------------------------------------------------ registers

    def read(self, offset: int, size: int) -> int:
        if not self._check(offset, size, "read"):
            return 0
        if offset < PENDING_BASE:
            n = offset // 4
            return self._priority[n] if n < self.ndev else 0
        if offset < ENABLE_BASE:
            word = (offset - PENDING_BASE) // 4
            if word < MAX_SOURCES // 32:
                return (self._pending >> (32 * word)) & 0xFFFF_FFFF
        elif offset < CONTEXT_BASE:
            ctx, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if ctx < self.contexts:
                return (self._enable[ctx] >> (8 * byte)) & 0xFFFF_FFFF
        else:
            ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if ctx < self.contexts and reg == 0:
                return self._threshold[ctx]
            if ctx < self.contexts and reg == 4:
                return self._claim(ctx)
        self._guest_error("offset", f"read of unknown register {offset:#x}")
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if not self._check(offset, size, "write", value):
            return
        value &= 0xFFFF_FFFF
        if offset < PENDING_BASE:
            n = offset // 4
            if 0 < n < self.ndev:
                self._priority[n] = value & PRIORITY_MASK
                self._update()
            return  # source 0 and absent sources: hard-wired zero
        if offset < ENABLE_BASE:
            if (offset - PENDING_BASE) // 4 < MAX_SOURCES // 32:
                self._guest_error("pending", f"write of {value:#x} to read-only pending word")
                return
        elif offset < CONTEXT_BASE:
            ctx, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if ctx < self.contexts:
                shift = 8 * byte
                bits = (self._enable[ctx] & ~(0xFFFF_FFFF << shift)) | (value << shift)
                self._enable[ctx] = bits & self._valid
                self._update()
                return
        else:
            ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if ctx < self.contexts and reg == 0:
                self._threshold[ctx] = value & THRESHOLD_MASK
                self._update()
                return
            if ctx < self.contexts and reg == 4:
                self._complete(ctx, value)
                return
        self._guest_error("offset", f"write of {value:#x} to unknown register {offset:#x}")

    def _check(self, offset: int, size: int, what: str, value: int | None = None) -> bool:
        if size == 4 and offset % 4 == 0:
            return True
        shown = "" if value is None else f" of {value:#x}"
        self._guest_error("width", f"{size}-byte {what}{shown} at {offset:#x} (32-bit only)")
        return False

    # ------------------------------------------------------------------ claim / complete

    def _best(self, ctx: int) -> int:
        """The source a claim on ``ctx`` would return now (0 if none)."""
        candidates = self._pending & ~self._claimed & self._enable[ctx]
        best, best_priority = 0, self._threshold[ctx]
        while candidates:
            low = candidates & -candidates
            n = low.bit_length() - 1
            if self._priority[n] > best_priority:
                best, best_priority = n, self._priority[n]
            candidates ^= low
        return best

    def _claim(self, ctx: int) -> int:
        n = self._best(ctx)
        if n == 0:
            self.stats.spurious_claims += 1
            return 0
        bit = 1 << n
        self._pending &= ~bit
        self._claimed |= bit
        self.stats.claims += 1
        self._update()
        return n

    def _complete(self, ctx: int, n: int) -> None:
        if not 0 < n < self.ndev:
            self._guest_error("complete", f"completion of nonexistent source {n} on context {ctx}")
            return
        bit = 1 << n
        # Completing a source that is not in service is ignored. (Unlike the
        # PLIC spec, the enable bit is not checked, exactly as the in-core PLIC.)
        if not self._claimed & bit:
            return
        self._claimed &= ~bit
        self.stats.completions += 1
        self._update()  # a request made while in service is eligible now

    def _update(self) -> None:
        for ctx, output in enumerate(self._outputs):
            level = self._best(ctx) != 0
            if level != self._output_level[ctx]:
                self._output_level[ctx] = level
                if level:
                    self.stats.interrupts += 1
                output.set_level(level)

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Power-on state: priorities, enables and thresholds 0, nothing in service.

        Input lines keep their levels (the devices drive them); a source whose
        line is high is pending again, as after any gateway reset.
        """
        self._priority = [0] * self.ndev
        self._claimed = 0
        self._pending = self._line
        self._enable = [0] * self.contexts
        self._threshold = [0] * self.contexts
        self._update()

    def state(self) -> dict[str, Any]:
        return {
            "priority": list(self._priority),
            "pending": self._bits(self._pending),
            "claimed": self._bits(self._claimed),
            "line": self._bits(self._line),
            "enable": [self._bits(e) for e in self._enable],
            "threshold": list(self._threshold),
        }

    def restore(self, state: dict[str, Any]) -> None:
        if len(state["priority"]) != self.ndev or len(state["enable"]) != self.contexts:
            raise ValueError(
                f"PLIC state has {len(state['priority'])} sources and "
                f"{len(state['enable'])} contexts; this PLIC has {self.ndev} and {self.contexts}"
            )
        self._priority = [int(p) & PRIORITY_MASK for p in state["priority"]]
        self._priority[0] = 0
        self._pending = self._mask(state["pending"])
        self._claimed = self._mask(state["claimed"])
        self._line = self._mask(state["line"])
        self._enable = [self._mask(e) for e in state["enable"]]
        self._threshold = [int(t) & THRESHOLD_MASK for t in state["threshold"]]
        for ctx, output in enumerate(self._outputs):
            self._output_level[ctx] = self._best(ctx) != 0
            output.set_level(self._output_level[ctx])

    def _bits(self, mask: int) -> list[int]:
        """A source bitmask as 32-bit words (msgpack has no big ints)."""
        return [(mask >> (32 * w)) & 0xFFFF_FFFF for w in range((self.ndev + 31) // 32)]

    def _mask(self, words: Sequence[int]) -> int:
        value = 0
        for w, word in enumerate(words):
            value |= (int(word) & 0xFFFF_FFFF) << (32 * w)
        return value & self._valid
