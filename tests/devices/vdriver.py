"""The driver side of virtio-mmio, as a guest would play it, over a bytearray RAM.

Builds real split rings in guest memory: descriptor table, available ring and
used ring at addresses the device is told through the MMIO registers, buffers
from a bump allocator, optional indirect tables and EVENT_IDX.
"""

from __future__ import annotations

import struct

from devfakes import FakeIrq

from avmm.devices.virtio.mmio import VirtioMmio
from avmm.runtime.guestmem import GuestMemory

RAM_BASE = 0x8000_0000
RAM_SIZE = 4 << 20

F_INDIRECT = 28
F_EVENT_IDX = 29
F_VERSION_1 = 32

ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40

DESC_NEXT, DESC_WRITE, DESC_INDIRECT = 1, 2, 4


class Ram:
    """Guest RAM and a bump allocator over it."""

    def __init__(self, size: int = RAM_SIZE) -> None:
        self.buf = bytearray(size)
        self.memory = GuestMemory.from_bytes(RAM_BASE, self.buf)
        self._next = RAM_BASE + 0x1000

    def alloc(self, size: int, align: int = 16) -> int:
        addr = (self._next + align - 1) & ~(align - 1)
        self._next = addr + max(size, 1)
        assert self._next <= RAM_BASE + len(self.buf), "test RAM exhausted"
        return addr

    def put(self, data: bytes, align: int = 16) -> int:
        addr = self.alloc(len(data), align)
        self.memory.write(addr, data)
        return addr


class DriverQueue:
    def __init__(self, drv: Driver, index: int, size: int) -> None:
        self.drv = drv
        self.index = index
        self.size = size
        ram = drv.ram
        self.desc = ram.alloc(16 * size, 16)
        self.avail = ram.alloc(6 + 2 * size, 2)
        self.used = ram.alloc(6 + 8 * size, 4)
        self.free = list(range(size))
        self.avail_idx = 0
        self.last_used = 0
        self.buffers: dict[int, list[tuple[int, int]]] = {}  # head -> writable buffers

    def write_desc(self, table: int, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.drv.mem.write(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def add(self, out: list[bytes], in_lens: list[int], *, indirect: bool = False) -> int:
        """Make a chain of readable ``out`` buffers and writable ``in_lens`` buffers available."""
        ram = self.drv.ram
        segs = [(ram.put(b), len(b), 0) for b in out]
        segs += [(ram.alloc(n), n, DESC_WRITE) for n in in_lens]
        if indirect:
            table = ram.alloc(16 * len(segs), 16)
            for i, (addr, n, flags) in enumerate(segs):
                last = i == len(segs) - 1
                self.write_desc(table, i, addr, n, flags | (0 if last else DESC_NEXT), i + 1)
            head = self.free.pop(0)
            self.write_desc(self.desc, head, table, 16 * len(segs), DESC_INDIRECT, 0)
        else:
            ids = [self.free.pop(0) for _ in segs]
            for i, (addr, n, flags) in enumerate(segs):
                last = i == len(segs) - 1
                nxt = 0 if last else ids[i + 1]
                self.write_desc(self.desc, ids[i], addr, n, flags | (0 if last else DESC_NEXT), nxt)
            head = ids[0]
        self.buffers[head] = [(a, n) for a, n, f in segs if f & DESC_WRITE]
        self.publish(head)
        return head

    def publish(self, head: int) -> None:
        mem = self.drv.mem
        mem.write_u16(self.avail + 4 + 2 * (self.avail_idx % self.size), head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        mem.write_u16(self.avail + 2, self.avail_idx)

    def kick(self) -> None:
        self.drv.write(0x50, self.index)

    def used_entries(self) -> list[tuple[int, int]]:
        """New (head, written) pairs on the used ring since the last call."""
        mem = self.drv.mem
        idx = mem.read_u16(self.used + 2)
        out = []
        while self.last_used != idx:
            slot = self.used + 4 + 8 * (self.last_used % self.size)
            head, written = struct.unpack("<II", mem.read(slot, 8))
            out.append((head, written))
            self.last_used = (self.last_used + 1) & 0xFFFF
        return out

    def written(self, head: int) -> bytes:
        """Everything in the writable buffers of a chain."""
        return b"".join(self.drv.mem.read(a, n) for a, n in self.buffers[head])

    def set_used_event(self, value: int) -> None:
        self.drv.mem.write_u16(self.avail + 4 + 2 * self.size, value)

    def avail_event(self) -> int:
        return self.drv.mem.read_u16(self.used + 4 + 8 * self.size)

    def set_no_interrupt(self, on: bool) -> None:
        self.drv.mem.write_u16(self.avail, 1 if on else 0)


class Driver:
    def __init__(self, device: VirtioMmio, ram: Ram, irq: FakeIrq) -> None:
        self.dev = device
        self.ram = ram
        self.mem = ram.memory
        self.irq = irq
        self.queues: list[DriverQueue] = []

    def read(self, off: int) -> int:
        return self.dev.read(off, 4)

    def write(self, off: int, value: int) -> None:
        self.dev.write(off, 4, value)

    def device_features(self) -> int:
        self.write(0x14, 1)
        high = self.read(0x10)
        self.write(0x14, 0)
        return high << 32 | self.read(0x10)

    def negotiate(self, features: int | None = None) -> int:
        self.write(0x70, 0)
        self.write(0x70, ACK)
        self.write(0x70, ACK | DRIVER)
        offered = self.device_features()
        accept = offered if features is None else features
        self.write(0x24, 1)
        self.write(0x20, accept >> 32)
        self.write(0x24, 0)
        self.write(0x20, accept & 0xFFFF_FFFF)
        self.write(0x70, ACK | DRIVER | FEATURES_OK)
        return accept

    def setup_queue(self, index: int, size: int | None = None) -> DriverQueue:
        self.write(0x30, index)
        assert self.read(0x44) == 0
        max_size = self.read(0x34)
        assert max_size > 0
        q = DriverQueue(self, index, size or min(max_size, 64))
        self.write(0x38, q.size)
        for off, addr in ((0x80, q.desc), (0x90, q.avail), (0xA0, q.used)):
            self.write(off, addr & 0xFFFF_FFFF)
            self.write(off + 4, addr >> 32)
        self.write(0x44, 1)
        self.queues.append(q)
        return q

    def start(
        self, features: int | None = None, nqueues: int = 1, size: int | None = None
    ) -> list[DriverQueue]:
        """Negotiate, set up ``nqueues`` queues and set DRIVER_OK."""
        self.negotiate(features)
        assert self.read(0x70) & FEATURES_OK
        queues = [self.setup_queue(i, size) for i in range(nqueues)]
        self.write(0x70, ACK | DRIVER | FEATURES_OK | DRIVER_OK)
        return queues

    def ack_interrupt(self) -> int:
        status = self.read(0x60)
        self.write(0x64, status)
        return status

    @property
    def status(self) -> int:
        return self.read(0x70)
