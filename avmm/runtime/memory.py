"""Memory slots: guest-physical RAM ranges of a VM, with dirty logs.

A slot is backed by lazily committed host memory (the core maps it with
``MAP_NORESERVE``), so guest pages that are never touched cost nothing. With
dirty logging on, every guest store and every device DMA write marks its
4 KiB page; :meth:`MemorySlot.get_dirty_log` reads (and by default clears)
the bitmap, as ``KVM_GET_DIRTY_LOG`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import attrs

from avmm import _core
from avmm.constants import PAGE_SIZE
from avmm.errors import ConfigError
from avmm.runtime.guestmem import GuestMemory, Region


@attrs.frozen
class SlotStatistics:
    index: int
    base: int
    size: int
    dirty_logging: bool


class MemorySlot:
    """One guest RAM range of a VM (KVM's ``kvm_userspace_memory_region``)."""

    def __init__(self, slot: _core.RamSlot) -> None:
        self._slot = slot
        self._view: memoryview | None = None

    @property
    def index(self) -> int:
        return self._slot.index

    @property
    def base(self) -> int:
        return self._slot.base

    @property
    def size(self) -> int:
        return self._slot.size

    @property
    def end(self) -> int:
        return self._slot.base + self._slot.size

    @property
    def dirty_logging(self) -> bool:
        return self._slot.dirty_logging

    @dirty_logging.setter
    def dirty_logging(self, on: bool) -> None:
        self._slot.dirty_logging = on

    def get_dirty_log(self, clear: bool = True) -> bytes:
        """One bit per page: page n is bit ``n % 8`` of byte ``n // 8``."""
        return self._slot.get_dirty_log(clear)

    def dirty_pages(self, clear: bool = True) -> list[int]:
        """Guest-physical addresses of the dirty pages."""
        log = self.get_dirty_log(clear)
        return [
            self.base + (i * 8 + bit) * PAGE_SIZE
            for i, byte in enumerate(log)
            if byte
            for bit in range(8)
            if byte >> bit & 1
        ]

    def view(self) -> memoryview:
        """A writable zero-copy view of the whole slot."""
        if self._view is None:
            # RamSlot implements the buffer protocol (the .pyi cannot say so on 3.11).
            self._view = memoryview(self._slot)
        return self._view

    def mark_dirty(self, offset: int, length: int) -> None:
        self._slot.mark_dirty(offset, length)

    def region(self) -> Region:
        """This slot as a :class:`~avmm.runtime.guestmem.Region` for device DMA."""
        return Region(self.base, self.view(), self._slot.mark_dirty)

    def statistics(self) -> SlotStatistics:
        return SlotStatistics(self.index, self.base, self.size, self.dirty_logging)


class SlotRange(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def base(self) -> int: ...

    @property
    def end(self) -> int: ...


def check_slot(base: int, size: int, existing: Iterable[SlotRange], where: str) -> None:
    """Reject a slot that is misaligned, empty or overlaps another, before the core sees it."""
    if base < 0 or size <= 0:
        raise ConfigError(where, f"base {base:#x} and size {size:#x} must be positive")
    if base % PAGE_SIZE or size % PAGE_SIZE:
        raise ConfigError(where, f"{base:#x}+{size:#x} is not 4 KiB aligned")
    if base + size > 1 << 64:
        raise ConfigError(where, f"{base:#x}+{size:#x} is beyond the 64-bit address space")
    for slot in existing:
        if base < slot.end and slot.base < base + size:
            raise ConfigError(
                where,
                f"{base:#x}..{base + size:#x} overlaps memory slot {slot.index} "
                f"at {slot.base:#x}..{slot.end:#x}",
            )


def guest_memory(slots: Iterable[MemorySlot]) -> GuestMemory:
    return GuestMemory([s.region() for s in slots])
