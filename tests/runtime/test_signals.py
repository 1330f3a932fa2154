"""Host signals: SIGTERM/SIGINT stop every vCPU cleanly; a second SIGINT forces the exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.signal_vm", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "ready\n", line + proc.stderr.read() if proc.stderr else line
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_vm_cleanly(guests: Path, signum: int) -> None:
    proc = start()
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)  # a hang guard, not a speed check
    elapsed = time.monotonic() - sent
    assert proc.returncode == 0, err
    assert "flushing" in out
    assert f"stopped by signal {int(signum)}: Interrupted(vcpu=" in out
    assert "reason=<StopReason.SIGNAL" in out
    assert "busy:" in out and "vcpu1:" in out  # the summary
    print(f"stopped {elapsed:.3f}s after the signal")


@pytest.mark.slow
def test_second_sigint_forces_the_exit(guests: Path) -> None:
    proc = start("--stuck-flush")
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "flushing\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "forced exit" in out, err
    assert proc.returncode == 130
