"""Split virtqueues: indirect descriptors, EVENT_IDX, and hostile rings contained."""

from __future__ import annotations

import logging
import struct

import pytest
from devfakes import FakeIrq
from vdriver import (
    DESC_INDIRECT,
    DESC_NEXT,
    DESC_WRITE,
    F_EVENT_IDX,
    F_INDIRECT,
    F_VERSION_1,
    NEEDS_RESET,
    RAM_BASE,
    RAM_SIZE,
    Driver,
    DriverQueue,
    Ram,
)

from avmm.devices.virtio import VirtioMmio, VirtioRng
from avmm.devices.virtio.queue import need_event

MODERN = 1 << F_VERSION_1


def make(features: int = MODERN | (1 << F_INDIRECT)) -> tuple[Driver, DriverQueue, FakeIrq]:
    ram, irq = Ram(), FakeIrq()
    dev = VirtioMmio(VirtioRng(lambda n: bytes([0xAB]) * n), ram.memory, irq)
    drv = Driver(dev, ram, irq)
    (q,) = drv.start(features, size=16)
    return drv, q, irq


def test_need_event_follows_the_spec_with_wraparound() -> None:
    assert need_event(5, 6, 5)
    assert not need_event(7, 6, 5)
    assert need_event(0xFFFF, 1, 0xFFFE)


def test_chained_writable_buffers_are_filled_in_order() -> None:
    _, q, _ = make()
    head = q.add([], [3, 5])
    q.kick()
    assert q.used_entries() == [(head, 8)]
    assert q.written(head) == b"\xab" * 8


def test_indirect_table_is_followed() -> None:
    _, q, _ = make()
    head = q.add([], [4, 4, 4], indirect=True)
    q.kick()
    assert q.used_entries() == [(head, 12)]
    assert q.written(head) == b"\xab" * 12


def test_event_idx_suppresses_interrupts_until_used_event() -> None:
    _, q, irq = make(MODERN | (1 << F_EVENT_IDX))
    q.set_used_event(2)  # "interrupt me when used index passes 2"
    for expected_level in (False, False, True):
        q.add([], [1])
        q.kick()
        assert len(q.used_entries()) == 1
        assert irq.level is expected_level
    assert q.avail_event() == 3  # the device asks to be kicked for the next entry


def test_no_interrupt_flag_suppresses_interrupts_without_event_idx() -> None:
    _, q, irq = make()
    q.set_no_interrupt(True)
    q.add([], [1])
    q.kick()
    assert q.used_entries()
    assert not irq.level


def expect_needs_reset(
    drv: Driver, q: DriverQueue, irq: FakeIrq, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        q.kick()
    assert drv.status & NEEDS_RESET
    assert drv.read(0x60) & 2  # config-change interrupt
    assert irq.level
    assert "virtio-rng" in caplog.text and problem in caplog.text
    assert not q.used_entries()
    # The queue stays stopped: a good chain after the bad one is not processed.
    q.add([], [1])
    q.kick()
    assert not q.used_entries()
    # ...until the guest resets the device.
    drv2_queues = drv.start(1 << F_VERSION_1, size=16)
    fresh = drv2_queues[0]
    fresh.add([], [2])
    fresh.kick()
    assert fresh.used_entries() == [(0, 2)]


def test_looping_chain_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    buf = drv.ram.alloc(8)
    q.write_desc(q.desc, 0, buf, 8, DESC_WRITE | DESC_NEXT, 1)
    q.write_desc(q.desc, 1, buf, 8, DESC_WRITE | DESC_NEXT, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "longer than the queue size")


def test_buffer_past_the_end_of_ram_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    q.write_desc(q.desc, 0, RAM_BASE + RAM_SIZE - 4, 8, DESC_WRITE, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "outside RAM")


def test_huge_length_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    q.write_desc(q.desc, 0, RAM_BASE, 0xFFFF_FFFF, DESC_WRITE, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "outside RAM")


def test_head_index_out_of_range_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    q.publish(16)
    expect_needs_reset(drv, q, irq, caplog, "out of range")


def test_next_index_out_of_range_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    q.write_desc(q.desc, 0, drv.ram.alloc(4), 4, DESC_WRITE | DESC_NEXT, 999)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "out of range")


def test_available_index_running_ahead_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    drv.mem.write_u16(q.avail + 2, 17)  # 17 new entries in a 16-entry ring
    expect_needs_reset(drv, q, irq, caplog, "ahead")


def test_indirect_inside_indirect_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    inner = drv.ram.alloc(16)
    q.write_desc(inner, 0, drv.ram.alloc(4), 4, DESC_WRITE, 0)
    outer = drv.ram.alloc(16)
    q.write_desc(outer, 0, inner, 16, DESC_INDIRECT, 0)
    q.write_desc(q.desc, 0, outer, 16, DESC_INDIRECT, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "indirect descriptor inside an indirect table")


def test_indirect_without_negotiation_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make(MODERN)
    table = drv.ram.alloc(16)
    q.write_desc(table, 0, drv.ram.alloc(4), 4, DESC_WRITE, 0)
    q.write_desc(q.desc, 0, table, 16, DESC_INDIRECT, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "not negotiated")


def test_indirect_table_looping_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    table = drv.ram.alloc(32)
    buf = drv.ram.alloc(4)
    q.write_desc(table, 0, buf, 4, DESC_WRITE | DESC_NEXT, 1)
    q.write_desc(table, 1, buf, 4, DESC_WRITE | DESC_NEXT, 0)
    q.write_desc(q.desc, 0, table, 32, DESC_INDIRECT, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "longer than the queue size")


def test_readable_after_writable_needs_reset(caplog: pytest.LogCaptureFixture) -> None:
    drv, q, irq = make()
    q.write_desc(q.desc, 0, drv.ram.alloc(4), 4, DESC_WRITE | DESC_NEXT, 1)
    q.write_desc(q.desc, 1, drv.ram.alloc(4), 4, 0, 0)
    q.publish(0)
    expect_needs_reset(drv, q, irq, caplog, "device-readable buffer after")


def test_used_ring_entry_layout_is_id_then_length() -> None:
    drv, q, _ = make()
    head = q.add([], [7])
    q.kick()
    raw = drv.mem.read(q.used + 4, 8)
    assert struct.unpack("<II", raw) == (head, 7)
    assert drv.mem.read_u16(q.used + 2) == 1
