"""Snapshots of a real 4-vCPU Linux guest at its shell, with disk writes in flight.

The guest is saved by the library (as the control API will) while a shell loop
writes a numbered pattern to its disk; the snapshot is restored by ``avmm run
--restore`` in a new process with a pty console, where a user finds the shell
answering, the loop finishing, every block of the pattern on the disk, and the
self-check (``avmm-check``: CPUs, atomics on every CPU, a disk) passing. With
``disks[].overlay`` two runs start from one snapshot and one base image, each
with its own overlay, and the base is never written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host
from avmm.snapshot import save_snapshot
from tests.consolesession import GUARD, ConsoleSession, lines_until
from tests.snapshot.linuxload import (
    PROMPT,
    expected_md5,
    pattern_ok,
    verify,
    wait_for,
    writes,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BLOCKS = 600
WRITER = writes(BLOCKS, "WRITES-DONE")
VERIFY = verify(BLOCKS)
EXPECTED_MD5 = expected_md5(BLOCKS)


def _toml(tmp: Path, linux: tuple[Path, Path], disk: Path, overlay: Path | None) -> Path:
    kernel, initrd = linux
    extra = f'overlay = "{overlay}"\n' if overlay is not None else ""
    run = overlay.stem if overlay else "plain"
    # the self-check's disk: blank for each run (it writes a boot counter there), so
    # every run's matches the blank one referenced by the snapshot
    check = tmp / f"check-{run}.img"
    if not check.exists():
        check.write_bytes(bytes(1 << 20))
    path = tmp / f"linux-{run}.toml"
    path.write_text(
        f"""version = 1
[vm]
name = "snap"
vcpus = 4
memory = "256MiB"
console = {{ backend = "pty" }}
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0"
[[vm.disks]]
path = "{disk}"
{extra}
[[vm.disks]]
path = "{check}"
"""
    )
    return path


async def _save_mid_writes(toml: Path, snap: Path) -> str:
    """Boot the guest, start the writer, snapshot it while it writes, stop at once
    (no instruction after the snapshot, so the disk stays as it was saved)."""
    config = avmm_config.load(toml)
    console = CaptureConsole()
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=console)
        assert board.vm is not None
        vm = board.vm
        run = asyncio.create_task(board.run())
        await wait_for(console, PROMPT)
        console.feed(WRITER.encode() + b"\r")
        await wait_for(console, "w50")
        host.scheduler.hold()
        await save_snapshot(vm, snap)
        printed = console.text()
        host.request_stop()
        host.scheduler.unhold()
        await asyncio.wait_for(run, GUARD)
    assert not re.search(r"^WRITES-DONE", printed, re.M), "the writes ended before the snapshot"
    return printed


@contextmanager
def _restored(toml: Path, snap: Path) -> Iterator[tuple[ConsoleSession, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "avmm.cli", "run", str(toml), "--restore", str(snap)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        (pty,) = lines_until(proc, r"avmm: snap: console on (/dev/pts/\d+)$")
        fd = os.open(pty[1], os.O_RDWR | os.O_NOCTTY)
        try:
            yield ConsoleSession(fd), proc
        finally:
            os.close(fd)
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def _finish_and_check(s: ConsoleSession) -> None:
    """In the restored guest: the writer finishes, the shell answers, the disk holds
    every block, the self-check passes, and the guest powers off."""
    s.type("")
    s.expect(r"\nWRITES-DONE\n", guard=3 * GUARD)  # slow on a busy host
    s.type("echo $((6 * 7)) is the answer")
    s.expect(r"\n42 is the answer\n")
    s.type(VERIFY)
    s.expect(rf"\n{EXPECTED_MD5}  -\n")
    s.type("avmm-check --disk /dev/vdb --iterations 2000 --timeout 60")
    s.expect(r"avmm-check: atomics ok threads=4")
    s.expect(r"avmm-check: PASS")
    s.type("sync; poweroff -f")


async def test_a_linux_shell_saved_mid_writes_comes_back_in_a_new_process(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(4 << 20))
    toml = _toml(tmp_path, linux, disk, None)
    snap = tmp_path / "shell.snap"
    await _save_mid_writes(toml, snap)
    assert not pattern_ok(disk.read_bytes(), BLOCKS), "the writes were over before the snapshot"
    assert snap.stat().st_size < 256 << 20  # sparse: much of RAM is never touched
    with _restored(toml, snap) as (session, _proc):
        _finish_and_check(session)
    assert pattern_ok(disk.read_bytes(), BLOCKS)


async def test_two_runs_start_from_one_snapshot_and_one_base_image(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    base = tmp_path / "base.img"
    base.write_bytes(bytes(4 << 20))
    before = hashlib.sha256(base.read_bytes()).hexdigest()
    snap = tmp_path / "overlay.snap"
    await _save_mid_writes(_toml(tmp_path, linux, base, tmp_path / "saved.ovl"), snap)
    for run in ("one", "two"):
        overlay = tmp_path / f"{run}.ovl"
        with _restored(_toml(tmp_path, linux, base, overlay), snap) as (session, _proc):
            _finish_and_check(session)
        assert overlay.stat().st_size == base.stat().st_size  # sparse, the base's size
        assert pattern_ok(overlay.read_bytes(), BLOCKS)  # written blocks at their own offsets
    assert hashlib.sha256(base.read_bytes()).hexdigest() == before


def _det_toml(tmp: Path, linux: tuple[Path, Path], disk: Path, name: str) -> Path:
    kernel, initrd = linux
    path = tmp / f"{name}.toml"
    path.write_text(
        f"""version = 1
[sched]
policy = "deterministic"
clock = "virtual"
seed = 7
[vm]
name = "det"
vcpus = 4
memory = "256MiB"
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0 earlycon avmm.check=1 avmm.check_iters=3000"
[[vm.disks]]
path = "{disk}"
"""
    )
    return path


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=GUARD * 3,
    )


def _vcpu_counts(report: Path) -> list[tuple[Any, ...]]:
    data = json.loads(report.read_text())
    return [
        (v["instructions"], v["exits"], v["slices"], v["directed_yields"])
        for v in data["vms"]["det"]["vcpus"]
    ]


def test_linux_snapshot_then_restore_equals_an_uninterrupted_run(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    """Deterministic policy, virtual clock: Linux's self-check (atomics on 4 CPUs,
    disk writes) run in one go, and run to 60% of its instructions, saved, and
    restored in a new process, print the same bytes and end with the same counts."""
    whole_disk, split_disk = tmp_path / "whole.img", tmp_path / "split.img"
    for disk in (whole_disk, split_disk):
        disk.write_bytes(bytes(1 << 20))
    whole = _cli(
        _det_toml(tmp_path, linux, whole_disk, "whole"),
        "--console",
        f"file:{tmp_path / 'whole.txt'}",
        "--report",
        tmp_path / "whole.json",
    )
    assert whole.returncode == 0, whole.stderr[-3000:]
    total = json.loads((tmp_path / "whole.json").read_text())["vms"]["det"]["instructions"]
    split = _det_toml(tmp_path, linux, split_disk, "split")
    snap = tmp_path / "det.snap"
    first = _cli(
        split,
        "--console",
        f"file:{tmp_path / 'first.txt'}",
        "--snapshot",
        snap,
        "--snapshot-at",
        total * 6 // 10,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    rest = _cli(
        split,
        "--console",
        f"file:{tmp_path / 'rest.txt'}",
        "--report",
        tmp_path / "rest.json",
        "--restore",
        snap,
    )
    assert rest.returncode == 0, rest.stderr[-3000:]
    whole_out = (tmp_path / "whole.txt").read_bytes()
    assert b"avmm-check: PASS" in whole_out
    assert (tmp_path / "first.txt").read_bytes() + (tmp_path / "rest.txt").read_bytes() == whole_out
    assert _vcpu_counts(tmp_path / "rest.json") == _vcpu_counts(tmp_path / "whole.json")
    assert split_disk.read_bytes() == whole_disk.read_bytes()
