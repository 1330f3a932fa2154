"""`python -m guests.build` says what it is doing: lock waits and long commands."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

import guests.build as guest_build
from guests.build import Step, build, cache_root

REPO = Path(__file__).resolve().parents[2]


def test_a_build_waiting_for_another_says_so_and_then_goes_on() -> None:
    build("demo", quiet=True)  # cached: the waiting build has only to link it
    lock = cache_root() / ".demo.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-m", "guests.build", "demo"],
            cwd=REPO,
            env={**os.environ, "AVMM_BUILD_HEARTBEAT": "0.5"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        first = proc.stderr.readline()  # blocks until the builder speaks
        assert first.startswith("[guests] demo: waiting for another build of demo to finish")
        assert str(lock) in first
        assert proc.poll() is None  # it really waits
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "[guests] demo: the other build is done" in err
    assert Path(out.strip()).is_dir()


def test_a_long_command_reports_that_it_is_still_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guest_build, "HEARTBEAT", 0.3)
    step = Step("probe", tmp_path, tmp_path / "probe.log", quiet=False)
    step.run("sh", "-c", "echo CC kernel/sched/core.o; sleep 1.2")
    err = capsys.readouterr().err.splitlines()
    still = [line for line in err if "still running sh" in line]
    assert len(still) >= 2, err
    assert still[0].startswith(
        "[guests] probe: still running sh (0s so far): CC kernel/sched/core.o"
    )
