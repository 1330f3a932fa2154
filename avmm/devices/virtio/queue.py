"""Split virtqueues (virtio 1.x section 2.7), device side.

A :class:`Virtqueue` reads descriptor chains the driver made available and
returns them as :class:`Chain` objects (lists of guest-physical segments, the
device-readable ones first), and puts finished chains on the used ring.
Everything in the rings is guest-controlled, so every index, length and
address is checked before it is used; a ring that breaks the rules raises
:class:`VirtqueueError` with a one-line description, and the transport turns
that into DEVICE_NEEDS_RESET. Chains are bounded by the queue size (direct and
indirect descriptors together), which also stops loops.

Supported: indirect descriptors (``VIRTIO_RING_F_INDIRECT_DESC``) and
``VIRTIO_RING_F_EVENT_IDX`` notification suppression.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import attrs

from ..base import GuestRam

DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4
AVAIL_F_NO_INTERRUPT = 1
DESC_SIZE = 16
MAX_QUEUE_SIZE = 32768  # the spec's limit for split queues

_DESC = struct.Struct("<QIHH")


class VirtqueueError(Exception):
    """The driver broke the ring rules; ``str()`` is the one-line problem."""


@attrs.frozen
class Chain:
    """One available descriptor chain: ``head`` and its segments as (addr, len)."""

    head: int
    readable: tuple[tuple[int, int], ...]
    writable: tuple[tuple[int, int], ...]

    @property
    def readable_len(self) -> int:
        return sum(n for _, n in self.readable)

    @property
    def writable_len(self) -> int:
        return sum(n for _, n in self.writable)

    def read(self, memory: GuestRam, offset: int = 0, n: int | None = None) -> bytes:
        """Up to ``n`` bytes of the readable part from ``offset`` (all when None)."""
        out = bytearray()
        for addr, length in _pieces(self.readable, offset, n):
            out += memory.read(addr, length)
        return bytes(out)

    def write(self, memory: GuestRam, data: bytes, offset: int = 0) -> int:
        """Copy ``data`` into the writable part from ``offset``; return bytes written."""
        done = 0
        for addr, length in _pieces(self.writable, offset, len(data)):
            memory.write(addr, data[done : done + length])
            done += length
        return done

    def writable_pieces(self, offset: int, n: int, chunk: int) -> Iterator[tuple[int, int, int]]:
        """(data offset, addr, length) of the writable part, each at most ``chunk``."""
        yield from _chunked(self.writable, offset, n, chunk)

    def readable_pieces(self, offset: int, n: int, chunk: int) -> Iterator[tuple[int, int, int]]:
        """(data offset, addr, length) of the readable part, each at most ``chunk``."""
        yield from _chunked(self.readable, offset, n, chunk)


def _pieces(
    segments: tuple[tuple[int, int], ...], offset: int, n: int | None
) -> Iterator[tuple[int, int]]:
    remaining = n
    for addr, length in segments:
        if remaining is not None and remaining <= 0:
            return
        if offset >= length:
            offset -= length
            continue
        take = length - offset
        if remaining is not None:
            take = min(take, remaining)
            remaining -= take
        yield addr + offset, take
        offset = 0


def _chunked(
    segments: tuple[tuple[int, int], ...], offset: int, n: int, chunk: int
) -> Iterator[tuple[int, int, int]]:
    position = 0
    for addr, length in _pieces(segments, offset, n):
        while length:
            take = min(length, chunk)
            yield position, addr, take
            position += take
            addr += take
            length -= take


def need_event(event: int, new: int, old: int) -> bool:
    """The spec's vring_need_event: did [old, new) pass ``event``? (16-bit wrap)."""
    return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF


class Virtqueue:
    """One split virtqueue: driver-set addresses and size, device-side indexes."""

    def __init__(self, index: int, max_size: int, memory: GuestRam) -> None:
        if not 0 < max_size <= MAX_QUEUE_SIZE or max_size & (max_size - 1):
            raise ValueError(f"queue size {max_size} is not a power of two <= {MAX_QUEUE_SIZE}")
        self.index = index
        self.max_size = max_size
        self.memory = memory
        # Negotiated features, set by the transport when the driver is ready.
        self.indirect = False
        self.event_idx = False
        self.reset()

    def reset(self) -> None:
        self.size = self.max_size
        self.ready = False
        self.broken = False
        self.desc = 0
        self.avail = 0
        self.used = 0
        self.last_avail = 0
        self.used_idx = 0
        self._signalled = 0  # used_idx when we last decided about an interrupt

    # ------------------------------------------------------------------ setup

    def validate(self) -> None:
        """Check the driver's size and ring addresses when it sets QueueReady."""
        size = self.size
        if not 0 < size <= self.max_size or size & (size - 1):
            raise VirtqueueError(f"queue size {size} is not a power of two in 1..{self.max_size}")
        rings = (
            ("descriptor table", self.desc, DESC_SIZE * size, 16),
            ("available ring", self.avail, 6 + 2 * size, 2),
            ("used ring", self.used, 6 + 8 * size, 4),
        )
        for what, addr, length, align in rings:
            if addr % align:
                raise VirtqueueError(f"{what} at {addr:#x} is not {align}-byte aligned")
            if not self.memory.contains(addr, length):
                raise VirtqueueError(f"{what} at {addr:#x}+{length:#x} is outside RAM")

    # ------------------------------------------------------------------ driver -> device

    def pending(self) -> int:
        """How many chains the driver has made available that we have not taken."""
        avail_idx = self.memory.read_u16(self.avail + 2)
        count = (avail_idx - self.last_avail) & 0xFFFF
        if count > self.size:
            raise VirtqueueError(
                f"available index {avail_idx} is {count} entries ahead of "
                f"{self.last_avail} (queue size {self.size})"
            )
        return count

    def pop(self) -> Chain | None:
        """The next available chain, or None. Raises VirtqueueError / GuestMemoryError."""
        if not self.ready or self.broken:
            return None
        if self.pending() == 0:
            if self.event_idx:
                self._write_avail_event()
            return None
        slot = self.avail + 4 + 2 * (self.last_avail % self.size)
        head = self.memory.read_u16(slot)
        chain = self._walk(head)
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        if self.event_idx:
            self._write_avail_event()
        return chain

    def unpop(self) -> None:
        """Give back the chain ``pop`` returned last (it stays available)."""
        self.last_avail = (self.last_avail - 1) & 0xFFFF
        if self.event_idx:
            self._write_avail_event()

    def _write_avail_event(self) -> None:
        # Ask for a notification when the driver adds the entry after the
        # ones we have taken.
        self.memory.write_u16(self.used + 4 + 8 * self.size, self.last_avail)

    def _walk(self, head: int) -> Chain:
        size = self.size
        if head >= size:
            raise VirtqueueError(f"chain head {head} is out of range (queue size {size})")
        readable: list[tuple[int, int]] = []
        writable: list[tuple[int, int]] = []
        table, table_len = self.desc, size
        index = head
        seen = 0  # descriptors in this chain, direct and indirect together
        in_indirect = False
        while True:
            if index >= table_len:
                where = "indirect table" if in_indirect else "queue"
                raise VirtqueueError(
                    f"descriptor index {index} is out of range ({where} size {table_len})"
                )
            seen += 1
            if seen > size:
                raise VirtqueueError(
                    f"descriptor chain from head {head} is longer than the queue size {size} "
                    "(a loop?)"
                )
            addr, length, flags, nxt = _DESC.unpack(self.memory.read(table + DESC_SIZE * index, 16))
            if flags & DESC_F_INDIRECT:
                if in_indirect:
                    raise VirtqueueError("indirect descriptor inside an indirect table")
                if not self.indirect:
                    raise VirtqueueError("indirect descriptor but INDIRECT_DESC not negotiated")
                if seen != 1 or flags & DESC_F_NEXT:
                    raise VirtqueueError("indirect descriptor chained with other descriptors")
                if length == 0 or length % DESC_SIZE:
                    raise VirtqueueError(f"indirect table length {length} is not a multiple of 16")
                if not self.memory.contains(addr, length):
                    raise VirtqueueError(f"indirect table at {addr:#x}+{length:#x} is outside RAM")
                table, table_len = addr, length // DESC_SIZE
                index, seen, in_indirect = 0, 0, True
                continue
            if length:
                if not self.memory.contains(addr, length):
                    raise VirtqueueError(f"buffer at {addr:#x}+{length:#x} is outside RAM")
                if flags & DESC_F_WRITE:
                    writable.append((addr, length))
                elif writable:
                    raise VirtqueueError("device-readable buffer after a device-writable one")
                else:
                    readable.append((addr, length))
            if not flags & DESC_F_NEXT:
                return Chain(head, tuple(readable), tuple(writable))
            index = nxt

    # ------------------------------------------------------------------ device -> driver

    def push(self, head: int, written: int) -> None:
        """Put a finished chain on the used ring with ``written`` bytes written."""
        entry = self.used + 4 + 8 * (self.used_idx % self.size)
        self.memory.write(entry, struct.pack("<II", head, written & 0xFFFF_FFFF))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        self.memory.write_u16(self.used + 2, self.used_idx)

    def should_interrupt(self) -> bool:
        """Whether the driver wants an interrupt for what was pushed since the last call."""
        old, new = self._signalled, self.used_idx
        self._signalled = new
        if old == new:
            return False
        if self.event_idx:
            used_event = self.memory.read_u16(self.avail + 4 + 2 * self.size)
            return need_event(used_event, new, old)
        flags = self.memory.read_u16(self.avail)
        return not flags & AVAIL_F_NO_INTERRUPT

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "ready": self.ready,
            "broken": self.broken,
            "desc": self.desc,
            "avail": self.avail,
            "used": self.used,
            "last_avail": self.last_avail,
            "used_idx": self.used_idx,
            "signalled": self._signalled,
            "indirect": self.indirect,
            "event_idx": self.event_idx,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.size = int(state["size"])
        self.ready = bool(state["ready"])
        self.broken = bool(state["broken"])
        self.desc = int(state["desc"])
        self.avail = int(state["avail"])
        self.used = int(state["used"])
        self.last_avail = int(state["last_avail"]) & 0xFFFF
        self.used_idx = int(state["used_idx"]) & 0xFFFF
        self._signalled = int(state["signalled"]) & 0xFFFF
        self.indirect = bool(state["indirect"])
        self.event_idx = bool(state["event_idx"])
