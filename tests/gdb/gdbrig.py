"""Helpers for the gdb tests: the bare-metal test guest, ``avmm run`` with a gdb
server as a subprocess, real ``gdb-multiarch`` in batch mode, and a minimal
remote-protocol client for what gdb itself would never send."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
GDB = shutil.which("gdb-multiarch")
TOOL = "riscv64-unknown-elf-gcc"
GUARD = 60.0


def build_prog(out: Path, *, spin: bool = False) -> Path:
    """prog.S linked at 0x80000000 with its symbols (``spin``: loop forever)."""
    elf = out / ("spin.elf" if spin else "prog.elf")
    subprocess.run(
        [TOOL, "-nostdlib", "-march=rv64gc", "-mabi=lp64d", f"-DSPIN={int(spin)}",
         "-T", str(HERE / "link.ld"), str(HERE / "prog.S"), "-o", str(elf)],
        check=True,
    )  # fmt: skip
    return elf


class Avmm:
    """``avmm run ARGS`` in the background; :attr:`address` is its gdb server's."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.log = tmp / f"avmm-{time.monotonic_ns()}.err"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "avmm.cli", "run", *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=HERE.parents[1],
            )
        self.address = self._wait_for(r"gdb server at (\S+?)(,|$)", GUARD).group(1)

    @property
    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_for(self, pattern: str, guard: float) -> re.Match[str]:
        deadline = time.monotonic() + guard
        while time.monotonic() < deadline:
            m = re.search(pattern, self.stderr, re.M)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} from avmm:\n{self.stderr}")

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host, int(port)

    def finish(self, guard: float = GUARD) -> int:
        try:
            return self.proc.wait(guard)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)
            raise AssertionError(f"avmm did not end:\n{self.stderr}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def run_gdb(address: str, elf: Path, commands: str, guard: float = GUARD) -> str:
    """gdb-multiarch -batch: connect to ``address`` and source ``commands``."""
    assert GDB is not None
    script = elf.parent / f"cmds-{time.monotonic_ns()}.gdb"
    script.write_text("set pagination off\nset confirm off\n" + commands)
    done = subprocess.run(
        [GDB, "-batch", "-nx", "-ex", f"target remote {address}", "-x", str(script), str(elf)],
        capture_output=True,
        text=True,
        timeout=guard,
        cwd=script.parent,  # not the repository (a crashing gdb leaves a core file)
    )
    return done.stdout + done.stderr


class Rsp:
    """A bare remote-protocol client (acks on) for raw packets."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=GUARD)
        self.buf = b""

    @classmethod
    def attach(cls, host: str, port: int, guard: float = 10.0) -> Rsp:
        """Connect once the previous client's session is over (one at a time)."""
        deadline = time.monotonic() + guard
        while True:
            rsp = cls(host, port)
            try:
                rsp.ask(b"qAttached")
                return rsp
            except (ConnectionError, OSError):
                rsp.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes) -> None:
        self.send_raw(b"$" + payload + b"#%02x" % (sum(payload) & 0xFF))

    def read_byte(self) -> bytes:
        while not self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def reply(self) -> bytes:
        """The next packet's payload (acks before it skipped); acks it."""
        while self.read_byte() != b"$":
            pass
        out = b""
        while (b := self.read_byte()) != b"#":
            out += b
        csum = self.read_byte() + self.read_byte()
        assert int(csum, 16) == sum(out) & 0xFF
        with contextlib.suppress(OSError):  # the server may close right after (D, k)
            self.send_raw(b"+")
        return out

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def closed_by_peer(sock: socket.socket, guard: float = 5.0) -> bool:
    sock.settimeout(guard)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False
