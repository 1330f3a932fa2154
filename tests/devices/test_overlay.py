"""The copy-on-write disk backend on real files: reads fall through to the base
until a block is written, partial writes copy the block up, the base is never
written, the overlay starts empty every time, and its blocks round-trip (what a
snapshot carries)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from avmm.devices.backends import OverlayImage
from avmm.errors import DeviceError


def _base(tmp_path: Path, size: int = 64 << 10) -> Path:
    base = tmp_path / "base.img"
    base.write_bytes(bytes(i * 7 % 251 for i in range(size)))
    return base


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_writes_go_to_the_overlay_and_reads_see_them(tmp_path: Path) -> None:
    base = _base(tmp_path)
    original = base.read_bytes()
    before = _digest(base)
    disk = OverlayImage(base, tmp_path / "run.ovl")
    try:
        assert disk.size == len(original) and not disk.read_only
        assert await disk.read(0, 8192) == original[:8192]
        await disk.write(4096 + 100, b"hello")  # partial: block 1 is copied up
        await disk.write(8192, b"\xaa" * 4096)  # a whole block
        expect = bytearray(original)
        expect[4196:4201] = b"hello"
        expect[8192:12288] = b"\xaa" * 4096
        assert await disk.read(0, len(expect)) == bytes(expect)
        assert await disk.read(4090, 20) == bytes(expect[4090:4110])  # spans two blocks
        assert disk.written() == 2
        await disk.flush()
    finally:
        disk.close()
    assert _digest(base) == before
    overlay = (tmp_path / "run.ovl").read_bytes()
    assert len(overlay) == len(original)
    assert overlay[4096:8192] == bytes(expect[4096:8192])  # at the block's own offset


async def test_the_overlay_starts_empty_and_blocks_round_trip(tmp_path: Path) -> None:
    base = _base(tmp_path)
    original = base.read_bytes()
    first = OverlayImage(base, tmp_path / "a.ovl")
    await first.write(0, b"X" * 512)
    await first.write(60 << 10, b"Y" * 4096)
    blocks = list(first.blocks())
    first.close()
    assert [b for b, _data in blocks] == [0, 15]
    again = OverlayImage(base, tmp_path / "a.ovl")  # the same file: emptied
    assert await again.read(0, 512) == original[:512]
    again.load_blocks(blocks)
    assert await again.read(0, 512) == b"X" * 512
    assert await again.read(60 << 10, 4096) == b"Y" * 4096
    with pytest.raises(DeviceError, match="block 99 does not fit the disk"):
        again.load_blocks([(99, bytes(4096))])
    assert await again.read(0, 512) == b"X" * 512  # a refused load changed nothing
    again.close()


def test_bad_overlays_are_named(tmp_path: Path) -> None:
    base = _base(tmp_path)
    with pytest.raises(DeviceError, match="cannot be its own base image"):
        OverlayImage(base, base)
    with pytest.raises(DeviceError, match="cannot open overlay"):
        OverlayImage(base, tmp_path / "no-dir" / "x.ovl")
    with pytest.raises(DeviceError, match="disk image does not exist"):
        OverlayImage(tmp_path / "missing.img", tmp_path / "x.ovl")
    one = OverlayImage(base, tmp_path / "busy.ovl")
    try:
        with pytest.raises(DeviceError, match="overlay is in use by another VM"):
            OverlayImage(base, tmp_path / "busy.ovl")
        two = OverlayImage(base, tmp_path / "other.ovl")  # the base is shared read-only
        two.close()
    finally:
        one.close()


async def test_accesses_outside_the_disk_are_refused(tmp_path: Path) -> None:
    disk = OverlayImage(_base(tmp_path), tmp_path / "x.ovl")
    try:
        with pytest.raises(DeviceError, match="outside the disk"):
            await disk.read(64 << 10, 1)
        with pytest.raises(DeviceError, match="outside the disk"):
            await disk.write((64 << 10) - 1, b"ab")
    finally:
        disk.close()
