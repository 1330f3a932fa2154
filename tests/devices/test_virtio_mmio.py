"""virtio-mmio transport: identification, feature negotiation, queues, interrupts, reset."""

from __future__ import annotations

import logging

import msgpack
import pytest
from devfakes import FakeIrq
from vdriver import (
    ACK,
    DRIVER,
    DRIVER_OK,
    F_EVENT_IDX,
    F_INDIRECT,
    F_VERSION_1,
    FEATURES_OK,
    NEEDS_RESET,
    RAM_BASE,
    RAM_SIZE,
    Driver,
    Ram,
)

from avmm.devices.virtio import VirtioMmio, VirtioRng


def make() -> tuple[Driver, VirtioMmio, FakeIrq]:
    ram, irq = Ram(), FakeIrq()
    dev = VirtioMmio(VirtioRng(lambda n: bytes(n)), ram.memory, irq)
    return Driver(dev, ram, irq), dev, irq


def test_identifies_as_a_modern_qemu_vendor_device() -> None:
    drv, _, _ = make()
    assert drv.read(0x000) == 0x74726976
    assert drv.read(0x004) == 2
    assert drv.read(0x008) == 4  # entropy source
    assert drv.read(0x00C) == 0x554D4551


def test_offers_version_1_indirect_and_event_idx() -> None:
    drv, _, _ = make()
    features = drv.device_features()
    for bit in (F_VERSION_1, F_INDIRECT, F_EVENT_IDX):
        assert features >> bit & 1
    drv.write(0x14, 2)
    assert drv.read(0x10) == 0


def test_features_ok_is_accepted_without_version_1() -> None:
    drv, _, _ = make()
    drv.negotiate(1 << F_INDIRECT)
    assert drv.status & FEATURES_OK


def test_features_ok_is_refused_for_features_never_offered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drv, dev, _ = make()
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        drv.negotiate((1 << F_VERSION_1) | (1 << 40))
    assert not drv.status & FEATURES_OK
    assert dev.stats.guest_errors == 1
    assert "not offered" in caplog.text


def test_queue_registers_describe_only_existing_queues() -> None:
    drv, _, _ = make()
    drv.write(0x30, 0)
    assert drv.read(0x34) == 64
    drv.write(0x30, 1)
    assert drv.read(0x34) == 0
    assert drv.read(0x44) == 0


def test_used_buffer_raises_the_line_until_acknowledged() -> None:
    drv, _, irq = make()
    (q,) = drv.start()
    q.add([], [16])
    q.kick()
    assert irq.level
    assert drv.read(0x60) == 1
    drv.write(0x64, 1)
    assert not irq.level
    assert drv.read(0x60) == 0


def test_reset_clears_status_queues_and_interrupts() -> None:
    drv, dev, irq = make()
    (q,) = drv.start()
    q.add([], [8])
    q.kick()
    assert irq.level
    resets = dev.stats.resets
    drv.write(0x70, 0)
    assert drv.status == 0
    assert not irq.level
    drv.write(0x30, 0)
    assert drv.read(0x44) == 0
    assert dev.stats.resets == resets + 1


def test_ring_outside_ram_at_queue_ready_needs_reset() -> None:
    drv, _, irq = make()
    drv.negotiate()
    drv.write(0x30, 0)
    drv.write(0x38, 16)
    drv.write(0x80, (RAM_BASE + RAM_SIZE) & 0xFFFF_FFFF)
    drv.write(0x84, (RAM_BASE + RAM_SIZE) >> 32)
    drv.write(0x44, 1)
    assert drv.status & NEEDS_RESET
    assert not irq.level  # no config interrupt before DRIVER_OK
    drv.write(0x70, 0)
    assert not drv.status & NEEDS_RESET
    (q,) = drv.start()  # the guest recovers by resetting
    q.add([], [4])
    q.kick()
    assert q.used_entries()


def test_non_power_of_two_queue_size_needs_reset() -> None:
    drv, _, _ = make()
    drv.negotiate()
    drv.setup_queue(0, size=24)
    assert drv.status & NEEDS_RESET


def test_config_change_bumps_generation_and_interrupts() -> None:
    drv, dev, irq = make()
    drv.start()
    before = drv.read(0xFC)
    dev.config_changed()
    assert drv.read(0xFC) == before + 1
    assert drv.read(0x60) == 2
    assert irq.level


def test_driver_ok_kicks_buffers_made_available_before_it() -> None:
    drv, _, _ = make()
    drv.negotiate()
    q = drv.setup_queue(0)
    q.add([], [8])
    q.kick()  # ignored: the driver is not ready yet
    assert not q.used_entries()
    drv.write(0x70, ACK | DRIVER | FEATURES_OK | DRIVER_OK)
    assert q.used_entries() == [(0, 8)]


def test_wrong_width_and_unknown_registers_are_guest_errors() -> None:
    _, dev, _ = make()
    assert dev.read(0x00, 2) == 0
    assert dev.read(0x28, 4) == 0  # legacy GuestPageSize
    dev.write(0x40, 4, 1)  # legacy QueuePFN
    assert dev.read(0x100, 4) == 0  # rng has no config space
    assert dev.stats.guest_errors == 4


def test_state_round_trips_through_msgpack() -> None:
    drv, dev, _ = make()
    (q,) = drv.start()
    q.add([], [8])
    q.kick()
    state = msgpack.unpackb(msgpack.packb(dev.state()))
    irq = FakeIrq()
    copy = VirtioMmio(VirtioRng(lambda n: bytes(n)), drv.mem, irq)
    copy.restore(state)
    assert copy.state() == dev.state()
    assert irq.level
    # The restored device carries on where the original stopped.
    q.drv = Driver(copy, drv.ram, irq)
    q.add([], [4])
    q.kick()
    assert [head for head, _ in q.used_entries()] == [0, 1]
