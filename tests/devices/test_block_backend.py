"""Raw disk images: clear errors at open time, I/O through worker threads."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from avmm.devices.backends import RawImage, ensure_image
from avmm.errors import DeviceError


def make_image(tmp_path: Path, size: int = 8192, name: str = "disk.img") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


async def test_read_write_flush_round_trip(tmp_path: Path) -> None:
    path = make_image(tmp_path)
    disk = RawImage(path)
    assert disk.size == 8192 and not disk.read_only
    assert await disk.read(256, 4) == bytes([0, 1, 2, 3])
    await disk.write(512, b"\xee" * 512)
    await disk.flush()
    assert path.read_bytes()[512:1024] == b"\xee" * 512
    assert disk.stats.reads == 1 and disk.stats.writes == 1 and disk.stats.flushes == 1
    disk.close()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(bytes(1000)), "not a multiple of 512"),
        (lambda p: p.write_bytes(b"QFI\xfb" + bytes(508)), "qcow2"),
    ],
    ids=["missing", "directory", "empty", "short", "qcow2"],
)
def test_broken_images_fail_at_open_time(
    tmp_path: Path, setup: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "disk.img"
    setup(path)
    with pytest.raises(DeviceError, match=message) as info:
        RawImage(path)
    assert str(path) in str(info.value)


def test_an_image_in_use_cannot_be_opened_for_writing_twice(tmp_path: Path) -> None:
    path = make_image(tmp_path)
    first = RawImage(path)
    with pytest.raises(DeviceError, match="in use"):
        RawImage(path)
    with pytest.raises(DeviceError, match="in use"):
        RawImage(path, read_only=True)
    first.close()
    RawImage(path, read_only=True).close()


def test_read_only_images_can_be_shared(tmp_path: Path) -> None:
    path = make_image(tmp_path)
    a, b = RawImage(path, read_only=True), RawImage(path, read_only=True)
    a.close()
    b.close()


async def test_read_only_image_refuses_writes(tmp_path: Path) -> None:
    path = make_image(tmp_path)
    disk = RawImage(path, read_only=True)
    with pytest.raises(DeviceError, match="read-only"):
        await disk.write(0, bytes(512))
    assert path.read_bytes()[:4] == bytes([0, 1, 2, 3])
    disk.close()


async def test_access_past_the_end_is_refused(tmp_path: Path) -> None:
    disk = RawImage(make_image(tmp_path))
    with pytest.raises(DeviceError, match="outside the image"):
        await disk.read(8192 - 10, 20)
    with pytest.raises(DeviceError, match="outside the image"):
        await disk.write(8192, b"x")
    disk.close()


async def test_image_shrinking_under_the_vm_is_a_device_error(tmp_path: Path) -> None:
    path = make_image(tmp_path)
    disk = RawImage(path)
    os.truncate(path, 4096)
    with pytest.raises(DeviceError, match="short read"):
        await disk.read(4096, 512)
    disk.close()


def test_ensure_image_creates_a_sparse_blank_disk_once(tmp_path: Path) -> None:
    path = tmp_path / "new.img"
    assert ensure_image(path, 64 << 20)
    assert path.stat().st_size == 64 << 20
    assert path.stat().st_blocks * 512 < 1 << 20  # sparse: nothing allocated yet
    path.write_bytes(b"data" * 128)
    assert not ensure_image(path, 64 << 20)  # an existing image is never touched
    assert path.read_bytes() == b"data" * 128


def test_ensure_image_names_an_impossible_place(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="cannot create disk image"):
        ensure_image(tmp_path / "missing" / "d.img", 1 << 20)
