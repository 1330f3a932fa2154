"""``avmm stat``: exit rates of a running avmm, as text and as a live view (rich)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import shlex
import struct
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from avmm.obs.exporter import Exporter, start_exporter
from avmm.obs.stat import DEFAULT_URL, Sample, compute, normalize_url, parse, render
from avmm.runtime.host import Host
from tests.obs.busy import busy_vm, running

STAT = (sys.executable, "-m", "avmm", "stat")


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
    assert header.split()[:5] == ["vCPU", "MIPS", "exits/s", "halt%", "steal%"]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("busy/")}
    assert set(rows) == {"busy/0", "busy/1"}
    for cols in rows.values():
        assert float(cols[1]) > 0  # MIPS
        assert float(cols[2].replace(",", "")) > 0  # exits/s
        assert cols[4] == "0"  # steal%: two vCPUs on two pCPUs never wait for one


async def test_once_shows_the_steal_of_vcpus_that_outnumber_the_pcpus() -> None:
    # two vCPUs that hardly ever sleep share one pCPU: each waits for it about half
    # of the time, which is its steal time (as the guest would read it through STA)
    async with Host(pcpus=1) as host:
        busy_vm(host, vcpus=2, spin=1_000_000, delay=10)
        with start_exporter(host, port=0) as exporter:
            async with running(host):
                proc = await asyncio.create_subprocess_exec(
                    *STAT, exporter.url, "--once", "--interval", "1", stdout=asyncio.subprocess.PIPE
                )
                out, _ = await proc.communicate()
    assert proc.returncode == 0
    rows = [line.split() for line in out.decode().splitlines() if line.startswith("busy/")]
    assert [cols[0] for cols in rows] == ["busy/0", "busy/1"]
    for cols in rows:
        assert 25 <= int(cols[4]) <= 75, rows  # steal%


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
    assert "metrics.enabled=true" in err.decode()  # metrics are off by default: say so


_ESCAPE = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z@]|[()][0-9A-B]|[=>78])")


async def _read_until(master: int, pattern: re.Pattern[bytes], screen: bytearray) -> bytes:
    """Read the pty until the screen text so far (escapes blanked) matches ``pattern``."""
    while True:
        chunk = await asyncio.wait_for(asyncio.to_thread(os.read, master, 65536), 60)
        screen += chunk
        text = _ESCAPE.sub(b" ", bytes(screen))
        if pattern.search(text):
            return text


@contextlib.asynccontextmanager
async def _stat_in_a_terminal(url: str, rows: int, cols: int) -> AsyncIterator[tuple[int, Any]]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**os.environ, "TERM": "xterm", "LINES": str(rows), "COLUMNS": str(cols)}
    proc = await asyncio.create_subprocess_exec(
        *STAT, url, "--interval", "0.3", stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    try:
        yield master, proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(OSError):
            while os.read(master, 65536):  # drain until the child's side is gone
                pass
        os.close(master)


async def test_live_view_in_a_terminal_shows_nonzero_rates_and_quits_on_q(
    exporter: Exporter,
) -> None:
    async with _stat_in_a_terminal(exporter.url, 30, 110) as (master, proc):
        screen = bytearray()
        text = await _read_until(master, re.compile(rb"wfi +[\d,]+ +[1-9][\d,]* "), screen)
        assert b"busy/0" in text and b"busy/1" in text
        assert b"q quits" in text
        os.write(master, b"v")  # the per-VM table
        await _read_until(master, re.compile(rb"busy \(2\)"), screen)
        os.write(master, b"q")
        assert await asyncio.wait_for(proc.wait(), 60) == 0


async def test_rows_that_do_not_fit_are_scrolled_to_not_cut() -> None:
    async with Host(pcpus=1) as host:
        busy_vm(host, vcpus=16)
        with start_exporter(host, port=0) as exporter:
            async with running(host), _stat_in_a_terminal(exporter.url, 20, 100) as (m, proc):
                screen = bytearray()
                text = await _read_until(m, re.compile(rb"rows 1-(\d+) of 16"), screen)
                shown = int(re.findall(rb"rows 1-(\d+) of 16", text)[-1])
                assert 1 <= shown < 16
                assert b"busy/15" not in text
                os.write(m, b"\x1b[6~")  # PgDn, as many times as it takes
                os.write(m, b"\x1b[6~")
                os.write(m, b"\x1b[6~")
                text = await _read_until(m, re.compile(rb"rows \d+-16 of 16"), screen)
                assert b"busy/15" in text
                os.write(m, b"q")
                assert await asyncio.wait_for(proc.wait(), 60) == 0


async def test_once_into_a_pipe_that_closes_early_is_quiet(exporter: Exporter) -> None:
    # `true` exits before the two reads are done: every write meets a closed pipe.
    proc = await asyncio.create_subprocess_shell(
        f"{shlex.join(STAT)} {exporter.url} --once --interval 0.3 | true; "
        f"{shlex.join(STAT)} {exporter.url} --once --interval 0.3 | head -1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert out.decode().startswith("avmm stat  ") and len(out.splitlines()) == 1
    assert err == b""  # no BrokenPipeError traceback


async def test_an_endpoint_that_is_not_avmm_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "metrics").write_text("# TYPE up gauge\nup 1\n")
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "http.server",
        "0",
        "--bind",
        "127.0.0.1",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 30)
        port = int(re.findall(rb"port (\d+)", line)[0])
        url = f"http://127.0.0.1:{port}/metrics"
        proc = await asyncio.create_subprocess_exec(
            *STAT, url, "--once", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
    finally:
        server.terminate()
        await server.wait()
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().strip() == (
        f"avmm stat: {url} is not an avmm metrics endpoint (it exports no avmm_* metric); "
        "give the address avmm printed as `avmm: metrics at URL`"
    )


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
# TYPE avmm_vcpu_steal_seconds_total counter
avmm_vcpu_steal_seconds_total{{vm="a",vcpu="0"}} {s0}
avmm_vcpu_steal_seconds_total{{vm="a",vcpu="1"}} 0
# TYPE avmm_vm_guest_time_seconds gauge
avmm_vm_guest_time_seconds{{vm="a"}} {g}
"""


def sample(at: float, **values: float) -> Sample:
    return parse(EXPOSITION.format(**{"s0": 0, "g": at, **values}), at)


def test_rates_are_the_differences_over_the_interval() -> None:
    # the guest clock ran 4 s over 2 s of wall time (a virtual clock): steal is a
    # share of the guest's time, 1 s of 4
    first = sample(10.0, w0=100, b0=5, w1=0, i0=1e6, i1=0, h0=1.0, s0=0.5, g=20.0)
    second = sample(12.0, w0=300, b0=25, w1=40, i0=5e6, i1=2e6, h0=2.5, s0=1.5, g=24.0)
    frame = compute(first, second)
    assert frame.interval == 2.0
    assert (frame.vms, frame.vcpus) == (1, 2)
    assert [(r.name, r.total, r.rate) for r in frame.reasons] == [
        ("wfi", 340, 120.0),
        ("budget", 25, 10.0),
    ]
    assert frame.instructions.rate == 3e6
    v0, v1 = frame.vcpu_rows
    assert (v0.name, v0.mips, v0.exits, v0.halt, v0.steal) == ("a/0", 2.0, 100.0, 0.75, 0.25)
    assert (v1.name, v1.mips, v1.exits, v1.halt, v1.steal) == ("a/1", 1.0, 20.0, 0.0, 0.0)
    lines = render(frame, "http://x/metrics")
    assert lines[0] == "avmm stat  http://x/metrics, rates over 2.0 s"
    assert lines[1] == "1 VM(s), 2 vCPU(s), 3.0 MIPS"
    assert rate_of(lines, "wfi") == 120
    assert lines[-2].split() == ["a/0", "2.00", "100", "75", "25", "100"]


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


def test_the_sort_orders_reasons_by_total_or_name() -> None:
    first = sample(10.0, w0=100, b0=5, w1=0, i0=1e6, i1=0, h0=1.0)
    second = sample(12.0, w0=110, b0=500, w1=0, i0=5e6, i1=2e6, h0=2.5)
    assert [r.name for r in compute(first, second, "rate").reasons] == ["budget", "wfi"]
    assert [r.name for r in compute(first, second, "name").reasons] == ["budget", "wfi"]
    third = sample(14.0, w0=2000, b0=501, w1=0, i0=5e6, i1=2e6, h0=2.5)
    assert [r.name for r in compute(second, third, "total").reasons] == ["wfi", "budget"]
    assert [r.name for r in compute(second, third, "name").reasons] == ["budget", "wfi"]
