"""Recording fakes for the device seams (IrqLine, TimerLine, Clock, CharBackend, ...)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any


class FakeIrq:
    """An IrqLine that remembers every level it was driven to."""

    def __init__(self) -> None:
        self.level = False
        self.history: list[bool] = []

    def set_level(self, level: bool) -> None:
        self.level = level
        self.history.append(level)

    @property
    def rises(self) -> int:
        count, prev = 0, False
        for level in self.history:
            if level and not prev:
                count += 1
            prev = level
        return count


class FakeTimer:
    def __init__(self) -> None:
        self.deadlines: list[int | None] = []

    def set_deadline(self, ticks: int | None) -> None:
        self.deadlines.append(ticks)


class FakeClock:
    def __init__(self, now: int = 0) -> None:
        self.ticks = now

    def now(self) -> int:
        return self.ticks


class FakeWall:
    def __init__(self, ns: int = 0) -> None:
        self.ns = ns

    def now_ns(self) -> int:
        return self.ns


class FakePower:
    def __init__(self) -> None:
        self.events: list[tuple[str, int | None]] = []

    def poweroff(self, exit_code: int) -> None:
        self.events.append(("poweroff", exit_code))

    def reboot(self) -> None:
        self.events.append(("reboot", None))


class FakeChar:
    """A CharBackend: collects output, lets the test type input."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.writes: list[bytes] = []
        self._receive: Callable[[bytes], None] | None = None
        self.closed = False

    def write(self, data: bytes) -> None:
        self.output += data
        self.writes.append(bytes(data))

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive

    def type(self, data: bytes) -> None:
        assert self._receive is not None, "device never attached to its backend"
        self._receive(data)

    def close(self) -> None:
        self.closed = True


class FakeSpawner:
    """Collects submitted work; the test decides when it runs (like the deterministic policy)."""

    def __init__(self) -> None:
        self.pending: list[Coroutine[Any, Any, None]] = []
        self.names: list[str] = []

    def submit(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        self.pending.append(work)
        self.names.append(name)

    async def run_all(self) -> int:
        """Run work in submission order (including work submitted meanwhile)."""
        ran = 0
        while self.pending:
            await self.pending.pop(0)
            ran += 1
        return ran

    def discard(self) -> None:
        for work in self.pending:
            work.close()
        self.pending.clear()
