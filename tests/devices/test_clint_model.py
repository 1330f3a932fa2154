"""The Python CLINT: msip lines, mtimecmp deadlines, read-only mtime."""

from __future__ import annotations

import logging

import msgpack
import pytest
from devfakes import FakeClock, FakeIrq, FakeTimer

from avmm.devices.clint import Clint


def make(harts: int = 2, now: int = 0) -> tuple[Clint, list[FakeIrq], list[FakeTimer], FakeClock]:
    msip = [FakeIrq() for _ in range(harts)]
    timers = [FakeTimer() for _ in range(harts)]
    clock = FakeClock(now)
    return Clint(msip, timers, clock), msip, timers, clock


def test_msip_write_drives_that_harts_software_interrupt_line() -> None:
    clint, msip, _, _ = make(3)
    clint.write(4 * 2, 4, 1)
    assert [m.level for m in msip] == [False, False, True]
    assert clint.read(4 * 2, 4) == 1
    clint.write(4 * 2, 4, 0xFFFF_FFFE)  # only bit 0 counts
    assert not msip[2].level
    assert clint.read(8, 4) == 0
    assert clint.stats.ipis == 1


def test_mtimecmp_64_bit_write_sets_the_timer_deadline() -> None:
    clint, _, timers, _ = make()
    clint.write(0x4000 + 8, 8, 123_456_789_000)
    assert timers[1].deadlines == [123_456_789_000]
    assert timers[0].deadlines == []
    assert clint.read(0x4008, 8) == 123_456_789_000


def test_mtimecmp_halves_each_update_the_deadline() -> None:
    """RV32-style update: low word to all-ones first, then high, then low."""
    clint, _, timers, _ = make(1)
    clint.write(0x4000, 4, 0xFFFF_FFFF)
    clint.write(0x4004, 4, 0x2)
    clint.write(0x4000, 4, 0x10)
    assert timers[0].deadlines[-1] == 0x2_0000_0010
    assert len(timers[0].deadlines) == 3
    assert clint.read(0x4004, 4) == 2
    assert clint.read(0x4000, 4) == 0x10


def test_mtime_reads_the_guest_clock_and_ignores_writes(caplog: pytest.LogCaptureFixture) -> None:
    clint, _, _, clock = make(now=0x1_2345_6789)
    assert clint.read(0xBFF8, 8) == 0x1_2345_6789
    clock.ticks += 10
    assert clint.read(0xBFF8, 4) == 0x2345_6793
    assert clint.read(0xBFFC, 4) == 1
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        clint.write(0xBFF8, 8, 0)
    assert clint.read(0xBFF8, 8) == 0x1_2345_6793
    assert clint.stats.guest_errors == 1
    assert "mtime" in caplog.text


def test_accesses_beyond_the_harts_or_misaligned_are_guest_errors() -> None:
    clint, msip, timers, _ = make(2)
    assert clint.read(4 * 5, 4) == 0
    clint.write(4 * 5, 4, 1)
    clint.write(0x4000 + 8 * 2, 8, 5)
    clint.write(0x4002, 4, 5)
    clint.write(0, 8, 1)
    assert not any(m.history for m in msip)
    assert not any(t.deadlines for t in timers)
    assert clint.stats.guest_errors == 5


def test_state_round_trips_and_redrives_lines() -> None:
    clint, _, _, _ = make(2)
    clint.write(4, 4, 1)
    clint.write(0x4000, 8, 99)
    state = msgpack.unpackb(msgpack.packb(clint.state()))
    copy, msip, timers, _ = make(2)
    copy.restore(state)
    assert copy.state() == clint.state()
    assert msip[1].level and not msip[0].level
    assert timers[0].deadlines == [99]
