"""Guest-physical memory as device models see it: bounds-checked, zero-copy.

A :class:`GuestMemory` is a list of RAM regions, each a writable buffer
(``memoryview`` of a core :class:`~avmm._core.RamSlot`, or a ``bytearray`` in
unit tests) at a guest-physical base. Every access is checked against the
regions; a range that is not entirely inside one region raises
:class:`~avmm.errors.GuestMemoryError`, which device models turn into a
guest error (a failed virtio device), never a host crash.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import attrs

from avmm.errors import GuestMemoryError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@attrs.define(frozen=True)
class Region:
    base: int
    view: memoryview
    # Called with (offset, length) after a host write, for dirty logging.
    on_write: Callable[[int, int], None] | None = None

    @property
    def end(self) -> int:
        return self.base + len(self.view)


class Window:
    """A range of guest RAM checked once, for a record the host rewrites often
    (a vCPU's steal-time record, its para-state page): writes go straight into
    :attr:`view`, then :meth:`wrote` logs them dirty. RAM regions never move or
    shrink while a VM lives, so the check holds as long as the window does."""

    __slots__ = ("_off", "_on_write", "addr", "view")

    def __init__(
        self, addr: int, view: memoryview, off: int, on_write: Callable[[int, int], None] | None
    ) -> None:
        self.addr = addr
        self.view = view
        self._off = off
        self._on_write = on_write

    def wrote(self) -> None:
        """Record a host write into the window (dirty logging)."""
        if self._on_write is not None:
            self._on_write(self._off, len(self.view))


class GuestMemory:
    """Bounds-checked access to guest-physical RAM."""

    def __init__(self, regions: list[Region] | None = None) -> None:
        self._regions: list[Region] = []
        for region in regions or []:
            self.add(region)

    @classmethod
    def from_bytes(cls, base: int, buf: bytearray) -> GuestMemory:
        """A single region backed by ``buf`` (for tests and tools)."""
        return cls([Region(base, memoryview(buf))])

    def add(self, region: Region) -> None:
        for other in self._regions:
            if region.base < other.end and other.base < region.end:
                raise ValueError(
                    f"RAM region {region.base:#x}..{region.end:#x} overlaps "
                    f"{other.base:#x}..{other.end:#x}"
                )
        self._regions.append(region)
        self._regions.sort(key=lambda r: r.base)

    @property
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._regions)

    def _find(self, addr: int, length: int) -> tuple[Region, int]:
        if length < 0 or addr < 0:
            raise GuestMemoryError(addr, length)
        for region in self._regions:
            if region.base <= addr and addr + length <= region.end:
                return region, addr - region.base
        raise GuestMemoryError(addr, length)

    def contains(self, addr: int, length: int) -> bool:
        try:
            self._find(addr, length)
        except GuestMemoryError:
            return False
        return True

    def view(self, addr: int, length: int) -> memoryview:
        """A zero-copy writable view; callers that write must call :meth:`wrote`."""
        region, off = self._find(addr, length)
        return region.view[off : off + length]

    def window(self, addr: int, length: int) -> Window:
        """:meth:`view` of ``length`` bytes at ``addr`` kept with its dirty logging."""
        region, off = self._find(addr, length)
        return Window(addr, region.view[off : off + length], off, region.on_write)

    def wrote(self, addr: int, length: int) -> None:
        """Record a host write through :meth:`view` (dirty logging)."""
        region, off = self._find(addr, length)
        if region.on_write is not None and length:
            region.on_write(off, length)

    def read(self, addr: int, length: int) -> bytes:
        region, off = self._find(addr, length)
        return bytes(region.view[off : off + length])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        length = len(data)
        region, off = self._find(addr, length)
        region.view[off : off + length] = data
        if region.on_write is not None and length:
            region.on_write(off, length)

    def read_u16(self, addr: int) -> int:
        region, off = self._find(addr, 2)
        return int(_U16.unpack_from(region.view, off)[0])

    def read_u32(self, addr: int) -> int:
        region, off = self._find(addr, 4)
        return int(_U32.unpack_from(region.view, off)[0])

    def read_u64(self, addr: int) -> int:
        region, off = self._find(addr, 8)
        return int(_U64.unpack_from(region.view, off)[0])

    def write_u16(self, addr: int, value: int) -> None:
        self.write(addr, _U16.pack(value & 0xFFFF))

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, _U32.pack(value & 0xFFFF_FFFF))

    def write_u64(self, addr: int, value: int) -> None:
        self.write(addr, _U64.pack(value & 0xFFFF_FFFF_FFFF_FFFF))
