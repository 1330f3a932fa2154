"""The self-check program, built for the host and run on disk images in files.

The guest runs the same source; here its disk logic and its verdicts are
checked without booting anything.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from guests.linux import report


def run(exe: Path, *args: str) -> tuple[int, report.CheckReport, str]:
    proc = subprocess.run(
        [str(exe), "--iterations", "2000", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, report.parse(proc.stdout), proc.stdout


def blank(path: Path, size: int = 1 << 20) -> Path:
    path.write_bytes(bytes(size))
    return path


def test_blank_disk_counts_zero_boots_then_one(host_check: Path, tmp_path: Path) -> None:
    disk = blank(tmp_path / "disk.img")
    code, first, out = run(host_check, "--disk", str(disk))
    assert code == 0, out
    assert first.passed and first.failed is None
    assert first.disk_boots == 0
    code, second, out = run(host_check, "--disk", str(disk))
    assert code == 0, out
    assert second.disk_boots == 1


def test_disk_region_holds_magic_and_counter(host_check: Path, tmp_path: Path) -> None:
    disk = blank(tmp_path / "disk.img")
    for _ in range(3):
        assert run(host_check, "--disk", str(disk))[0] == 0
    data = disk.read_bytes()
    assert data[:8] == b"AVMMCHK1"
    assert int.from_bytes(data[8:16], "little") == 3
    assert data[64 * 1024 :] == bytes(len(data) - 64 * 1024), "wrote past its 64 KiB"


def test_corrupted_pattern_from_previous_boot_fails(host_check: Path, tmp_path: Path) -> None:
    disk = blank(tmp_path / "disk.img")
    assert run(host_check, "--disk", str(disk))[0] == 0
    data = bytearray(disk.read_bytes())
    data[5000] ^= 0x40
    disk.write_bytes(bytes(data))
    code, result, out = run(host_check, "--disk", str(disk))
    assert code == 1
    assert result.failed == "disk"
    assert "avmm-check: disk bad pattern of boot 1 differs at byte 5000" in result.problems, out
    assert result.disk_boots is None


def test_missing_disk_is_skipped_but_fails(host_check: Path, tmp_path: Path) -> None:
    code, result, _ = run(host_check, "--disk", str(tmp_path / "absent.img"))
    assert code == 1
    assert result.disk_skipped == "missing"
    assert result.failed == "disk"
    assert not result.passed


def test_no_disk_requested_passes(host_check: Path) -> None:
    code, result, _ = run(host_check, "--no-disk")
    assert code == 0
    assert result.disk_skipped == "nodisk"
    assert result.passed


def test_disk_smaller_than_region_fails(host_check: Path, tmp_path: Path) -> None:
    disk = blank(tmp_path / "tiny.img", 4096)
    code, result, out = run(host_check, "--disk", str(disk))
    assert code == 1
    assert result.failed == "disk"
    assert "smaller than 64 KiB" in out
    assert disk.read_bytes() == bytes(4096)


def test_threads_cover_every_online_cpu(host_check: Path) -> None:
    code, result, out = run(host_check, "--no-disk")
    assert code == 0, out
    online = report.parse(out).cpus_online
    assert online is not None and online >= 1
    assert result.cpus_present == online
    assert result.atomics_threads == online
    assert result.atomics_total == online * 2000


def test_bad_arguments_exit_2_with_usage(host_check: Path) -> None:
    proc = subprocess.run(
        [str(host_check), "--iterations", "many"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "usage: avmm-check" in proc.stderr
    assert proc.stdout == ""
