"""Snapshots through the command line with a real bare-metal SMP guest.

Deterministic equivalence: under the deterministic policy and the virtual
clock, a run that stops at a snapshot after N instructions followed by a run
restored from it prints exactly what one uninterrupted run prints, and ends
with the same per-vCPU instruction, exit and slice counts. Bad snapshot files
get one line naming what is wrong, exit status 2, and nothing runs.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AVMM = [sys.executable, "-m", "avmm.cli", "run"]
# what a vCPU's counts must equal across snapshot and restore (halt_wait_seconds
# is host time)
COUNTS = ("instructions", "exits", "slices", "directed_yields", "pause_exits")


def _config(
    tmp_path: Path, demo: Path, *, vcpus: int = 4, seed: int = 1, irqchip: str = "core"
) -> Path:
    toml = tmp_path / "det.toml"
    toml.write_text(
        f"""version = 1
[sched]
policy = "deterministic"
clock = "virtual"
seed = {seed}
[vm]
name = "det"
vcpus = {vcpus}
irqchip = "{irqchip}"
memory = "64MiB"
boot = {{ mode = "firmware", firmware = "{demo / "smp-demo.elf"}" }}
"""
    )
    return toml


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AVMM, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _counts(report: Path) -> dict[int, dict[str, Any]]:
    data = json.loads(report.read_text())
    return {v["vcpu"]: {k: v[k] for k in COUNTS} for v in data["vms"]["det"]["vcpus"]}


@pytest.mark.parametrize(
    ("at", "jit", "irqchip"),
    [
        (1_000_000, "1", "core"),
        (3_000_000, "1", "core"),
        (4_500_000, "0", "core"),
        (2_500_000, "1", "python"),  # the CLINT and PLIC as device models on the bus
    ],
)
def test_snapshot_then_restore_equals_an_uninterrupted_run(
    demo: Path, tmp_path: Path, at: int, jit: str, irqchip: str
) -> None:
    cfg = _config(tmp_path, demo, irqchip=irqchip)
    env = {"AVMM_JIT": jit}
    whole = _run(
        cfg,
        "--console",
        f"file:{tmp_path / 'whole.txt'}",
        "--report",
        tmp_path / "whole.json",
        env=env,
    )
    assert whole.returncode == 0, whole.stderr
    snap = tmp_path / "det.snap"
    first = _run(
        cfg,
        "--console",
        f"file:{tmp_path / 'first.txt'}",
        "--snapshot",
        snap,
        "--snapshot-at",
        at,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    assert "snapshot at" in first.stderr and "stopped" in first.stderr
    rest = _run(
        cfg,
        "--console",
        f"file:{tmp_path / 'rest.txt'}",
        "--report",
        tmp_path / "rest.json",
        "--restore",
        snap,
        env=env,
    )
    assert rest.returncode == 0, rest.stderr
    assert "restored from" in rest.stderr
    printed = (tmp_path / "first.txt").read_bytes() + (tmp_path / "rest.txt").read_bytes()
    whole_out = (tmp_path / "whole.txt").read_bytes()
    assert (tmp_path / "first.txt").read_bytes(), "the snapshot came before any output"
    assert (tmp_path / "rest.txt").read_bytes(), "the snapshot came after all output"
    assert printed == whole_out
    assert _counts(tmp_path / "rest.json") == _counts(tmp_path / "whole.json")


def test_the_snapshot_file_is_sparse_and_restores_with_the_interpreter_too(
    demo: Path, tmp_path: Path
) -> None:
    """A 64 MiB guest that touches little RAM makes a small file; a snapshot taken
    with the translator restores on the interpreter alone (no JIT state in it)."""
    cfg = _config(tmp_path, demo)
    snap = tmp_path / "det.snap"
    first = _run(cfg, "--console", "null", "--snapshot", snap, "--snapshot-at", 2_000_000)
    assert first.returncode == 0, first.stderr
    assert snap.stat().st_size < 2 << 20
    whole = _run(cfg, "--console", "null", "--report", tmp_path / "whole.json")
    rest = _run(
        cfg,
        "--console",
        "null",
        "--report",
        tmp_path / "rest.json",
        "--restore",
        snap,
        env={"AVMM_JIT": "0"},
    )
    assert whole.returncode == rest.returncode == 0, rest.stderr
    assert _counts(tmp_path / "rest.json") == _counts(tmp_path / "whole.json")


# ------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def good_snapshot(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("snap")
    cfg = _config(tmp, demo)
    snap = tmp / "good.snap"
    proc = _run(cfg, "--console", "null", "--snapshot", snap, "--snapshot-at", 500_000)
    assert proc.returncode == 0, proc.stderr
    return snap


def _restore_fails(tmp_path: Path, demo: Path, snap: Path, vcpus: int = 4) -> str:
    cfg = _config(tmp_path, demo, vcpus=vcpus)
    out = tmp_path / "console.txt"
    proc = _run(cfg, "--console", f"file:{out}", "--restore", snap)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("avmm: error: ")
    assert not out.exists() or out.read_bytes() == b"", "the guest ran"
    return lines[0]


def test_a_truncated_snapshot_is_named_and_nothing_runs(
    good_snapshot: Path, demo: Path, tmp_path: Path
) -> None:
    data = good_snapshot.read_bytes()
    for keep in (10, 200, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{keep}.snap"
        bad.write_bytes(data[:keep])
        assert "truncated snapshot" in _restore_fails(tmp_path, demo, bad)


def test_a_corrupt_snapshot_fails_its_checksum(
    good_snapshot: Path, demo: Path, tmp_path: Path
) -> None:
    data = bytearray(good_snapshot.read_bytes())
    data[len(data) // 2] ^= 0x40  # one bit flipped in the RAM pages
    bad = tmp_path / "flip.snap"
    bad.write_bytes(bytes(data))
    assert "corrupt snapshot (checksum mismatch)" in _restore_fails(tmp_path, demo, bad)


def test_another_format_version_is_refused(good_snapshot: Path, demo: Path, tmp_path: Path) -> None:
    data = bytearray(good_snapshot.read_bytes())
    struct.pack_into("<I", data, 8, 99)
    bad = tmp_path / "v99.snap"
    bad.write_bytes(bytes(data))
    line = _restore_fails(tmp_path, demo, bad)
    assert "snapshot format version 99; this avmm reads version 1" in line


def test_a_file_that_is_no_snapshot_is_refused(demo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a snapshot at all\n")
    assert "not an avmm snapshot" in _restore_fails(tmp_path, demo, bad)


def test_a_snapshot_of_another_machine_is_refused(
    good_snapshot: Path, demo: Path, tmp_path: Path
) -> None:
    line = _restore_fails(tmp_path, demo, good_snapshot, vcpus=2)
    assert "snapshot is of a machine with 4 vCPUs, VM det has 2" in line


def test_snapshot_flags_are_checked(demo: Path, tmp_path: Path) -> None:
    cfg = _config(tmp_path, demo)
    proc = _run(cfg, "--snapshot", tmp_path / "x.snap")
    assert proc.returncode == 2
    assert "--snapshot-at: --snapshot FILE and --snapshot-at INSNS go together" in proc.stderr
    proc = _run(
        cfg, "--console", "null", "--snapshot", tmp_path / "x.snap", "--snapshot-at", 10**12
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        "--snapshot-at: the VM ended before 1000000000000 instructions; no snapshot" in proc.stderr
    )
    assert not (tmp_path / "x.snap").exists()
    proc = _run(cfg, "--restore", tmp_path / "missing.snap")
    assert proc.returncode == 2
    assert "missing.snap does not exist" in proc.stderr
