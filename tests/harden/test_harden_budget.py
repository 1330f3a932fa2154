"""Resource budget: hostile guests run for a fixed number of instructions while
the test samples this process's RSS, open fds and threads; each stays under a
stated ceiling (README "Limits and guarantees").

The ceilings are growth over the run, measured from a sample taken once the
guest has run a tenth of its instructions (so start-up allocations, the
translator's first blocks, the first log lines are not counted)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from avmm.devices.backends.char import FileChar, StdioChar, TcpChar
from avmm.devices.base import CharBackend
from tests.harden.rig import Samples, run_for, vm_config

MiB = 1 << 20
RSS_CEILING = 16 * MiB  # growth while the attack goes on
FD_CEILING = 4  # more open fds than at the start
THREAD_CEILING = 2  # more threads than at the start (a console writer, a spare)


def _after_warmup(samples: Samples) -> tuple[int, int, int]:
    k = max(1, len(samples.rss) // 10)
    return samples.rss[k], samples.fds[k], samples.threads[k]


def _check(samples: Samples) -> None:
    rss0, fds0, threads0 = _after_warmup(samples)
    assert len(samples.rss) >= 20, "too few samples to say anything"
    rss, fds, threads = max(samples.rss), max(samples.fds), max(samples.threads)
    print(
        f"RSS +{(rss - rss0) / MiB:.1f} MiB, fds +{fds - fds0}, threads +{threads - threads0} "
        f"over {len(samples.rss)} samples"
    )
    assert rss - rss0 < RSS_CEILING, f"RSS grew {(rss - rss0) / MiB:.1f} MiB"
    assert fds - fds0 <= FD_CEILING, f"fds grew from {fds0} to {fds}"
    assert threads - threads0 <= THREAD_CEILING, f"threads grew from {threads0} to {threads}"


@pytest.fixture
def unread_pipe() -> Iterator[int]:
    r, w = os.pipe()
    yield w
    os.close(r)
    os.close(w)


def _direct(elf: Path, vcpus: int = 1) -> dict[str, Any]:
    return {"vcpus": vcpus, "memory": "32MiB", "boot": {"mode": "direct", "kernel": str(elf)}}


def _firmware(elf: Path) -> dict[str, Any]:
    return {"memory": "32MiB", "boot": {"mode": "firmware", "firmware": str(elf)}}


@pytest.mark.slow
async def test_fences_on_a_stopped_hart(hostile: Path) -> None:
    ran = await run_for(vm_config(_direct(hostile / "rfence-stopped.elf", 2)), 10_000_000)
    _check(ran.samples)


@pytest.mark.slow
async def test_an_htif_request_flood(hostile: Path) -> None:
    ran = await run_for(vm_config(_firmware(hostile / "htif-flood.elf")), 3_000_000)
    _check(ran.samples)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["unread-pipe", "full-disk"])
async def test_console_output_nobody_takes(hostile: Path, unread_pipe: int, where: str) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    backend: CharBackend
    if where == "unread-pipe":
        backend = StdioChar(stdin=devnull, stdout=unread_pipe)
    else:
        backend = FileChar("/dev/full")
    try:
        ran = await run_for(
            vm_config(_firmware(hostile / "uart-flood.elf")), 2_000_000, backend=backend
        )
    finally:
        os.close(devnull)
    _check(ran.samples)


@pytest.mark.slow
async def test_console_input_nobody_reads(hostile: Path) -> None:
    tcp = TcpChar()
    await tcp.start()
    stop = asyncio.Event()

    async def peer() -> None:
        _reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
        chunk = b"z" * 65536
        try:
            while not stop.is_set():
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass  # the VMM closed the console at the end of the run
        writer.close()

    task = asyncio.ensure_future(peer())
    sent: Callable[[], bool] = lambda: tcp.stats.in_bytes > 32 * MiB  # noqa: E731
    ran = await run_for(
        vm_config(_direct(hostile / "getchar.elf")), 2_000_000, backend=tcp, until=sent
    )
    stop.set()
    await task
    _check(ran.samples)
