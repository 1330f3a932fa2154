"""Helpers of the hardening tests: a VM from a config dict, run for a fixed
number of instructions while a sampler watches the process."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.devices.base import CharBackend
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host

# A guest that never reaches its instruction count fails the test after this
# long instead of hanging CI (not a measurement).
GUARD = 120.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident set, from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@attrs.define
class Samples:
    """Peaks of the process's resources while a guest ran."""

    rss: list[int] = attrs.Factory(list)
    fds: list[int] = attrs.Factory(list)
    threads: list[int] = attrs.Factory(list)

    def take(self) -> None:
        self.rss.append(rss_bytes())
        self.fds.append(open_fds())
        self.threads.append(threading.active_count())


@attrs.frozen
class Ran:
    host: Host
    board: Board
    console: CaptureConsole
    samples: Samples
    instructions: int


def vm_config(vm: dict[str, Any]) -> avmm_config.Config:
    return avmm_config.from_dict({"version": 1, "vm": vm}, base=Path.cwd())


async def run_for(
    config: avmm_config.Config,
    instructions: int,
    *,
    backend: CharBackend | None = None,
    during: Callable[[Host], None] | None = None,
    until: Callable[[], bool] | None = None,
) -> Ran:
    """Build the config's VM, run it until its vCPUs retired ``instructions``
    between them (and ``until()`` is true, when given), sampling RSS, fds and
    threads every 20 ms; ``during`` is called at each sample (to feed input,
    say)."""
    console = CaptureConsole(backend)
    samples = Samples()
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=console)
        task = asyncio.ensure_future(board.run())
        loop = asyncio.get_running_loop()
        end = loop.time() + GUARD
        while not task.done():
            samples.take()
            if during is not None:
                during(host)
            done = board.vm.machine.instret >= instructions and (until is None or until())
            if done or loop.time() > end:
                host.request_stop()
                break
            await asyncio.sleep(0.02)
        await task
        samples.take()
        retired = board.vm.machine.instret
    assert retired >= instructions, f"only {retired} instructions in {GUARD:.0f} s"
    return Ran(host, board, console, samples, retired)
