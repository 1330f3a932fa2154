"""The MMIO bus: routing by address, build-time overlap errors, counted guest mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from avmm.errors import ConfigError
from avmm.runtime.bus import MmioBus, all_ones


class Reg:
    """A device with one 64-bit register per 8 bytes that records accesses."""

    def __init__(self, name: str, size: int = 0x100) -> None:
        self.name = name
        self.size = size
        self.regs: dict[int, int] = {}
        self.log: list[tuple[str, int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        self.log.append(("r", offset, size, 0))
        return self.regs.get(offset, 0x1122334455667788)

    def write(self, offset: int, size: int, value: int) -> None:
        self.log.append(("w", offset, size, value))
        self.regs[offset] = value

    def state(self) -> dict[str, Any]:
        return {"regs": dict(self.regs)}

    def restore(self, state: dict[str, Any]) -> None:
        self.regs = dict(state["regs"])


def test_accesses_reach_the_device_at_offsets_from_its_base() -> None:
    bus = MmioBus()
    uart, rtc = Reg("uart"), Reg("rtc")
    bus.register(0x1000_0000, uart)
    bus.register(0x0010_1000, rtc)
    assert bus.write(0x1000_0008, 4, 0xAB)
    assert uart.log == [("w", 8, 4, 0xAB)]
    assert bus.read(0x1000_0008, 4) == 0xAB
    assert bus.read(0x0010_10F8, 8) == 0x1122334455667788
    assert rtc.log == [("r", 0xF8, 8, 0)]


def test_read_is_truncated_to_the_access_width() -> None:
    bus = MmioBus()
    bus.register(0x2000, Reg("dev"))
    assert bus.read(0x2000, 2) == 0x7788
    assert bus.read(0x2000, 1) == 0x88


def test_unmapped_addresses_are_counted_not_fatal() -> None:
    bus = MmioBus()
    bus.register(0x1000, Reg("dev"))
    assert bus.read(0x0FFF, 4) is None
    assert bus.read(0x1100, 4) is None  # one past the end
    assert bus.write(0x9000, 4, 1) is False
    stats = bus.statistics()
    assert (stats.unmapped_reads, stats.unmapped_writes) == (2, 1)


def test_bad_width_or_straddling_access_reads_all_ones_and_is_counted() -> None:
    bus = MmioBus()
    dev = Reg("dev", size=0x10)
    bus.register(0x1000, dev)
    assert bus.read(0x100C, 8) == all_ones(8)  # crosses the device's end
    assert bus.read(0x1000, 3) == all_ones(8)
    assert bus.write(0x100C, 8, 5)  # taken by the device's range, but dropped
    assert dev.log == []
    (stats,) = bus.statistics().devices
    assert stats.bad_accesses == 3
    assert bus.guest_error.count == 3


def test_per_device_counters() -> None:
    bus = MmioBus()
    bus.register(0x1000, Reg("a"))
    bus.register(0x2000, Reg("b"))
    for _ in range(3):
        bus.read(0x1000, 4)
    bus.write(0x2004, 4, 1)
    a, b = bus.statistics().devices
    assert (a.name, a.reads, a.writes) == ("a", 3, 0)
    assert (b.name, b.reads, b.writes) == ("b", 0, 1)


@pytest.mark.parametrize("base", [0x1000, 0x10F0, 0x0F80, 0x0F00 - 0x80 + 0x100])
def test_overlapping_devices_are_a_build_error_naming_both(base: int) -> None:
    bus = MmioBus()
    bus.register(0x1000, Reg("uart"))
    with pytest.raises(ConfigError) as info:
        bus.register(base, Reg("virtio0"))
    message = str(info.value)
    assert "virtio0" in message and "uart" in message and "overlaps" in message


def test_adjacent_devices_do_not_overlap() -> None:
    bus = MmioBus()
    bus.register(0x1000, Reg("a"))
    bus.register(0x1100, Reg("b"))
    bus.register(0x0F00, Reg("c"))
    assert [name for _, _, name in bus.devices] == ["c", "a", "b"]
    assert bus.device_name(0x10FF) == "a"
    assert bus.device_name(0x1100) == "b"
    assert bus.device_name(0x0EFF) == ""


def test_many_devices_route_by_bisect() -> None:
    bus = MmioBus()
    devs = [Reg(f"virtio{i}", 0x1000) for i in range(8)]
    for i, d in enumerate(reversed(devs)):
        bus.register(0x1000_1000 + (7 - i) * 0x1000, d)
    for i, d in enumerate(devs):
        bus.write(0x1000_1000 + i * 0x1000 + 0x50, 4, i)
        assert d.regs == {0x50: i}
