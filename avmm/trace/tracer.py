"""The tracer: what ``avmm run --trace`` writes, one JSON object per line.

Exits, SBI calls and MMIO accesses come from the event bus (published only
while someone subscribes, so they cost nothing otherwise); traps, interrupts
and instructions come from the core's per-hart trace buffers (off unless
asked for). Both are drained at the end of every slice of a traced vCPU, so
lines of one vCPU are in order within each source. A filter keeps the
chosen vCPUs and, for everything with an address (pc of an instruction,
trap or exit; the address of an MMIO access), the address range. After
``max_lines`` lines the tracer writes a ``truncated`` line and stops; the last
line is always ``end`` with counts of what was written and lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import attrs

from avmm import _core
from avmm.runtime.events import Event, ExitEvent, MmioEvent, SbiEvent, Subscription

if TYPE_CHECKING:
    from avmm.runtime.host import Host
    from avmm.runtime.vcpu import Vcpu

TraceEventName = Literal["exits", "interrupts", "traps", "sbi", "mmio", "insns"]
EVENT_NAMES: tuple[TraceEventName, ...] = ("exits", "interrupts", "traps", "sbi", "mmio", "insns")
_PRIV = {_core.PRIV_U: "U", _core.PRIV_S: "S", _core.PRIV_M: "M"}
_BUS_KINDS: dict[str, type[Event]] = {"exits": ExitEvent, "sbi": SbiEvent, "mmio": MmioEvent}
MAX_ADDR = 2**64 - 1


@attrs.frozen
class TraceFilter:
    vcpus: frozenset[int] | None = None  # None: every vCPU
    lo: int = 0
    hi: int = MAX_ADDR  # inclusive

    def vcpu(self, index: int) -> bool:
        return self.vcpus is None or index in self.vcpus

    def addr(self, addr: int) -> bool:
        return self.lo <= addr <= self.hi


class Tracer:
    """Writes the trace of every VM of ``host`` to ``out``."""

    def __init__(
        self,
        host: Host,
        events: Iterable[TraceEventName],
        out: IO[str],
        *,
        where: TraceFilter | None = None,
        max_lines: int = 1_000_000,
    ) -> None:
        self.host = host
        self.events = frozenset(events)
        self.out = out
        self.where = where or TraceFilter()
        self.max_lines = max_lines
        self.lines = 0
        self.stopped = False
        self._sub: Subscription | None = None
        self._traced: list[Vcpu] = []

    @classmethod
    def to_file(cls, host: Host, events: Iterable[TraceEventName], path: Path, **kw: Any) -> Tracer:
        return cls(host, events, path.open("w", encoding="utf-8"), **kw)

    def start(self) -> None:
        """Subscribe and switch the cores' tracing on, for every VM built so far."""
        kinds = [kind for name, kind in _BUS_KINDS.items() if name in self.events]
        if kinds:
            self._sub = self.host.events.subscribe(kinds, maxsize=1 << 16)
        flags = 0
        if self.events & {"interrupts", "traps"}:
            flags |= _core.TRACE_TRAPS
        if "insns" in self.events:
            flags |= _core.TRACE_INSNS
        for vm in self.host.vms.values():
            vm.tracer = self
            for vcpu in vm.vcpus:
                if flags and self.where.vcpu(vcpu.index):
                    vcpu.hart.set_trace(flags, self.where.lo, self.where.hi)
                    self._traced.append(vcpu)

    def drain(self, vcpu: Vcpu | None = None) -> None:
        """Write what the bus and ``vcpu``'s core buffer hold (called per slice)."""
        if self.stopped:
            return
        sub = self._sub
        if sub is not None:
            while not sub.queue.empty():
                self._bus_event(sub.get_nowait())
        if vcpu is not None and vcpu in self._traced:
            self._core_records(vcpu)

    def close(self) -> None:
        if not self.stopped:
            self.drain()
            for vcpu in self._traced:
                self._core_records(vcpu)
        lost = sum(v.hart.trace_lost for v in self._traced)
        dropped = self._sub.dropped if self._sub is not None else 0
        self._stop()
        self._write({"event": "end", "lines": self.lines, "dropped": dropped, "lost": lost}, True)
        self.out.close()

    def _stop(self) -> None:
        self.stopped = True
        if self._sub is not None:
            self.host.events.unsubscribe(self._sub)
        for vcpu in self._traced:
            vcpu.hart.set_trace(0)
        for vm in self.host.vms.values():
            if vm.tracer is self:
                vm.tracer = None

    # ------------------------------------------------------------ lines

    def _write(self, line: dict[str, Any], last: bool = False) -> None:
        if self.stopped and not last:
            return
        if not last and self.lines >= self.max_lines:
            self.out.write(json.dumps({"event": "truncated", "max_lines": self.max_lines}) + "\n")
            self._stop()
            return
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
        if not last:
            self.lines += 1

    def _bus_event(self, event: Event) -> None:
        where = self.where
        if isinstance(event, ExitEvent):
            if where.vcpu(event.vcpu) and where.addr(event.pc):
                self._write(
                    {"event": "exit", "vm": event.vm, "vcpu": event.vcpu,
                     "reason": event.reason, "pc": hex(event.pc)}
                )  # fmt: skip
        elif isinstance(event, SbiEvent):
            if where.vcpu(event.vcpu):
                self._write(
                    {"event": "sbi", "vm": event.vm, "vcpu": event.vcpu,
                     "ext": hex(event.extension), "fid": event.function, "error": event.error}
                )  # fmt: skip
        elif isinstance(event, MmioEvent) and where.vcpu(event.vcpu) and where.addr(event.addr):
            self._write(
                {"event": "mmio", "vm": event.vm, "vcpu": event.vcpu, "device": event.device,
                 "addr": hex(event.addr), "size": event.size, "write": event.is_write,
                 "value": hex(event.value)}
            )  # fmt: skip

    def _core_records(self, vcpu: Vcpu) -> None:
        name, index = vcpu.vm.name, vcpu.index
        want_traps = "traps" in self.events
        want_irqs = "interrupts" in self.events
        where = self.where
        for kind, pc, a, b, src, dst in vcpu.hart.take_trace():
            if self.stopped:
                return
            if kind == _core.TR_INSN:
                self._write(
                    {"event": "insn", "vm": name, "vcpu": index, "pc": hex(pc), "insn": hex(a)}
                )
            elif not where.addr(pc):
                continue
            elif kind == _core.TR_TRAP and want_traps:
                self._write(
                    {"event": "trap", "vm": name, "vcpu": index, "cause": a, "tval": hex(b),
                     "pc": hex(pc), "from": _PRIV.get(src, src), "to": _PRIV.get(dst, dst)}
                )  # fmt: skip
            elif kind == _core.TR_IRQ and want_irqs:
                self._write(
                    {"event": "interrupt", "vm": name, "vcpu": index, "cause": a, "pc": hex(pc),
                     "from": _PRIV.get(src, src), "to": _PRIV.get(dst, dst)}
                )  # fmt: skip
