"""Snapshots, restore and live migration driven through ``avmm ctl``, on real
``avmm run --api`` processes of the ctl-echo guest (it echoes console lines)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.api.conftest import GUARD, Running, start, wait_until


def _stop(run: Running) -> None:
    if run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()


def test_ctl_saves_a_running_vm_that_a_new_process_and_the_same_one_restore(
    running: Running, tmp_path: Path, demo: Path
) -> None:
    running.ctl("console", 'data="before\\r"')
    running.expect_console("echo: before\n")
    snap = tmp_path / "vm.snap"
    out = running.ctl("snapshot", f"path={snap}")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(rf"vm: {snap}, [\d.]+ MiB \([\d.]+ MiB of RAM\), [\d.]+ s\n", out.stdout)
    assert snap.stat().st_size > 0
    running.ctl("console", 'data="after\\r"')  # the VM went on running
    running.expect_console("echo: after\n")

    out = running.ctl("restore", f"path={snap}")  # back to the saved state, still running
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"vm: {snap}, ")
    running.ctl("console", 'data="again\\r"')
    running.expect_console("echo: again\n")

    twin = start(tmp_path / "twin", "--restore", str(snap), demo=demo, ready=None)
    try:
        twin.ctl("console", 'data="twin\\r"')
        twin.expect_console("echo: twin\n")
        assert "ctl-echo: ready" not in twin.console_text()  # it did not boot: it went on
    finally:
        _stop(twin)


def test_ctl_migrates_a_running_vm_to_an_incoming_process(
    running: Running, tmp_path: Path, demo: Path
) -> None:
    target = start(
        tmp_path / "target",
        "--incoming",
        "127.0.0.1:0",
        demo=demo,
        ready=None,
        listening="waiting for a migration on",
    )
    try:
        m = re.search(r"waiting for a migration on (\S+)", target.stderr.read_text())
        assert m is not None
        out = running.ctl("migrate", f"address={m[1]}")
        assert out.returncode == 0, out.stderr
        assert re.fullmatch(
            rf"vm: migrated to {re.escape(m[1])} in [\d.]+ s, \d+ round\(s\), [\d.]+ MiB "
            r"sent, downtime [\d.]+ ms\n",
            out.stdout,
        )
        assert running.proc.wait(timeout=GUARD) == 0  # the source stops once the target runs
        wait_until("the target's API", lambda: "control API at" in target.stderr.read_text())
        target.ctl("console", 'data="moved\\r"')
        target.expect_console("echo: moved\n")
    finally:
        _stop(target)


def test_bad_snapshot_and_migration_requests_are_error_replies(
    running: Running, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.snap"
    garbage.write_bytes(b"not a snapshot")
    out = running.ctl("restore", f"path={garbage}")
    assert out.returncode == 1
    assert out.stderr == (
        f"avmm: error: restore: {garbage}: not an avmm snapshot (bad magic) (GenericError)\n"
    )
    fifo = tmp_path / "fifo.snap"
    os.mkfifo(fifo)
    for endless in (Path("/dev/zero"), fifo):  # never read to an end: refused at once
        out = running.ctl("restore", f"path={endless}")
        assert out.returncode == 1
        assert out.stderr == (
            f"avmm: error: restore: {endless}: not a snapshot file (not a regular file) "
            "(GenericError)\n"
        )
    out = running.ctl("snapshot", f"path={tmp_path / 'no' / 'such' / 'dir' / 'x.snap'}")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    out = running.ctl("migrate", "address=nowhere")
    assert out.returncode == 1 and "address" in out.stderr
    out = running.ctl("migrate", "address=127.0.0.1:1")  # nobody listens: the VM stays here
    assert out.returncode == 1
    running.ctl("console", 'data="still here\\r"')
    running.expect_console("echo: still here\n")
