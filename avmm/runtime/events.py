"""The event bus: typed, frozen events for observers (metrics, tracing, recording).

Observers ``subscribe`` to the kinds they want and get a bounded
:class:`asyncio.Queue`. :meth:`EventBus.publish` never blocks and never
raises: when a subscriber's queue is full the event is dropped for that
subscriber and counted. Publishers ask :meth:`EventBus.wants` first, so a
hot path pays one dictionary lookup and builds no event object when nobody
listens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import attrs

# ----------------------------------------------------------------- event kinds


@attrs.frozen
class Event:
    """Base of all events; ``vm`` names the VM ('' for host-wide events)."""

    vm: str


@attrs.frozen
class ExitEvent(Event):
    """A slice ended with a core exit other than the budget."""

    vcpu: int
    reason: str  # avmm._core.EXIT_NAMES[reason]
    pc: int


@attrs.frozen
class MmioEvent(Event):
    """An MMIO access reached the bus (device is '' when nothing is mapped there)."""

    vcpu: int
    device: str
    addr: int
    size: int
    is_write: bool
    value: int


@attrs.frozen
class SbiEvent(Event):
    """An SBI call served by the VMM."""

    vcpu: int
    extension: int
    function: int
    error: int


@attrs.frozen
class HsmEvent(Event):
    """A vCPU changed its SBI HSM state (started, stopped, suspended ...)."""

    vcpu: int
    state: str


@attrs.frozen
class GuestErrorEvent(Event):
    """A guest programming error the VMM counted and survived."""

    vcpu: int
    message: str


@attrs.frozen
class VmExitEvent(Event):
    """A VM ended; ``exit`` is the terminal exit's class name."""

    exit: str
    code: int
    reboot: bool = False  # a reboot: the board boots the VM again


@attrs.frozen
class VmidRolloverEvent(Event):
    """The VMID allocator started a new generation; every pCPU flushes its TLB."""

    generation: int


# ------------------------------------------------------------------ the bus


class Subscription:
    """One observer's bounded queue, and how many events it missed."""

    def __init__(self, kinds: frozenset[type[Event]], maxsize: int) -> None:
        self.kinds = kinds
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.delivered = 0

    def get_nowait(self) -> Event:
        return self.queue.get_nowait()

    async def get(self) -> Event:
        return await self.queue.get()


@attrs.frozen
class EventBusStatistics:
    published: int
    delivered: int
    dropped: int
    subscribers: int


class EventBus:
    """Typed publish/subscribe with bounded, non-blocking delivery."""

    def __init__(self) -> None:
        self._by_kind: dict[type[Event], list[Subscription]] = {}
        self._subs: list[Subscription] = []
        self.published = 0

    def subscribe(
        self, kinds: Iterable[type[Event]] | None = None, *, maxsize: int = 1024
    ) -> Subscription:
        """Queue every event of ``kinds`` (and their subclasses); None = all kinds."""
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        wanted = frozenset(kinds) if kinds is not None else frozenset({Event})
        sub = Subscription(wanted, maxsize)
        self._subs.append(sub)
        self._rebuild()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._rebuild()

    def _rebuild(self) -> None:
        self._by_kind.clear()
        for kind in _all_kinds():
            subs = [s for s in self._subs if any(issubclass(kind, k) for k in s.kinds)]
            if subs:
                self._by_kind[kind] = subs

    def wants(self, kind: type[Event]) -> bool:
        """True when someone subscribed to ``kind``: build the event only then."""
        return kind in self._by_kind

    def publish(self, event: Event) -> None:
        subs = self._by_kind.get(type(event))
        if not subs:
            return
        self.published += 1
        for sub in subs:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped += 1
            else:
                sub.delivered += 1

    def statistics(self) -> EventBusStatistics:
        return EventBusStatistics(
            published=self.published,
            delivered=sum(s.delivered for s in self._subs),
            dropped=sum(s.dropped for s in self._subs),
            subscribers=len(self._subs),
        )


def _all_kinds() -> list[type[Event]]:
    out: list[type[Event]] = []
    todo: list[type[Event]] = [Event]
    while todo:
        kind = todo.pop()
        out.append(kind)
        todo.extend(kind.__subclasses__())
    return out
