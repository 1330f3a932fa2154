"""The snapshot file: a header, the VM's state as msgpack, sparse RAM, a checksum.

::

    offset  size
    0       8     magic  b"AVMMSNAP"
    8       4     format version (little-endian u32), FORMAT_VERSION
    12      4     reserved, 0
    16      8     length S of the state (u64)
    24      S     the state: one msgpack map (see avmm.snapshot.vmstate)
    24+S    ...   RAM records: guest-physical address (u64), page count N (u32),
                  then N * 4096 bytes; ended by the address 2**64-1 with N = 0
    end-32  32    SHA-256 of every byte before it

Only pages that are not all zeros are written, in runs of consecutive pages,
so RAM the guest never touched (or zeroed) costs nothing. A reader checks, in
this order, the magic, the version, the structure (a record or the state
running past the end is a truncated file) and then the checksum, and applies
nothing before all of them pass.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import IO, Any

import attrs
import msgpack

from avmm.constants import PAGE_SIZE
from avmm.errors import SnapshotError

MAGIC = b"AVMMSNAP"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIIQ")
_RECORD = struct.Struct("<QI")
_END = (1 << 64) - 1
_DIGEST = 32
# pages compared at once when looking for zero runs (a 256 KiB chunk of zeros is
# the common case in a guest's RAM; one comparison skips it). Slices are copied to
# bytes before comparing: memoryview's == compares element by element, 6x slower.
_CHUNK_PAGES = 64
_ZERO_PAGE = bytes(PAGE_SIZE)
_ZERO_CHUNK = bytes(PAGE_SIZE * _CHUNK_PAGES)


def nonzero_runs(view: memoryview, base: int) -> Iterator[tuple[int, int]]:
    """(guest address, pages) of each run of pages of ``view`` that are not all zeros."""
    size = len(view)
    start: int | None = None
    offset = 0
    while offset < size:
        chunk = PAGE_SIZE * _CHUNK_PAGES
        if (
            start is None
            and offset + chunk <= size
            and bytes(view[offset : offset + chunk]) == _ZERO_CHUNK
        ):
            offset += chunk
            continue
        zero = bytes(view[offset : offset + PAGE_SIZE]) == _ZERO_PAGE
        if zero and start is not None:
            yield base + start, (offset - start) // PAGE_SIZE
            start = None
        elif not zero and start is None:
            start = offset
        offset += PAGE_SIZE
    if start is not None:
        yield base + start, (size - start) // PAGE_SIZE


class _HashingWriter:
    """Writes to a file and hashes what it writes."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.hash = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes | memoryview) -> None:
        self.file.write(data)
        self.hash.update(data)
        self.count += len(data)


@attrs.frozen
class Written:
    file_bytes: int
    ram_bytes: int


def write(file: IO[bytes], state: dict[str, Any], ram: list[tuple[int, memoryview]]) -> Written:
    """Write a snapshot of ``state`` and the RAM slots ``ram`` ((base, view) each)."""
    out = _HashingWriter(file)
    packed = msgpack.packb(state, use_bin_type=True)
    out.write(_HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(packed)))
    out.write(packed)
    ram_bytes = 0
    for base, view in ram:
        for addr, pages in nonzero_runs(view, base):
            offset = addr - base
            out.write(_RECORD.pack(addr, pages))
            out.write(view[offset : offset + pages * PAGE_SIZE])
            ram_bytes += pages * PAGE_SIZE
    out.write(_RECORD.pack(_END, 0))
    digest = out.hash.digest()
    file.write(digest)
    return Written(out.count + len(digest), ram_bytes)


@attrs.frozen
class Snapshot:
    """A snapshot file read and checked: its state and where its RAM pages are."""

    state: dict[str, Any]
    pages: tuple[tuple[int, memoryview], ...]  # (guest address, bytes) per run
    file_bytes: int

    @property
    def ram_bytes(self) -> int:
        return sum(len(data) for _addr, data in self.pages)


def read(data: bytes, where: str) -> Snapshot:
    """Parse and check a whole snapshot file's bytes; ``where`` names it in errors."""
    size = len(data)
    if size < _HEADER.size or data[:8] != MAGIC:
        if MAGIC.startswith(data[:8]) and size < _HEADER.size:
            raise SnapshotError(f"{where}: truncated snapshot ({size} bytes)")
        raise SnapshotError(f"{where}: not an avmm snapshot (bad magic)")
    _magic, version, _reserved, state_len = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"{where}: snapshot format version {version}; this avmm reads version {FORMAT_VERSION}"
        )
    view = memoryview(data)
    pos = _HEADER.size + state_len
    if pos > size:
        raise SnapshotError(f"{where}: truncated snapshot (state runs past the end)")
    state_bytes = view[_HEADER.size : pos]
    pages: list[tuple[int, memoryview]] = []
    while True:
        if pos + _RECORD.size > size:
            raise SnapshotError(f"{where}: truncated snapshot (RAM ends early)")
        addr, count = _RECORD.unpack_from(data, pos)
        pos += _RECORD.size
        if addr == _END:
            break
        end = pos + count * PAGE_SIZE
        if end > size:
            raise SnapshotError(f"{where}: truncated snapshot (RAM ends early)")
        pages.append((addr, view[pos:end]))
        pos = end
    if pos + _DIGEST != size:
        if pos + _DIGEST > size:
            raise SnapshotError(f"{where}: truncated snapshot (no checksum)")
        raise SnapshotError(
            f"{where}: corrupt snapshot ({size - pos - _DIGEST} bytes after the end)"
        )
    if hashlib.sha256(view[:pos]).digest() != data[pos:]:
        raise SnapshotError(f"{where}: corrupt snapshot (checksum mismatch)")
    try:
        state = msgpack.unpackb(state_bytes, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise SnapshotError(f"{where}: corrupt snapshot (state: {err})") from None
    if not isinstance(state, dict):
        raise SnapshotError(f"{where}: corrupt snapshot (state is not a map)")
    return Snapshot(state, tuple(pages), size)
