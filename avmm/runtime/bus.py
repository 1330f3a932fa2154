"""The MMIO bus of one VM: device models found by guest-physical address.

Devices are registered at (base, size); an overlap is a host error raised at
build time naming both devices. Lookup is a bisect over the sorted bases.
Accesses are checked (width 1/2/4/8, inside the device's range); a guest
access that fails a check or hits no device is counted, logged rate-limited
(QEMU's LOG_GUEST_ERROR) and answered like an empty bus (reads all-ones), as
Firecracker and cloud-hypervisor do. Device models answer synchronously.
"""

from __future__ import annotations

import bisect

import attrs

from avmm.devices.base import GuestErrorLog, MmioDevice
from avmm.errors import ConfigError

_WIDTHS = (1, 2, 4, 8)


def all_ones(size: int) -> int:
    """What a read from nothing returns: every bit of the access set."""
    return (1 << (8 * size)) - 1


@attrs.define
class DeviceCounters:
    """Plain-int counters of one device on the bus (read when scraped)."""

    reads: int = 0
    writes: int = 0
    bad_accesses: int = 0  # wrong width or straddling the device's end


@attrs.frozen
class DeviceStatistics:
    name: str
    base: int
    size: int
    reads: int
    writes: int
    bad_accesses: int


@attrs.frozen
class BusStatistics:
    devices: tuple[DeviceStatistics, ...]
    unmapped_reads: int
    unmapped_writes: int


class _Mapping:
    __slots__ = ("base", "counters", "device", "end", "name")

    def __init__(self, base: int, device: MmioDevice, name: str) -> None:
        self.base = base
        self.end = base + device.size
        self.device = device
        self.name = name
        self.counters = DeviceCounters()


class MmioBus:
    """Routes guest MMIO accesses to device models by address."""

    def __init__(self, owner: str = "vm") -> None:
        self._bases: list[int] = []
        self._maps: list[_Mapping] = []
        self._last: _Mapping | None = None
        self.unmapped_reads = 0
        self.unmapped_writes = 0
        self.guest_error = GuestErrorLog(f"{owner}: mmio bus")

    def register(self, base: int, device: MmioDevice, *, name: str | None = None) -> None:
        """Map ``device`` at ``base``; raise :class:`ConfigError` on any overlap."""
        label = name or device.name
        if base < 0 or device.size <= 0 or base + device.size > 1 << 64:
            raise ConfigError(
                f"devices.{label}",
                f"range {base:#x}+{device.size:#x} is not a valid guest-physical range",
            )
        end = base + device.size
        i = bisect.bisect_right(self._bases, base)
        for other in self._maps[max(0, i - 1) : i + 1]:
            if base < other.end and other.base < end:
                raise ConfigError(
                    f"devices.{label}",
                    f"{label} at {base:#x}..{end:#x} overlaps "
                    f"{other.name} at {other.base:#x}..{other.end:#x}",
                )
        self._bases.insert(i, base)
        self._maps.insert(i, _Mapping(base, device, label))

    def find(self, addr: int) -> tuple[int, MmioDevice] | None:
        """(base, device) of the device whose range holds ``addr``."""
        m = self._lookup(addr)
        return None if m is None else (m.base, m.device)

    def _lookup(self, addr: int) -> _Mapping | None:
        last = self._last
        if last is not None and last.base <= addr < last.end:
            return last  # guests poll one device at a time
        i = bisect.bisect_right(self._bases, addr) - 1
        if i >= 0:
            m = self._maps[i]
            if addr < m.end:
                self._last = m
                return m
        return None

    def device_name(self, addr: int) -> str:
        m = self._lookup(addr)
        return "" if m is None else m.name

    def read(self, addr: int, size: int) -> int | None:
        """Value of a guest load, or None when nothing is mapped at ``addr``."""
        m = self._lookup(addr)
        if m is None:
            self.unmapped_reads += 1
            return None
        if size not in _WIDTHS or addr + size > m.end:
            m.counters.bad_accesses += 1
            self.guest_error(
                f"{m.name}:read:{size}",
                f"{size}-byte read at {m.name}+{addr - m.base:#x} crosses or misfits the device",
            )
            return all_ones(size if size in _WIDTHS else 8)
        m.counters.reads += 1
        return m.device.read(addr - m.base, size) & all_ones(size)

    def write(self, addr: int, size: int, value: int) -> bool:
        """Deliver a guest store; False when nothing is mapped at ``addr``."""
        m = self._lookup(addr)
        if m is None:
            self.unmapped_writes += 1
            return False
        if size not in _WIDTHS or addr + size > m.end:
            m.counters.bad_accesses += 1
            self.guest_error(
                f"{m.name}:write:{size}",
                f"{size}-byte write of {value:#x} at {m.name}+{addr - m.base:#x} "
                "crosses or misfits the device",
            )
            return True
        m.counters.writes += 1
        m.device.write(addr - m.base, size, value & all_ones(size))
        return True

    @property
    def devices(self) -> tuple[tuple[int, MmioDevice, str], ...]:
        """(base, device, name) of every mapping, by address."""
        return tuple((m.base, m.device, m.name) for m in self._maps)

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            devices=tuple(
                DeviceStatistics(
                    name=m.name,
                    base=m.base,
                    size=m.end - m.base,
                    reads=m.counters.reads,
                    writes=m.counters.writes,
                    bad_accesses=m.counters.bad_accesses,
                )
                for m in self._maps
            ),
            unmapped_reads=self.unmapped_reads,
            unmapped_writes=self.unmapped_writes,
        )
