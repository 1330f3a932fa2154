"""Guest output never blocks the VMM (issue 15, items 2, 3, 6).

A console on a pipe nobody reads, a console file on a full filesystem, a
console piped to ``head``: the event loop keeps running (metrics answer,
signals act), errors are one line, not one per byte."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harden.proc import GUARD, Avmm


@pytest.fixture
def flood(hostile: Path) -> Path:
    return hostile / "uart-flood.elf"


def _metrics(avmm: Avmm) -> str:
    url = avmm.wait_line(r"metrics at (http://\S+)").group(1)
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200
        return str(reply.read().decode())


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {prefix} in the scrape")


@pytest.fixture
def unread_pipe() -> Iterator[int]:
    """The write end of a pipe nobody reads (its read end stays open)."""
    r, w = __import__("os").pipe()
    yield w
    __import__("os").close(r)


@pytest.mark.slow
def test_a_stdio_console_on_a_pipe_nobody_reads_does_not_stop_the_vmm(
    flood: Path, unread_pipe: int
) -> None:
    # Item 2: the pipe fills after 64 KiB; a blocking write used to stop the
    # event loop (metrics answered 500, SIGTERM waited for the pipe).
    avmm = Avmm(
        [
            "run",
            "--kernel",
            flood,
            "--console",
            "stdio",
            "--set",
            "metrics.enabled=true",
            "--set",
            "metrics.port=0",
        ],
        stdout=unread_pipe,
    )
    try:
        # Scrapes answer while the guest runs on and the host side drops.
        dropped = 'avmm_console_dropped_bytes_total{device="host",direction="out",vm="vm"}'
        deadline = time.monotonic() + GUARD
        before = _sample(_metrics(avmm), "avmm_vcpu_instructions_total")
        while True:
            scrape = _metrics(avmm)
            if _sample(scrape, dropped) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _sample(scrape, dropped) > 0
        assert _sample(scrape, "avmm_vcpu_instructions_total") > before
        avmm.signal(signal.SIGTERM)
        assert avmm.wait() == 0
    finally:
        avmm.kill()
    assert "avmm: vm: stopped by a signal" in avmm.stderr


@pytest.mark.slow
def test_a_console_file_on_a_full_filesystem_is_one_warning(flood: Path) -> None:
    # Item 3: /dev/full answers every write with ENOSPC, as a full disk does.
    # It used to escape from the UART's THR write: a traceback and exit 1.
    avmm = Avmm(["run", "--kernel", flood, "--console", "file:/dev/full", "--timeout", "1"])
    code = avmm.wait()
    assert code == 1, avmm.stderr  # the timeout: the guest floods for ever
    assert "Traceback" not in avmm.stderr
    warnings = [line for line in avmm.lines if "console output to /dev/full failed" in line]
    assert len(warnings) == 1, avmm.stderr
    assert "No space left on device" in warnings[0]
    assert "avmm: error: --timeout: stopped after 1 s; exit status 1" in avmm.stderr
    avmm.kill()


@pytest.mark.slow
def test_a_console_piped_to_a_reader_that_leaves_stops_the_run_with_one_line(
    flood: Path,
) -> None:
    # Item 6: `avmm run ... | head -c 10`: the reader leaves, every later write
    # is EPIPE. It used to log one line per guest byte and never stop.
    avmm = Avmm(["run", "--kernel", flood, "--console", "stdio"], stdout=subprocess.PIPE)
    assert avmm.proc.stdout is not None
    assert avmm.proc.stdout.read(10) == b"x" * 10
    avmm.proc.stdout.close()
    assert avmm.wait() == 0, avmm.stderr
    pipe_lines = [line for line in avmm.lines if "broken pipe" in line]
    assert len(pipe_lines) == 1, avmm.stderr
    assert "stopping" in pipe_lines[0]
    assert "avmm: vm: stopped" in avmm.stderr
    avmm.kill()
