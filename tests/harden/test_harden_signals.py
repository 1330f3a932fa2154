"""Every signal a terminal or a supervisor sends has a defined behaviour
(issue 15, items 7 and 10; README "Limits and guarantees").

INT, TERM, HUP and QUIT stop the run the orderly way (summary, report, exit
0); QUIT writes the threads' stacks first; PIPE is ignored; TSTP gives the
terminal back cooked and CONT puts the stdio console in raw mode again."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import termios
import time
import urllib.request
from pathlib import Path

import pytest

from tests.harden.proc import GUARD, Avmm


def _run(hostile: Path, report: Path, *extra: str, **popen: object) -> Avmm:
    avmm = Avmm(
        ["run", "--kernel", hostile / "uart-flood.elf", "--report", report, *extra], **popen
    )
    return avmm


def _running(avmm: Avmm) -> None:
    """Wait until the guest runs (the metrics line comes after the VM is built)."""
    avmm.wait_line(r"metrics at http://")


METRICS = ("--set", "metrics.enabled=true", "--set", "metrics.port=0")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_run_with_the_summary_and_the_report(
    hostile: Path, tmp_path: Path, signum: int
) -> None:
    # Item 10: SIGHUP (the terminal closed) used to kill avmm by its default
    # action: no disk flush, no summary, no report.
    report = tmp_path / "report.json"
    avmm = _run(hostile, report, "--console", "null", *METRICS)
    try:
        _running(avmm)
        avmm.signal(signum)
        assert avmm.wait() == 0, avmm.stderr
    finally:
        avmm.kill()
    assert "avmm: vm: stopped by a signal, exit code 0" in avmm.stderr
    assert "vcpu0:" in avmm.stderr  # the summary
    data = json.loads(report.read_text())
    assert data["exit_status"] == 0
    assert data["vms"]["vm"]["exit"]["kind"] == "Interrupted"


@pytest.mark.slow
def test_sigquit_writes_the_stacks_then_stops_in_order(hostile: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    avmm = _run(hostile, report, "--console", "null", *METRICS)
    try:
        _running(avmm)
        avmm.signal(signal.SIGQUIT)
        assert avmm.wait() == 0, avmm.stderr
    finally:
        avmm.kill()
    assert "(most recent call first)" in avmm.stderr
    assert "avmm: vm: stopped by a signal, exit code 0" in avmm.stderr
    assert json.loads(report.read_text())["exit_status"] == 0


@pytest.mark.slow
def test_sigpipe_is_ignored(hostile: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    avmm = _run(hostile, report, "--console", "null", *METRICS)
    try:
        _running(avmm)
        avmm.signal(signal.SIGPIPE)
        avmm.signal(signal.SIGTERM)  # had PIPE killed it, the status would be -13
        assert avmm.wait() == 0, avmm.stderr
    finally:
        avmm.kill()
    assert "avmm: vm: stopped by a signal, exit code 0" in avmm.stderr


def _raw(fd: int) -> bool:
    lflag = termios.tcgetattr(fd)[3]
    return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)


def _until(what: str, check: object) -> None:
    assert callable(check)
    deadline = time.monotonic() + GUARD
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {GUARD} s"
        time.sleep(0.02)


def _input_bytes(url: str) -> float:
    """Host input the console backend received, from a scrape."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    series = 'avmm_console_bytes_total{device="host",direction="in",vm="vm"} '
    return sum(float(line.split(" ")[1]) for line in text.splitlines() if line.startswith(series))


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.slow
def test_tstp_gives_the_terminal_back_and_cont_makes_it_raw_again(
    hostile: Path, tmp_path: Path
) -> None:
    # Item 7: after SIGTSTP and `fg` the terminal stayed cooked (the shell sets
    # its own mode while a job is stopped), so a Ctrl-C meant for the guest
    # stopped avmm. The pty is avmm's controlling terminal, as a shell's is.
    master, slave = os.openpty()
    cooked = termios.tcgetattr(slave)

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    report = tmp_path / "report.json"
    avmm = Avmm(
        [
            "run",
            "--kernel",
            hostile / "getchar.elf",
            "--console",
            "stdio",
            "--report",
            report,
            *METRICS,
        ],
        stdin=slave,
        stdout=slave,
        preexec_fn=own_terminal,
    )
    try:
        _until("raw", lambda: _raw(slave))
        avmm.signal(signal.SIGTSTP)
        _until("stopped", lambda: _state(avmm.proc.pid) == "T")
        assert not _raw(slave)  # given back cooked
        termios.tcsetattr(slave, termios.TCSANOW, cooked)  # the shell's own mode
        avmm.signal(signal.SIGCONT)
        _until("raw again", lambda: _raw(slave))
        url = avmm.wait_line(r"metrics at (http://\S+)").group(1)
        os.write(master, b"\x03")  # a Ctrl-C for the guest, not a SIGINT for avmm
        _until("the Ctrl-C reached the guest's console", lambda: _input_bytes(url) >= 1)
        avmm.signal(signal.SIGTERM)
        assert avmm.wait() == 0, avmm.stderr
        assert json.loads(report.read_text())["vms"]["vm"]["exit"]["kind"] == "Interrupted"
        assert avmm.proc.returncode == 0
        assert "stopped by a signal" in avmm.stderr
        assert not _raw(slave)  # restored at exit
    finally:
        avmm.kill()
        os.close(master)
        os.close(slave)
