"""Snapshot, restore and live migration of a 256 MiB Linux guest: avmm against QEMU.

    python -m bench.snapshot [--smp 4] [--memory 256]

The guest (the ``linux`` and ``initramfs`` recipes) is booted to its shell
prompt on each VMM, then:

- **save**: avmm's ``save_snapshot`` (in this process) of the running VM;
  QEMU stops the VM and migrates it to a file (``migrate exec:cat > FILE``,
  what ``savevm`` does without a qcow2 disk to keep it in). Wall seconds from
  the request to the file complete, and the file's size.
- **restore**: avmm's ``restore_snapshot`` into a freshly built VM of the same
  config; QEMU started with ``-incoming defer`` and ``migrate-incoming
  exec:cat FILE``, timed from that command to the VM running (QEMU's start-up
  is not counted, nor avmm's build).
- **migrate**: live migration to another process on this host (avmm:
  ``migrate_out`` to ``avmm run --incoming``; QEMU: ``migrate tcp:`` to
  ``-incoming tcp:``) of the guest idling at its shell: downtime as each VMM
  reports it, total bytes sent, total seconds, and avmm's pre-copy rounds.

Prints one table; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GUARD = 300.0
SHELL = b"avmm: shell on the console"


# -------------------------------------------------------------------- avmm


def _toml(tmp: Path, kernel: Path, initrd: Path, smp: int, memory: int, console: str) -> Path:
    path = tmp / f"bench-{console}.toml"
    path.write_text(
        f"""version = 1
[vm]
name = "bench"
vcpus = {smp}
memory = "{memory}MiB"
console = {{ backend = "{console}" }}
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0"
"""
    )
    return path


async def _avmm(tmp: Path, kernel: Path, initrd: Path, smp: int, memory: int) -> dict[str, Any]:
    from avmm import config as avmm_config
    from avmm.board.virt import Board
    from avmm.runtime.console import CaptureConsole
    from avmm.runtime.host import Host
    from avmm.snapshot import restore_snapshot, save_snapshot
    from avmm.snapshot.migrate import migrate_out

    config = avmm_config.load(_toml(tmp, kernel, initrd, smp, memory, "null"))
    snap = tmp / "avmm.snap"
    out: dict[str, Any] = {}

    async def boot(host: Host) -> tuple[Any, asyncio.Task[Any]]:
        console = CaptureConsole()
        board = await Board.build(host, config.vm[0], console=console)
        run = asyncio.create_task(board.run())
        deadline = time.monotonic() + GUARD
        while SHELL not in console.output:
            if time.monotonic() > deadline or run.done():
                raise RuntimeError(f"avmm: no shell:\n{console.text()[-2000:]}")
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)  # the boot's last work settles
        return board.vm, run

    async with Host.from_config(config) as host:
        vm, run = await boot(host)
        info = await save_snapshot(vm, snap)
        out["save_s"], out["file_bytes"] = info.seconds, info.file_bytes
        host.request_stop()
        await run
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=CaptureConsole())
        info = await restore_snapshot(board.vm, snap)
        out["restore_s"] = info.seconds
    target = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avmm.cli",
            "run",
            str(_toml(tmp, kernel, initrd, smp, memory, "null")),
            "--incoming",
            "127.0.0.1:0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.stderr is not None
        line = target.stderr.readline()
        if "waiting for a migration on" not in line:
            raise RuntimeError(f"avmm target: {line}")
        address = line.split(" on ")[1].strip()
        async with Host.from_config(config) as host:
            vm, run = await boot(host)
            moved = await migrate_out(vm, address)
            await run
        out["downtime_s"], out["sent_bytes"] = moved.downtime, moved.bytes_sent
        out["migrate_s"], out["rounds"] = moved.seconds, moved.rounds
    finally:
        target.kill()
        target.wait()
        if target.stderr is not None:
            target.stderr.close()
    return out


# -------------------------------------------------------------------- QEMU


class _Qmp:
    """A minimal QMP client over a Unix socket."""

    def __init__(self, path: Path) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            msg: dict[str, Any] = json.loads(self.file.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name: str, **args: Any) -> Any:
        self.file.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {name}: {reply['error']}")
        return reply["return"]

    def wait_migration(self) -> dict[str, Any]:
        deadline = time.monotonic() + GUARD
        while time.monotonic() < deadline:
            info: dict[str, Any] = self.cmd("query-migrate")
            if info.get("status") == "completed":
                return info
            if info.get("status") in ("failed", "cancelled"):
                raise RuntimeError(f"QEMU migration {info.get('status')}: {info}")
            time.sleep(0.005)
        raise RuntimeError("QEMU migration did not complete")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@contextlib.contextmanager
def _qemu(argv: list[str], qmp: Path, *, wait_shell: bool) -> Iterator[_Qmp]:
    proc = subprocess.Popen(
        [*argv, "-qmp", f"unix:{qmp},server=on,wait=off"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        if wait_shell:
            out = bytearray()
            deadline = time.monotonic() + GUARD
            while SHELL not in out:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk or time.monotonic() > deadline:
                    raise RuntimeError(f"QEMU: no shell:\n{out.decode(errors='replace')[-2000:]}")
                out += chunk
            time.sleep(1.0)
        client = _Qmp(qmp)
        try:
            yield client
        finally:
            client.close()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stdin is not None:
            proc.stdin.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _qemu_figures(tmp: Path, kernel: Path, initrd: Path, smp: int, memory: int) -> dict[str, Any]:
    from guests.linux.qemu import command

    argv = command(kernel, initrd, smp=smp, append="console=ttyS0", memory=f"{memory}M")
    state = tmp / "qemu.state"
    out: dict[str, Any] = {}
    with _qemu(argv, tmp / "q1.sock", wait_shell=True) as q:
        t0 = time.perf_counter()
        q.cmd("stop")
        q.cmd("migrate", uri=f"exec:cat > {state}")
        q.wait_migration()
        out["save_s"] = time.perf_counter() - t0
        out["file_bytes"] = state.stat().st_size
    with _qemu([*argv, "-incoming", "defer"], tmp / "q2.sock", wait_shell=False) as q:
        t0 = time.perf_counter()
        q.cmd("migrate-incoming", uri=f"exec:cat {state}")
        deadline = time.monotonic() + GUARD
        while q.cmd("query-status")["status"] != "paused" and time.monotonic() < deadline:
            time.sleep(0.002)  # loaded: a stopped source's state arrives stopped
        q.cmd("cont")
        out["restore_s"] = time.perf_counter() - t0
    port = _free_port()
    incoming = [*argv, "-incoming", f"tcp:127.0.0.1:{port}"]
    with (
        _qemu(incoming, tmp / "q3.sock", wait_shell=False),
        _qemu(argv, tmp / "q4.sock", wait_shell=True) as q,
    ):
        t0 = time.perf_counter()
        q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        info = q.wait_migration()
        out["migrate_s"] = time.perf_counter() - t0
        out["downtime_s"] = info.get("downtime", float("nan")) / 1000  # whole ms
        ram = info.get("ram", {})
        out["sent_bytes"] = ram.get("transferred", 0)
        out["rounds"] = ram.get("dirty-sync-count", 0)
    return out


# -------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot", description=__doc__)
    parser.add_argument("--smp", type=int, default=4, help="vCPUs of the Linux guest")
    parser.add_argument("--memory", type=int, default=256, help="guest RAM in MiB")
    parser.add_argument("--skip-qemu", action="store_true")
    args = parser.parse_args(argv)
    from guests.build import build

    kernel = build("linux") / "Image"
    initrd = build("initramfs") / "initramfs.cpio.gz"
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        rows = {"avmm": asyncio.run(_avmm(tmp, kernel, initrd, args.smp, args.memory))}
        if not args.skip_qemu:
            rows["qemu"] = _qemu_figures(tmp, kernel, initrd, args.smp, args.memory)
    print(f"Linux at its shell, {args.smp} vCPUs, {args.memory} MiB (wall seconds)")
    print(
        f"{'vmm':6} {'save s':>8} {'file MiB':>9} {'restore s':>10} "
        f"{'migrate s':>10} {'downtime s':>11} {'sent MiB':>9} {'rounds':>7}"
    )
    for name, r in rows.items():
        print(
            f"{name:6} {r['save_s']:8.3f} {r['file_bytes'] / 2**20:9.1f} {r['restore_s']:10.3f} "
            f"{r['migrate_s']:10.3f} {r['downtime_s']:11.3f} {r['sent_bytes'] / 2**20:9.1f} "
            f"{r['rounds']:7}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
