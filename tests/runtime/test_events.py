"""The event bus: typed delivery, bounded queues that drop (and count) instead of blocking."""

from __future__ import annotations

import attrs
import pytest

from avmm.runtime.events import (
    Event,
    EventBus,
    ExitEvent,
    HsmEvent,
    MmioEvent,
    VmidRolloverEvent,
)


def exit_event(n: int = 0) -> ExitEvent:
    return ExitEvent("vm0", n, "wfi", 0x8000_0000)


async def test_subscriber_gets_only_the_kinds_it_asked_for() -> None:
    bus = EventBus()
    sub = bus.subscribe([ExitEvent])
    bus.publish(exit_event())
    bus.publish(HsmEvent("vm0", 1, "started"))
    assert sub.get_nowait() == exit_event()
    assert sub.queue.empty()


async def test_subscribing_to_the_base_kind_gets_everything() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish(exit_event())
    bus.publish(VmidRolloverEvent("", 2))
    assert [type(sub.get_nowait()) for _ in range(2)] == [ExitEvent, VmidRolloverEvent]


async def test_full_queue_drops_and_counts_without_blocking() -> None:
    bus = EventBus()
    slow = bus.subscribe([ExitEvent], maxsize=2)
    fast = bus.subscribe([ExitEvent], maxsize=100)
    for i in range(5):
        bus.publish(exit_event(i))  # must return at once even though `slow` is full
    assert slow.dropped == 3
    assert slow.delivered == 2
    assert fast.dropped == 0
    assert [slow.get_nowait().vcpu for _ in range(2)] == [0, 1]  # type: ignore[attr-defined]
    stats = bus.statistics()
    assert (stats.published, stats.delivered, stats.dropped) == (5, 7, 3)


async def test_nobody_listening_means_nothing_is_wanted_or_counted() -> None:
    bus = EventBus()
    assert not bus.wants(ExitEvent)
    bus.publish(exit_event())
    assert bus.statistics().published == 0
    sub = bus.subscribe([MmioEvent])
    assert bus.wants(MmioEvent) and not bus.wants(ExitEvent)
    bus.unsubscribe(sub)
    assert not bus.wants(MmioEvent)


async def test_async_get_waits_for_the_next_event() -> None:
    bus = EventBus()
    sub = bus.subscribe([Event])
    bus.publish(HsmEvent("vm0", 3, "stopped"))
    event = await sub.get()
    assert event == HsmEvent("vm0", 3, "stopped")


def test_events_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        exit_event().vcpu = 5  # type: ignore[misc]
