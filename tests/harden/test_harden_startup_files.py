"""Every file error at start-up is one ``avmm: error:`` line and exit status 2,
and a start that fails leaves no half-made file (issue 15, item 8; the
``--report`` and ``--timeout`` cases are the command line's, elsewhere)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

AVMM = [sys.executable, "-m", "avmm.cli"]


def avmm(
    *args: str | Path, prefix: Sequence[str] = (), **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *AVMM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("avmm: error: ")
    return lines[0]


def test_a_firmware_elf_with_a_huge_program_header_offset(hostile: Path, tmp_path: Path) -> None:
    elf = bytearray((hostile / "uart-flood.elf").read_bytes())
    struct.pack_into("<Q", elf, 0x20, 0xFFFF_FFFF_FFFF_0000)  # e_phoff
    bad = tmp_path / "bad.elf"
    bad.write_bytes(elf)
    line = one_error_line(avmm("run", "--kernel", bad))
    assert f"{bad}: malformed ELF" in line


def test_a_binary_garbage_config(tmp_path: Path) -> None:
    config = tmp_path / "garbage.toml"
    config.write_bytes(bytes(range(256)) * 4)
    line = one_error_line(avmm("run", config))
    assert f"{config} is not a text file" in line


def test_a_disk_larger_than_the_filesystem_allows_leaves_no_image(
    hostile: Path, tmp_path: Path
) -> None:
    # 1 PiB, sparse: more than ext4 (16 TiB per file) allows.
    probe = tmp_path / "probe"
    with probe.open("wb") as f:
        try:
            f.truncate(1 << 50)
        except OSError:
            pass
        else:
            pytest.skip(f"{tmp_path}'s filesystem takes a 1 PiB sparse file (not ext4)")
    probe.unlink()
    image = tmp_path / "big.img"
    config = tmp_path / "vm.toml"
    config.write_text(
        f"""version = 1
[vm]
memory = "16MiB"
console.backend = "null"
boot.mode = "firmware"
boot.firmware = "{hostile / "uart-flood.elf"}"
[[vm.disks]]
path = "{image}"
create = "1024TiB"
"""
    )
    out = avmm("run", config, "--timeout", "5")
    line = one_error_line(out)
    assert f"{image}: cannot create a" in line
    assert not image.exists()  # no 0-byte image for the next run to trip on
    again = avmm("run", config, "--timeout", "5")
    assert one_error_line(again) == line  # the same error, not a different one


def test_an_image_in_a_directory_that_cannot_be_searched(hostile: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(hostile / "uart-flood.elf", locked / "fw.elf")
    locked.chmod(0)
    # root searches anything; without CAP_DAC_* it is an ordinary user here.
    prefix = (
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    )
    try:
        line = one_error_line(avmm("run", "--kernel", locked / "fw.elf", prefix=prefix))
    finally:
        locked.chmod(0o755)
    assert "Permission denied" in line
    assert str(locked / "fw.elf") in line


def test_ram_that_cannot_be_mapped(hostile: Path) -> None:
    # An address-space limit (ulimit -v) below the guest's RAM: mmap fails.
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    out = avmm("run", "--kernel", hostile / "uart-flood.elf", "--memory", "8GiB", preexec_fn=limit)
    line = one_error_line(out)
    assert "vm.memory[0]: cannot map 8589934592 bytes of guest RAM" in line
