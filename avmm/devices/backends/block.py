"""Raw disk images for virtio-blk.

The image is opened and checked when the VM is built, so a missing, empty,
misaligned or non-raw image is a clear :class:`DeviceError` then, not an I/O
error in the guest later. I/O runs in worker threads (``asyncio.to_thread``)
so the event loop never waits on the disk. The image is locked (shared when
read-only, exclusive otherwise) so two VMs cannot write it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
from pathlib import Path

import attrs

from avmm.errors import DeviceError

SECTOR = 512
QCOW_MAGIC = b"QFI\xfb"


@attrs.define
class BlockStats:
    """Plain counters read by the metrics collector."""

    reads: int = 0
    writes: int = 0
    flushes: int = 0
    read_bytes: int = 0
    write_bytes: int = 0


def ensure_image(path: str | os.PathLike[str], size: int) -> bool:
    """Create a blank sparse image of ``size`` bytes at ``path`` unless a file is
    there already; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return False
    except OSError as err:
        raise DeviceError(f"{path}: cannot create disk image: {err.strerror}") from None
    try:
        os.ftruncate(fd, size)
    except OSError as err:
        # EFBIG (larger than the filesystem allows), ENOSPC, EDQUOT: leave no
        # 0-byte image behind, or the next run would find "a disk" and fail
        # differently.
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise DeviceError(
            f"{path}: cannot create a {size}-byte disk image: {err.strerror}"
        ) from None
    os.close(fd)
    return True


class RawImage:
    """A raw image file (or block device) of a whole number of 512-byte sectors."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.stats = BlockStats()
        self._read_only = read_only
        flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            raise DeviceError(f"{self.path}: disk image does not exist") from None
        except IsADirectoryError:
            raise DeviceError(f"{self.path}: disk image is a directory") from None
        except OSError as err:
            raise DeviceError(f"{self.path}: cannot open disk image: {err.strerror}") from None
        try:
            self._size = self._check(fd)
            lock = fcntl.LOCK_SH if read_only else fcntl.LOCK_EX
            try:
                fcntl.flock(fd, lock | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DeviceError(f"{self.path}: disk image is in use by another VM") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def _check(self, fd: int) -> int:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            size = info.st_size
        elif stat.S_ISBLK(info.st_mode):
            size = os.lseek(fd, 0, os.SEEK_END)
        else:
            raise DeviceError(f"{self.path}: disk image is not a regular file or block device")
        if size == 0:
            raise DeviceError(f"{self.path}: disk image is empty")
        if os.pread(fd, 4, 0) == QCOW_MAGIC:
            raise DeviceError(f"{self.path}: is a qcow2 image; only raw images are supported")
        if size % SECTOR:
            raise DeviceError(
                f"{self.path}: disk image size {size} is not a multiple of {SECTOR} bytes "
                "(truncated?)"
            )
        return size

    @property
    def size(self) -> int:
        return self._size

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise DeviceError(f"{self.path}: disk image is closed")
        return self._fd

    def _check_range(self, offset: int, n: int) -> None:
        if offset < 0 or n < 0 or offset + n > self._size:
            raise DeviceError(
                f"{self.path}: access {offset}+{n} is outside the image ({self._size} bytes)"
            )

    async def read(self, offset: int, n: int) -> bytes:
        self._check_range(offset, n)
        fd = self._fd_or_raise()
        data = await asyncio.to_thread(os.pread, fd, n, offset)
        if len(data) != n:
            raise DeviceError(f"{self.path}: short read at {offset} (image shrank?)")
        self.stats.reads += 1
        self.stats.read_bytes += n
        return data

    async def write(self, offset: int, data: bytes) -> None:
        if self._read_only:
            raise DeviceError(f"{self.path}: disk image is read-only")
        self._check_range(offset, len(data))
        fd = self._fd_or_raise()
        await asyncio.to_thread(_pwrite_all, fd, data, offset)
        self.stats.writes += 1
        self.stats.write_bytes += len(data)

    async def flush(self) -> None:
        fd = self._fd_or_raise()
        if not self._read_only:
            await asyncio.to_thread(os.fsync, fd)
        self.stats.flushes += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
