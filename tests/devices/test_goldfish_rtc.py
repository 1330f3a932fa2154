"""Goldfish RTC as Linux's rtc-goldfish driver uses it; alarms driven by poll()."""

from __future__ import annotations

import msgpack
from devfakes import FakeIrq, FakeWall

from avmm.devices.rtc import GoldfishRtc

TIME_LOW, TIME_HIGH, ALARM_LOW, ALARM_HIGH = 0x00, 0x04, 0x08, 0x0C
IRQ_ENABLED, CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT = 0x10, 0x14, 0x18, 0x1C
EPOCH = 1_700_000_000 * 10**9


def make(ns: int = EPOCH) -> tuple[GoldfishRtc, FakeIrq, FakeWall, list[int | None]]:
    irq, wall = FakeIrq(), FakeWall(ns)
    deadlines: list[int | None] = []
    return GoldfishRtc(irq, wall, on_deadline=deadlines.append), irq, wall, deadlines


def read_time(rtc: GoldfishRtc) -> int:
    low = rtc.read(TIME_LOW, 4)
    high = rtc.read(TIME_HIGH, 4)
    return high << 32 | low


def set_alarm(rtc: GoldfishRtc, ns: int) -> None:
    rtc.write(ALARM_HIGH, 4, ns >> 32)
    rtc.write(ALARM_LOW, 4, ns & 0xFFFF_FFFF)
    rtc.write(IRQ_ENABLED, 4, 1)


def test_read_time_returns_wall_clock_nanoseconds() -> None:
    rtc, _, _, _ = make()
    assert read_time(rtc) == EPOCH


def test_reading_low_latches_high_for_a_consistent_pair() -> None:
    rtc, _, wall, _ = make(0x1_FFFF_FFFF)
    low = rtc.read(TIME_LOW, 4)
    wall.ns += 1  # the low word wraps before the driver reads the high word
    assert (rtc.read(TIME_HIGH, 4) << 32 | low) == 0x1_FFFF_FFFF


def test_set_time_moves_the_guest_clock_only() -> None:
    rtc, _, wall, _ = make()
    target = EPOCH + 3600 * 10**9
    rtc.write(TIME_HIGH, 4, target >> 32)
    rtc.write(TIME_LOW, 4, target & 0xFFFF_FFFF)
    assert read_time(rtc) == target
    wall.ns += 5
    assert read_time(rtc) == target + 5
    assert wall.ns == EPOCH + 5


def test_alarm_reports_its_deadline_and_fires_on_poll() -> None:
    rtc, irq, wall, deadlines = make()
    set_alarm(rtc, EPOCH + 2 * 10**9)
    assert rtc.next_alarm_ns() == EPOCH + 2 * 10**9
    assert deadlines[-1] == EPOCH + 2 * 10**9
    assert rtc.read(ALARM_STATUS, 4) == 1
    assert rtc.read(ALARM_HIGH, 4) << 32 | rtc.read(ALARM_LOW, 4) == EPOCH + 2 * 10**9
    wall.ns += 10**9
    rtc.poll()
    assert not irq.level
    wall.ns += 10**9
    rtc.poll()
    assert irq.level
    assert rtc.read(ALARM_STATUS, 4) == 0
    assert rtc.next_alarm_ns() is None and deadlines[-1] is None
    rtc.write(CLEAR_INTERRUPT, 4, 1)  # the driver's interrupt handler
    assert not irq.level
    assert rtc.stats.alarms_fired == 1


def test_alarm_deadline_follows_a_changed_guest_time() -> None:
    rtc, _, _, deadlines = make()
    set_alarm(rtc, EPOCH + 10 * 10**9)
    ahead = EPOCH + 4 * 10**9
    rtc.write(TIME_HIGH, 4, ahead >> 32)
    rtc.write(TIME_LOW, 4, ahead & 0xFFFF_FFFF)
    assert rtc.next_alarm_ns() == EPOCH + 6 * 10**9
    assert deadlines[-1] == EPOCH + 6 * 10**9


def test_alarm_in_the_past_fires_at_once() -> None:
    rtc, irq, _, _ = make()
    set_alarm(rtc, EPOCH - 1)
    assert irq.level


def test_disabled_irq_keeps_the_line_low_until_enabled() -> None:
    rtc, irq, wall, _ = make()
    rtc.write(ALARM_HIGH, 4, (EPOCH + 1) >> 32)
    rtc.write(ALARM_LOW, 4, (EPOCH + 1) & 0xFFFF_FFFF)
    wall.ns += 1
    rtc.poll()
    assert not irq.level
    rtc.write(IRQ_ENABLED, 4, 1)
    assert irq.level


def test_cancelled_alarm_never_fires() -> None:
    rtc, irq, wall, deadlines = make()
    set_alarm(rtc, EPOCH + 100)
    assert rtc.read(ALARM_STATUS, 4) == 1
    rtc.write(CLEAR_ALARM, 4, 1)
    assert deadlines[-1] is None
    wall.ns += 1000
    rtc.poll()
    assert not irq.level


def test_reset_drops_the_alarm_and_interrupt_but_keeps_time() -> None:
    rtc, irq, _, deadlines = make()
    target = EPOCH + 10**12
    rtc.write(TIME_HIGH, 4, target >> 32)
    rtc.write(TIME_LOW, 4, target & 0xFFFF_FFFF)
    set_alarm(rtc, target - 1)
    assert irq.level
    set_alarm(rtc, target + 10**9)
    rtc.reset()
    assert not irq.level
    assert rtc.next_alarm_ns() is None and deadlines[-1] is None
    assert read_time(rtc) == target


def test_bad_accesses_are_counted() -> None:
    rtc, _, _, _ = make()
    assert rtc.read(0x20, 4) == 0
    assert rtc.read(TIME_LOW, 8) == 0
    rtc.write(ALARM_STATUS, 4, 1)
    assert rtc.stats.guest_errors == 3


def test_state_round_trips_through_msgpack() -> None:
    rtc, _, _, _ = make()
    rtc.write(TIME_HIGH, 4, 7)
    set_alarm(rtc, EPOCH * 3)
    state = msgpack.unpackb(msgpack.packb(rtc.state()))
    copy, irq, _, deadlines = make()
    copy.restore(state)
    assert copy.state() == rtc.state()
    assert read_time(copy) == read_time(rtc)
    assert deadlines == [rtc.next_alarm_ns()]
    assert not irq.level
