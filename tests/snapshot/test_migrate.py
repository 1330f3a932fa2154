"""Live migration: a bare-metal SMP guest whose migration fails (the target refuses
it, or the connection drops mid-stream) goes on running exactly as if nothing had
happened; the stream's address and the target's flags are checked."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.errors import ConfigError, SnapshotError
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host
from avmm.snapshot import vmstate
from avmm.snapshot.migrate import MAGIC, VERSION, migrate_out, parse_address

REPO = Path(__file__).resolve().parents[2]
GUARD = 120.0  # hang guard, not a measurement


def _config(demo: Path, vcpus: int = 4) -> avmm_config.Config:
    return avmm_config.from_dict(
        {
            "version": 1,
            "sched": {"policy": "deterministic", "clock": "virtual", "seed": 5},
            "vm": {
                "name": "det",
                "vcpus": vcpus,
                "memory": "64MiB",
                "boot": {"mode": "firmware", "firmware": str(demo / "smp-demo.elf")},
            },
        },
        base=Path.cwd(),
    )


def _counts(host: Host) -> list[tuple[Any, ...]]:
    return [(v.instret, v.exits, v.slices) for v in host.statistics().vms[0].vcpus]


async def _run(demo: Path, attempt: Any = None) -> tuple[bytes, list[tuple[Any, ...]], Any]:
    """Run the demo to its end; ``attempt(vm)`` is started once 1M instructions ran."""
    console = CaptureConsole()
    outcome: list[Any] = []
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        assert board.vm is not None
        vm = board.vm
        tasks = []
        if attempt is not None:

            async def go() -> None:
                host.scheduler.unhold()
                try:
                    outcome.append(await attempt(vm))
                except SnapshotError as err:
                    outcome.append(err)

            host.scheduler.on_hold = lambda: tasks.append(asyncio.create_task(go()))
            host.scheduler.hold_at = 1_000_000
        result = await asyncio.wait_for(board.run(), GUARD)
        if tasks:
            await tasks[0]
        assert result.code == 0
        return console.output, _counts(host), outcome[0] if outcome else None


async def _dropping_target(after: int) -> tuple[asyncio.Server, int, list[int]]:
    """Answers the machine check, then closes the connection after ``after`` bytes."""
    got: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(16)  # magic, version, the shape's length
        await reader.readexactly(int.from_bytes(head[8:], "little"))
        writer.write(b"OK")
        await writer.drain()
        total = 0
        while total < after:
            chunk = await reader.read(65536)
            if not chunk:
                break
            total += len(chunk)
        got.append(total)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


@pytest.mark.parametrize("after", [0, 300_000])
async def test_a_dropped_connection_leaves_the_source_running(demo: Path, after: int) -> None:
    output, counts, _ = await _run(demo)
    server, port, got = await _dropping_target(after)
    try:

        async def attempt(vm: Any) -> Any:
            return await migrate_out(vm, f"127.0.0.1:{port}")

        moved_output, moved_counts, outcome = await _run(demo, attempt)
    finally:
        server.close()
    assert isinstance(outcome, SnapshotError)
    assert "the connection was lost; the VM runs on here" in str(outcome)
    assert got, "the target never saw the stream"
    assert moved_output == output and moved_counts == counts


async def test_a_target_of_another_shape_refuses_and_the_source_runs_on(
    demo: Path, tmp_path: Path
) -> None:
    output, counts, _ = await _run(demo)
    with _waiting_target(demo, tmp_path, vcpus=2) as (target, address):

        async def attempt(vm: Any) -> Any:
            return await migrate_out(vm, address)

        moved_output, moved_counts, outcome = await _run(demo, attempt)
        assert isinstance(outcome, SnapshotError)
        assert "the target refused the machine" in str(outcome)
        assert "machine with 4 vCPUs, VM det has 2" in str(outcome)
        assert moved_output == output and moved_counts == counts
        assert target.poll() is None, "a refused stream must leave the target waiting"


@contextlib.contextmanager
def _waiting_target(
    demo: Path, tmp_path: Path, vcpus: int
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """An ``avmm run --incoming`` of the demo machine with ``vcpus`` vCPUs, waiting for
    a migration: the process and the address it listens on (killed at the end)."""
    toml = tmp_path / f"det-{vcpus}.toml"
    toml.write_text(
        f"""version = 1
[vm]
name = "det"
vcpus = {vcpus}
memory = "64MiB"
console = {{ backend = "null" }}
boot = {{ mode = "firmware", firmware = "{demo / "smp-demo.elf"}" }}
"""
    )
    target = subprocess.Popen(
        [sys.executable, "-m", "avmm.cli", "run", str(toml), "--incoming", "127.0.0.1:0"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.stderr is not None
        line = target.stderr.readline()
        assert line.startswith("avmm: det: waiting for a migration on 127.0.0.1:"), line
        yield target, line.split(" on ")[1].strip()
    finally:
        target.kill()
        target.wait()
        assert target.stderr is not None
        target.stderr.close()


async def _refusal(address: str, stream: bytes) -> str:
    """What an avmm --incoming answers a hand-made stream: its refusal's words."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(stream)
        await writer.drain()
        word = await asyncio.wait_for(reader.readexactly(2), GUARD)
        if word == b"OK":  # the machine description was taken
            word = await asyncio.wait_for(reader.readexactly(2), GUARD)
        assert word == b"NO", word
        (length,) = struct.unpack("<H", await reader.readexactly(2))
        return (await reader.readexactly(length)).decode()
    finally:
        writer.close()


async def test_a_stream_announcing_huge_records_is_refused_before_it_is_buffered(
    demo: Path, tmp_path: Path
) -> None:
    """A peer on the migration listener says a record is enormous, or sends pages
    where the VM has no RAM: the target refuses at once (it would otherwise wait to
    buffer it all) and keeps waiting."""
    with _waiting_target(demo, tmp_path, vcpus=4) as (target, address):
        head = MAGIC + bytes([VERSION])
        said = await _refusal(address, head + struct.pack("<Q", 1 << 40))
        assert said == f"machine description of {1 << 40} bytes is more than {1 << 20}"
        async with Host.from_config(_config(demo)) as host:  # the same machine here
            board = await Board.build(host, _config(demo).vm[0], console=CaptureConsole())
            assert board.vm is not None
            shape = msgpack.packb(vmstate.shape(board.vm), use_bin_type=True)
        run = bytes([1]) + struct.pack("<QI", 0x8000_0000, 1 << 31)  # a page run
        said = await _refusal(address, head + struct.pack("<Q", len(shape)) + shape + run)
        assert said == f"page run of {1 << 31} pages is more than 256"
        run = bytes([1]) + struct.pack("<QI", 0x1000, 1) + bytes([0xEE]) * 4096
        said = await _refusal(address, head + struct.pack("<Q", len(shape)) + shape + run)
        assert said == "pages at 0x1000 are outside the VM"  # where the VM has no RAM
        state = bytes([3]) + struct.pack("<Q", 1 << 50)
        said = await _refusal(address, head + struct.pack("<Q", len(shape)) + shape + state)
        assert said == f"state of {1 << 50} bytes is more than {vmstate.STATE_SLACK}"
        assert target.poll() is None, "a refused stream must leave the target waiting"


async def test_nobody_listening_is_named(demo: Path) -> None:
    async def attempt(vm: Any) -> Any:
        return await migrate_out(vm, "unix:/nonexistent/avmm.sock")

    *_, outcome = await _run(demo, attempt)
    assert isinstance(outcome, SnapshotError)
    assert str(outcome).startswith("cannot connect to unix:/nonexistent/avmm.sock")


def test_addresses_are_checked() -> None:
    assert parse_address("4444") == ("127.0.0.1", 4444)
    assert parse_address(":4444") == ("127.0.0.1", 4444)
    assert parse_address("10.0.0.1:5") == ("10.0.0.1", 5)
    assert parse_address("unix:/tmp/m.sock") == Path("/tmp/m.sock")
    with pytest.raises(ConfigError, match='"host:port" is not HOST:PORT'):
        parse_address("host:port")
    proc = subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", "configs/demo.toml", "--incoming", "x:y"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        'avmm: error: --incoming: "x:y" is not HOST:PORT, :PORT, PORT or unix:PATH'
    )
