"""Linux Image header, initrd and DTB placement, and OpenSBI's fw_dynamic_info."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from avmm.board.loader import LinuxImage, fw_dynamic_info, place_dtb, place_initrd
from avmm.errors import BootError
from avmm.runtime.guestmem import GuestMemory

RAM_BASE = 0x8000_0000
RAM_SIZE = 64 << 20


def synthetic_image(
    tmp_path: Path,
    *,
    body: int = 0x3000,
    image_size: int = 0x80_0000,
    text_offset: int = 0x20_0000,
    magic2: bytes = b"RSC\x05",
    magic: bytes = b"RISCV\0\0\0",
) -> Path:
    header = struct.pack(
        "<IIQQQIIQ8s4sI",
        0x0000_006F,  # code0: a jump past the header
        0,
        text_offset,
        image_size,
        0,  # flags: little-endian
        0x0000_0002,  # header version 0.2
        0,
        0,
        magic,
        magic2,
        0,
    )
    path = tmp_path / "Image"
    path.write_bytes(header + bytes([0xA5]) * (body - len(header)))
    return path


def ram(size: int = RAM_SIZE) -> GuestMemory:
    return GuestMemory.from_bytes(RAM_BASE, bytearray([0xEE]) * size)


def test_header_fields_are_parsed(tmp_path: Path) -> None:
    image = LinuxImage.parse(synthetic_image(tmp_path))
    assert image.text_offset == 0x20_0000
    assert image.image_size == 0x80_0000
    assert image.version == 2
    assert image.load_address(RAM_BASE) == 0x8020_0000


def test_image_loads_at_ram_base_plus_2mib_with_bss_zeroed(tmp_path: Path) -> None:
    path = synthetic_image(tmp_path)
    memory = ram()
    addr = LinuxImage.parse(path).load(memory, RAM_BASE)
    assert addr == 0x8020_0000
    assert memory.read(addr, 0x3000) == path.read_bytes()
    assert memory.read(addr + 0x3000, 0x80_0000 - 0x3000) == bytes(0x80_0000 - 0x3000)
    assert memory.read(addr + 0x80_0000, 1) == b"\xee"
    assert memory.read(RAM_BASE, 1) == b"\xee"  # below the kernel is untouched


def test_image_larger_than_ram_is_a_boot_error(tmp_path: Path) -> None:
    image = LinuxImage.parse(synthetic_image(tmp_path, image_size=RAM_SIZE))
    with pytest.raises(BootError, match=r"Image: image of 0x4000000 bytes .* does not fit"):
        image.load(ram(), RAM_BASE)


def test_truncated_image_is_a_boot_error(tmp_path: Path) -> None:
    path = tmp_path / "Image"
    path.write_bytes(synthetic_image(tmp_path).read_bytes()[:40])
    with pytest.raises(BootError, match="Image: truncated Image"):
        LinuxImage.parse(path)


def test_wrong_magic_is_a_boot_error(tmp_path: Path) -> None:
    path = synthetic_image(tmp_path, magic2=b"ARMd", magic=b"notriscv")
    with pytest.raises(BootError, match="not a RISC-V Linux Image"):
        LinuxImage.parse(path)


def test_image_size_below_the_file_size_is_a_boot_error(tmp_path: Path) -> None:
    with pytest.raises(BootError, match="header says the image is"):
        LinuxImage.parse(synthetic_image(tmp_path, body=0x3000, image_size=0x1000))


def test_missing_image_is_a_boot_error(tmp_path: Path) -> None:
    with pytest.raises(BootError, match="file not found"):
        LinuxImage.parse(tmp_path / "vmlinux.bin")


def test_initrd_goes_high_page_aligned_below_the_dtb(tmp_path: Path) -> None:
    initrd = tmp_path / "initramfs.cpio.gz"
    initrd.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 40)
    memory = ram()
    dtb_addr = place_dtb(memory, b"\xd0\x0d\xfe\xed" + bytes(1020), ram_base=RAM_BASE,
                         ram_size=RAM_SIZE)  # fmt: skip
    start, end = place_initrd(memory, initrd, below=dtb_addr, above=0x80A0_0000)
    assert start % 4096 == 0
    assert end == start + initrd.stat().st_size <= dtb_addr
    assert dtb_addr - start < initrd.stat().st_size + 4096
    assert memory.read(start, end - start) == initrd.read_bytes()


def test_initrd_that_does_not_fit_is_a_boot_error(tmp_path: Path) -> None:
    initrd = tmp_path / "big.cpio"
    initrd.write_bytes(bytes(1 << 20))
    with pytest.raises(BootError, match=r"big\.cpio: initrd of 0x100000 bytes does not fit"):
        place_initrd(ram(), initrd, below=0x8100_0000, above=0x80F8_0000)


def test_dtb_goes_to_the_top_of_ram_2mib_aligned() -> None:
    memory = ram()
    blob = b"\xd0\x0d\xfe\xed" + bytes(4000)
    addr = place_dtb(memory, blob, ram_base=RAM_BASE, ram_size=RAM_SIZE)
    assert addr == RAM_BASE + RAM_SIZE - (2 << 20)
    assert memory.read(addr, len(blob)) == blob


def test_fw_dynamic_info_is_opensbi_version_2_layout() -> None:
    info = fw_dynamic_info(0x8020_0000, 1, boot_hart=3, options=1)
    assert len(info) == 6 * 8
    assert info[:4] == b"OSBI"  # magic 0x4942534f, little-endian
    magic, version, next_addr, next_mode, options, boot_hart = struct.unpack("<6Q", info)
    assert (magic, version) == (0x4942534F, 2)
    assert (next_addr, next_mode, options, boot_hart) == (0x8020_0000, 1, 1, 3)
    with pytest.raises(ValueError):
        fw_dynamic_info(0, 2, 0)
