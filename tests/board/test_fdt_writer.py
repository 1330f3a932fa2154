"""The FDT writer, checked against Debian's dtc and fdtget."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from avmm.board.devicetree import FdtNode, to_dtb


def decompile(blob: bytes, tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "t.dtb"
    path.write_bytes(blob)
    proc = subprocess.run(
        ["dtc", "-I", "dtb", "-O", "dts", str(path)], capture_output=True, text=True, check=True
    )
    return proc.stdout, proc.stderr


def fdtget(blob: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "g.dtb"
    path.write_bytes(blob)
    proc = subprocess.run(["fdtget", str(path), *args], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def sample() -> FdtNode:
    root = FdtNode("")
    root.set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    node = root.child("thing@1000")
    node.set_u64("reg", 0x1000, 0x2000)
    node.set_strs("compatible", "acme,widget", "simple")
    node.set_empty("flag")
    node.set_bytes("blob", b"\x01\x02\x03")
    node.set_u32("cells", 1, 0xFFFF_FFFF)
    root.child("other").set_str("compatible", "acme,other")
    return root


def test_header_matches_the_v17_layout() -> None:
    blob = to_dtb(sample(), reservations=[(0x8000_0000, 0x20_0000)])
    (magic, total, off_struct, off_strings, off_rsv, version, last_comp, boot, size_strings,
     size_struct) = struct.unpack_from(">10I", blob)  # fmt: skip
    assert magic == 0xD00DFEED
    assert total == len(blob)
    assert (version, last_comp, boot) == (17, 16, 0)
    assert off_rsv % 8 == 0 and off_struct % 4 == 0
    assert struct.unpack_from(">QQQQ", blob, off_rsv) == (0x8000_0000, 0x20_0000, 0, 0)
    assert off_strings == off_struct + size_struct
    assert off_strings + size_strings == total
    # Every property name is stored once.
    strings = blob[off_strings:total].split(b"\0")[:-1]
    assert len(strings) == len(set(strings))


def test_dtc_reads_every_property_type_back(tmp_path: Path) -> None:
    blob = to_dtb(sample(), reservations=[(0x8000_0000, 0x1000)])
    dts, errors = decompile(blob, tmp_path)
    assert errors == ""
    assert "/memreserve/\t0x0000000080000000 0x0000000000001000;" in dts
    assert fdtget(blob, tmp_path, "-t", "x", "/thing@1000", "reg") == "0 1000 0 2000"
    assert fdtget(blob, tmp_path, "-t", "s", "/thing@1000", "compatible") == "acme,widget simple"
    assert fdtget(blob, tmp_path, "-t", "bx", "/thing@1000", "blob") == "1 2 3"
    assert fdtget(blob, tmp_path, "-t", "x", "/thing@1000", "cells") == "1 ffffffff"
    assert "flag;" in dts
    assert fdtget(blob, tmp_path, "-l", "/") == "thing@1000\nother"


def test_invalid_names_and_values_are_refused() -> None:
    root = FdtNode("")
    with pytest.raises(ValueError):
        root.child("a/b")
    with pytest.raises(ValueError):
        root.set_u32("x", 1 << 32)
    with pytest.raises(ValueError):
        root.set_str("x", "nul\0inside")
    with pytest.raises(ValueError):
        root.set_empty("a" * 32)
    root.child("dup")
    with pytest.raises(ValueError):
        root.child("dup")
    with pytest.raises(ValueError):
        to_dtb(FdtNode("named-root"))
