"""``avmm stat``: exit rates of a running avmm, as text and as a live curses view."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import struct
import sys
import termios
from collections.abc import AsyncIterator

import pytest

from avmm.obs.exporter import Exporter, start_exporter
from avmm.obs.stat import DEFAULT_URL, Sample, compute, normalize_url, parse, render
from avmm.runtime.host import Host
from tests.obs.busy import busy_vm, running

STAT = (sys.executable, "-m", "avmm.obs.stat")


@pytest.fixture
async def exporter() -> AsyncIterator[Exporter]:
    async with Host(pcpus=2) as host:
        busy_vm(host, vcpus=2)
        with start_exporter(host, port=0) as exporter:
            async with running(host):
                yield exporter


def rate_of(lines: list[str], first: str) -> float:
    """The /s column of the exit-reason row ``first``."""
    for line in lines:
        cols = line.split()
        if cols and cols[0] == first:
            return float(cols[2].replace(",", ""))
    raise AssertionError(f"no row {first!r} in:\n" + "\n".join(lines))


async def test_once_prints_exit_rates_per_reason_and_per_vcpu(exporter: Exporter) -> None:
    proc = await asyncio.create_subprocess_exec(
        *STAT, exporter.url, "--once", "--interval", "0.5", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    lines = out.decode().splitlines()
    assert lines[0].startswith(f"avmm stat  {exporter.url}, rates over ")
    assert lines[1].startswith("1 VM(s), 2 vCPU(s), ")
    for reason in ("mmio_read", "mmio_write", "wfi"):
        assert rate_of(lines, reason) > 0
    header = next(line for line in lines if line.startswith("vCPU"))
    assert header.split()[:4] == ["vCPU", "MIPS", "exits/s", "halt%"]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("busy/")}
    assert set(rows) == {"busy/0", "busy/1"}
    for cols in rows.values():
        assert float(cols[1]) > 0  # MIPS
        assert float(cols[2].replace(",", "")) > 0  # exits/s


async def test_an_unreachable_endpoint_is_reported() -> None:
    async with Host() as host:
        with start_exporter(host, port=0) as gone:
            url = gone.url
    proc = await asyncio.create_subprocess_exec(
        *STAT, url, "--once", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().startswith(f"avmm stat: cannot read {url}: ")


_ESCAPE = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z@]|[()][0-9A-B]|[=>78])")


async def test_live_view_in_a_terminal_shows_nonzero_rates_and_quits_on_q(
    exporter: Exporter,
) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
    env = {**os.environ, "TERM": "xterm", "LINES": "30", "COLUMNS": "110"}
    proc = await asyncio.create_subprocess_exec(
        *STAT, exporter.url, "--interval", "0.3", stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    screen = b""
    try:
        wfi = re.compile(rb"wfi +[\d,]+ +([\d,]+)")
        rates: list[int] = []
        while not any(rates):
            chunk = await asyncio.wait_for(asyncio.to_thread(os.read, master, 65536), 60)
            screen += chunk
            text = _ESCAPE.sub(b" ", screen)
            rates = [int(m.group(1).replace(b",", b"")) for m in wfi.finditer(text)]
        assert b"busy/0" in text and b"busy/1" in text
        assert b"q quits" in text
        os.write(master, b"q")
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(OSError):
            while os.read(master, 65536):  # drain until the child's side is gone
                pass
        os.close(master)


# ---------------------------------------------------------------- the arithmetic


EXPOSITION = """\
# TYPE avmm_vcpu_exits_total counter
avmm_vcpu_exits_total{{vm="a",vcpu="0",reason="wfi"}} {w0}
avmm_vcpu_exits_total{{vm="a",vcpu="0",reason="budget"}} {b0}
avmm_vcpu_exits_total{{vm="a",vcpu="1",reason="wfi"}} {w1}
avmm_vcpu_exits_total{{vm="a",vcpu="1",reason="budget"}} 0
# TYPE avmm_vcpu_instructions_total counter
avmm_vcpu_instructions_total{{vm="a",vcpu="0"}} {i0}
avmm_vcpu_instructions_total{{vm="a",vcpu="1"}} {i1}
# TYPE avmm_vcpu_halt_wait_seconds_total counter
avmm_vcpu_halt_wait_seconds_total{{vm="a",vcpu="0"}} {h0}
avmm_vcpu_halt_wait_seconds_total{{vm="a",vcpu="1"}} 0
"""


def sample(at: float, **values: float) -> Sample:
    return parse(EXPOSITION.format(**values), at)


def test_rates_are_the_differences_over_the_interval() -> None:
    first = sample(10.0, w0=100, b0=5, w1=0, i0=1e6, i1=0, h0=1.0)
    second = sample(12.0, w0=300, b0=25, w1=40, i0=5e6, i1=2e6, h0=2.5)
    frame = compute(first, second)
    assert frame.interval == 2.0
    assert (frame.vms, frame.vcpus) == (1, 2)
    assert [(r.name, r.total, r.rate) for r in frame.reasons] == [
        ("wfi", 340, 120.0),
        ("budget", 25, 10.0),
    ]
    assert frame.instructions.rate == 3e6
    v0, v1 = frame.vcpu_rows
    assert (v0.name, v0.mips, v0.exits, v0.halt) == ("a/0", 2.0, 100.0, 0.75)
    assert (v1.name, v1.mips, v1.exits, v1.halt) == ("a/1", 1.0, 20.0, 0.0)
    lines = render(frame, "http://x/metrics")
    assert lines[0] == "avmm stat  http://x/metrics, rates over 2.0 s"
    assert lines[1] == "1 VM(s), 2 vCPU(s), 3.0 MIPS"
    assert rate_of(lines, "wfi") == 120
    assert lines[-2].split() == ["a/0", "2.00", "100", "75", "100"]


def test_the_first_read_has_totals_but_no_rates() -> None:
    frame = compute(None, sample(1.0, w0=7, b0=1, w1=0, i0=10, i1=0, h0=0))
    assert frame.interval is None
    assert [(r.name, r.total, r.rate) for r in frame.reasons] == [
        ("wfi", 7, None),
        ("budget", 1, None),
    ]
    assert frame.vcpu_rows[0].mips is None
    assert render(frame, "u")[4].split() == ["wfi", "7", "-", "-"]


def test_a_restarted_avmm_counts_from_zero_again() -> None:
    before = sample(0.0, w0=1000, b0=0, w1=0, i0=1e9, i1=0, h0=5)
    after = sample(1.0, w0=30, b0=0, w1=0, i0=1e6, i1=0, h0=0.5)
    frame = compute(before, after)
    assert frame.reasons[0].rate == 30
    assert frame.vcpu_rows[0].mips == 1.0


def test_urls_default_and_complete_themselves() -> None:
    assert normalize_url(None) == DEFAULT_URL == "http://127.0.0.1:9464/metrics"
    assert normalize_url("10.0.0.2:9999") == "http://10.0.0.2:9999/metrics"
    assert normalize_url("http://h:1") == "http://h:1/metrics"
    assert normalize_url("http://h:1/other") == "http://h:1/other"
