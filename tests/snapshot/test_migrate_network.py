"""Two Linux VMs in two avmm processes ping each other over a UDP link
(``nets[].listen``/``peer``); one of them is migrated live to a third process,
and both keep getting replies: the moved VM's ping goes on counting on the
target, and the other VM's link follows the moved end from its first frame."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host
from avmm.snapshot.migrate import migrate_out
from tests.consolesession import GUARD, ConsoleSession, lines_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROMPT = "avmm:/# "
SEQ = r"from 10\.0\.0\.\d: seq=(\d+) "


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _toml(
    tmp: Path,
    linux: tuple[Path, Path],
    name: str,
    ip: str,
    listen: int,
    peer: int,
    console: str,
    side: str,
) -> Path:
    kernel, initrd = linux
    path = tmp / f"{side}.toml"
    path.write_text(
        f"""version = 1
[vm]
name = "{name}"
vcpus = 2
memory = "256MiB"
console = {{ backend = "{console}" }}
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0 avmm.ip={ip}/24"
[[vm.nets]]
listen = "127.0.0.1:{listen}"
peer = "127.0.0.1:{peer}"
"""
    )
    return path


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "avmm.cli", "run", *argv],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _seqs_past(session: ConsoleSession, last: int, more: int) -> int:
    """Read ping replies until one numbered at least ``last + more``; its number."""
    while True:
        seq = int(session.expect(SEQ)[1])
        if seq >= last + more:
            return seq


async def test_two_vms_keep_pinging_across_the_migration_of_one(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    pa, pb, pt = _free_udp_port(), _free_udp_port(), _free_udp_port()
    peer = _start([str(_toml(tmp_path, linux, "peer", "10.0.0.2", pb, pa, "pty", "peer"))])
    target = _start(
        [
            str(_toml(tmp_path, linux, "mover", "10.0.0.1", pt, pb, "pty", "target")),
            "--incoming",
            "127.0.0.1:0",
        ]
    )
    fds: list[int] = []
    try:
        (peer_pty,) = lines_until(peer, r"avmm: peer: console on (/dev/pts/\d+)$")
        target_pty, waiting = lines_until(
            target,
            r"avmm: mover: console on (/dev/pts/\d+)$",
            r"avmm: mover: waiting for a migration on (\S+)$",
        )
        fds += [os.open(peer_pty[1], os.O_RDWR | os.O_NOCTTY)]
        fds += [os.open(target_pty[1], os.O_RDWR | os.O_NOCTTY)]
        at_peer, at_target = ConsoleSession(fds[0]), ConsoleSession(fds[1])
        config = avmm_config.load(
            _toml(tmp_path, linux, "mover", "10.0.0.1", pa, pb, "null", "source")
        )
        console = CaptureConsole()
        async with Host.from_config(config) as host:
            board = await Board.build(host, config.vm[0], console=console)
            assert board.vm is not None
            run = asyncio.create_task(board.run())
            deadline = time.monotonic() + GUARD
            while PROMPT not in console.text():
                assert time.monotonic() < deadline, console.text()[-3000:]
                await asyncio.sleep(0.05)
            console.feed(b"ping 10.0.0.2\r")
            at_peer.expect(re.escape(PROMPT))
            at_peer.type("ping 10.0.0.1")
            peer_before = await asyncio.to_thread(_seqs_past, at_peer, 0, 3)
            while len(re.findall(SEQ, console.text())) < 3:
                assert time.monotonic() < deadline, console.text()[-3000:]
                await asyncio.sleep(0.05)
            info = await migrate_out(board.vm, waiting[1])
            await asyncio.wait_for(run, GUARD)
            mover_before = max(int(s) for s in re.findall(SEQ, console.text()))
        assert info.downtime > 0
        # the moved VM's ping counts on, on the target, with replies
        moved = await asyncio.to_thread(_seqs_past, at_target, mover_before, 3)
        assert moved >= mover_before + 3
        # and the VM that stayed gets replies from the moved one
        after = await asyncio.to_thread(_seqs_past, at_peer, peer_before, 8)
        assert after >= peer_before + 8
    finally:
        for fd in fds:
            os.close(fd)
        for proc in (peer, target):
            proc.kill()
            proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
