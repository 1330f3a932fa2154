"""A copy-on-write disk: a read-only base image and an overlay file for the writes.

Many runs can start from one base image (and one snapshot) without touching
it: the base is opened read-only with a shared lock, each run writes its own
overlay. The overlay is a sparse file the size of the base holding every
4 KiB block the guest wrote at that block's own offset; which blocks those are
is kept in memory (a bitmap), so an overlay lasts one run: it is emptied when
the disk opens. A block is copied up from the base on its first partial write.
A snapshot of the VM carries the overlay's blocks (:meth:`OverlayImage.blocks`)
and a restore puts them back (:meth:`OverlayImage.load_blocks`).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from avmm.devices.backends.block import RawImage, _pwrite_all
from avmm.errors import DeviceError

BLOCK = 4096


class OverlayImage:
    """A :class:`~avmm.devices.base.BlockBackend`: ``base`` read-only, writes to ``overlay``."""

    def __init__(self, base: str | os.PathLike[str], overlay: str | os.PathLike[str]) -> None:
        self.base = RawImage(base, read_only=True)
        self.path = Path(overlay)
        self.stats = self.base.stats
        try:
            if self.path.resolve() == self.base.path.resolve():
                raise DeviceError(f"{self.path}: the overlay cannot be its own base image")
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            try:
                fd = os.open(self.path, flags, 0o644)
            except OSError as err:
                raise DeviceError(f"{self.path}: cannot open overlay: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise DeviceError(f"{self.path}: overlay is in use by another VM") from None
            os.ftruncate(fd, 0)  # an overlay lasts one run: start empty
            os.ftruncate(fd, self.base.size)
        except BaseException:
            self.base.close()
            raise
        self._fd: int | None = fd
        self._blocks = (self.base.size + BLOCK - 1) // BLOCK
        self._written = bytearray((self._blocks + 7) // 8)
        self._lock = threading.Lock()  # copy-up of one block must not race a write to it

    @property
    def size(self) -> int:
        return self.base.size

    @property
    def read_only(self) -> bool:
        return False

    def _is_written(self, block: int) -> bool:
        return bool(self._written[block >> 3] >> (block & 7) & 1)

    def _mark(self, block: int) -> None:
        self._written[block >> 3] |= 1 << (block & 7)

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise DeviceError(f"{self.path}: overlay is closed")
        return self._fd

    def _check_range(self, offset: int, n: int) -> None:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise DeviceError(
                f"{self.path}: access {offset}+{n} is outside the disk ({self.size} bytes)"
            )

    def _base_fd(self) -> int:
        return self.base._fd_or_raise()

    def _read_sync(self, offset: int, n: int) -> bytes:
        fd = self._fd_or_raise()
        base = self._base_fd()
        out = bytearray()
        with self._lock:
            pos = offset
            end = offset + n
            while pos < end:
                block = pos // BLOCK
                stop = min(end, (block + 1) * BLOCK)
                source = fd if self._is_written(block) else base
                data = os.pread(source, stop - pos, pos)
                if len(data) != stop - pos:
                    raise DeviceError(f"{self.path}: short read at {pos}")
                out += data
                pos = stop
        return bytes(out)

    def _write_sync(self, offset: int, data: bytes) -> None:
        fd = self._fd_or_raise()
        base = self._base_fd()
        with self._lock:
            pos = offset
            end = offset + len(data)
            while pos < end:
                block = pos // BLOCK
                start = block * BLOCK
                stop = min(end, start + BLOCK)
                if not self._is_written(block) and (pos != start or stop != start + BLOCK):
                    # first partial write: copy the block up from the base
                    whole = min(BLOCK, self.size - start)
                    _pwrite_all(fd, os.pread(base, whole, start), start)
                _pwrite_all(fd, data[pos - offset : stop - offset], pos)
                self._mark(block)
                pos = stop

    async def read(self, offset: int, n: int) -> bytes:
        self._check_range(offset, n)
        data = await asyncio.to_thread(self._read_sync, offset, n)
        self.stats.reads += 1
        self.stats.read_bytes += n
        return data

    async def write(self, offset: int, data: bytes) -> None:
        self._check_range(offset, len(data))
        await asyncio.to_thread(self._write_sync, offset, data)
        self.stats.writes += 1
        self.stats.write_bytes += len(data)

    async def flush(self) -> None:
        await asyncio.to_thread(os.fsync, self._fd_or_raise())
        self.stats.flushes += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.base.close()

    # ------------------------------------------------------------ snapshots

    def written(self) -> int:
        """Blocks the guest wrote so far."""
        return sum(bin(byte).count("1") for byte in self._written)

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(block number, contents) of every block the guest wrote, in order."""
        fd = self._fd_or_raise()
        with self._lock:
            for block in range(self._blocks):
                if self._is_written(block):
                    start = block * BLOCK
                    yield block, os.pread(fd, min(BLOCK, self.size - start), start)

    def load_blocks(self, blocks: Iterable[tuple[int, bytes]]) -> None:
        """Make the overlay hold exactly ``blocks`` (a restore); the rest reads the base."""
        fd = self._fd_or_raise()
        blocks = list(blocks)
        for block, data in blocks:  # all checked before the overlay changes
            start = block * BLOCK
            if not 0 <= block < self._blocks or len(data) != min(BLOCK, self.size - start):
                raise DeviceError(f"{self.path}: block {block} does not fit the disk")
        with self._lock:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, self.size)
            self._written = bytearray(len(self._written))
            for block, data in blocks:
                _pwrite_all(fd, data, block * BLOCK)
                self._mark(block)
