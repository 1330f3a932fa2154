"""Live migration of a real 4-vCPU Linux VM while a workload writes memory and disk.

The source runs in this process (as the control API will drive it); the target
is ``avmm run --incoming`` in another process with its own config and a pty
console. Both see one base image per disk and each its own overlay. The
workload, started on the source, finishes on the target: every disk block it
wrote is there, the shell answers and the self-check passes. The source ends
stopped, its metrics counting one migration with its rounds, bytes and downtime.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.runtime.console import CaptureConsole
from avmm.runtime.exits import Interrupted
from avmm.runtime.host import Host
from avmm.snapshot.migrate import migrate_out
from tests.consolesession import GUARD, ConsoleSession, lines_until
from tests.snapshot.linuxload import PROMPT, expected_md5, verify, wait_for, writes

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BLOCKS = 240
# Each round writes a disk block and 256 KiB of fresh random memory, so the guest
# dirties RAM while its pages are copied.
WORKLOAD = writes(BLOCKS, "WORK-DONE", dirty_memory=True)
VERIFY = verify(BLOCKS)
EXPECTED_MD5 = expected_md5(BLOCKS)


def _toml(tmp: Path, linux: tuple[Path, Path], side: str, console: str) -> Path:
    kernel, initrd = linux
    path = tmp / f"{side}.toml"
    path.write_text(
        f"""version = 1
[vm]
name = "mover"
vcpus = 4
memory = "256MiB"
console = {{ backend = "{console}" }}
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0"
[[vm.disks]]
path = "{tmp / "data.img"}"
overlay = "{tmp / f"data-{side}.ovl"}"
[[vm.disks]]
path = "{tmp / "check.img"}"
overlay = "{tmp / f"check-{side}.ovl"}"
"""
    )
    return path


async def test_a_linux_vm_moves_while_writing_memory_and_disk(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    (tmp_path / "data.img").write_bytes(bytes(4 << 20))
    (tmp_path / "check.img").write_bytes(bytes(1 << 20))
    target = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avmm.cli",
            "run",
            str(_toml(tmp_path, linux, "target", "pty")),
            "--incoming",
            "127.0.0.1:0",
        ],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        console, waiting = lines_until(
            target,
            r"avmm: mover: console on (/dev/pts/\d+)$",
            r"avmm: mover: waiting for a migration on (\S+)$",
        )
        address = waiting[1]
        fd = os.open(console[1], os.O_RDWR | os.O_NOCTTY)
        try:
            session = ConsoleSession(fd)
            config = avmm_config.load(_toml(tmp_path, linux, "source", "null"))
            console = CaptureConsole()
            async with Host.from_config(config) as host:
                board = await Board.build(host, config.vm[0], console=console)
                assert board.vm is not None
                vm = board.vm
                run = asyncio.create_task(board.run())
                await wait_for(console, PROMPT)
                console.feed(WORKLOAD.encode() + b"\r")
                await wait_for(console, "w25")
                rounds: list[tuple[int, int]] = []
                info = await migrate_out(
                    vm, address, on_round=lambda n, dirty: rounds.append((n, dirty))
                )
                result = await asyncio.wait_for(run, GUARD)
                stats = host.statistics().vms[0]
            assert isinstance(result.exit, Interrupted)  # stopped: the target runs it
            assert not re.search(r"^WORK-DONE", console.text(), re.M)
            assert info.rounds == len(rounds) >= 1 and rounds[0][0] == 1
            assert info.bytes_sent > info.ram_bytes > 0
            assert 0 < info.downtime < info.seconds
            moved = stats.migrations
            assert (moved.migrations, moved.bytes_sent) == (1, info.bytes_sent)
            assert (moved.last_downtime, moved.last_rounds) == (info.downtime, info.rounds)
            # on the target: the workload finishes, the disk holds it all
            session.type("")
            session.expect(r"\nWORK-DONE\n", guard=3 * GUARD)  # slow on a busy host
            session.type("echo $((6 * 7)) is the answer")
            session.expect(r"\n42 is the answer\n")
            session.type(VERIFY)
            session.expect(rf"\n{EXPECTED_MD5}  -\n")
            session.type("avmm-check --disk /dev/vdb --iterations 2000 --timeout 60")
            session.expect(r"avmm-check: atomics ok threads=4")
            session.expect(r"avmm-check: PASS")
            session.type("sync; poweroff -f")
        finally:
            os.close(fd)
        assert target.wait(timeout=GUARD) == 0
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        assert target.stderr is not None
        target.stderr.close()
