"""Helpers of the board tests: disks, configs, one VM run with a captured console."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host
from avmm.runtime.vm import VmResult

# A hung guest fails the test after this long instead of hanging CI (not a measurement).
GUARD = 240.0


def blank_disk(path: Path, size: int = 1 << 20) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


@attrs.frozen
class Run:
    result: VmResult
    console: str
    board: Board
    stats: dict[str, dict[str, Any]]


def vm_config(data: dict[str, Any], base: Path | None = None) -> avmm_config.Config:
    return avmm_config.from_dict({"version": 1, **data}, base=base or Path.cwd())


async def run_vm(config: avmm_config.Config, *, max_reboots: int | None = None) -> Run:
    """Build the config's only VM with a capturing console and run it to its end."""
    console = CaptureConsole()
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=console)
        try:
            result = await asyncio.wait_for(board.run(max_reboots=max_reboots), GUARD)
        except TimeoutError:
            pytest.fail(f"no end within {GUARD:.0f} s:\n{host.summary()}\n{console.text()[-3000:]}")
        stats = board.device_stats()
    return Run(result, console.text(), board, stats)
