"""Boot the Linux guest on QEMU's ``virt`` board, the peer VMM that keeps the guest honest.

``boot()`` runs the self-check and returns the console with timings;
``Console`` drives the interactive shell through a pty. Every run is bounded
by a timeout: a hung guest is killed and reported, never waited on forever.

Command line (figures for the report, built guest from the cache)::

    python -m guests.linux.qemu [--smp 1 4 8] [--runs 3] [--avmm-cpu]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import attrs

from guests.linux import report

QEMU = "qemu-system-riscv64"
DISK_BYTES = 1 << 20


def command(
    kernel: Path,
    initrd: Path,
    *,
    smp: int,
    append: str,
    disk: Path | None = None,
    memory: str = "256M",
    cpu: str | None = None,
) -> list[str]:
    """The QEMU command line; ``cpu`` is a ``-cpu`` model (default: QEMU's rv64)."""
    argv = [
        QEMU,
        "-M",
        "virt",
        *(["-cpu", cpu] if cpu else []),
        "-smp",
        str(smp),
        "-m",
        memory,
        "-nographic",
        "-bios",
        "default",
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        append,
        # A panic that reboots ends the run instead of booting again.
        "-no-reboot",
    ]
    if disk is not None:
        argv += [
            "-drive",
            f"file={disk},format=raw,if=none,id=d0",
            "-device",
            "virtio-blk-device,drive=d0",
        ]
    return argv


def blank_disk(path: Path, size: int = DISK_BYTES) -> Path:
    """A raw disk image of zeros: the self-check counts it as never booted."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


@attrs.frozen
class QemuRun:
    argv: tuple[str, ...]
    console: str
    returncode: int | None  # None when QEMU was killed at the timeout
    seconds_to_userspace: float | None  # launch to 'avmm: userspace up'
    seconds_to_result: float | None  # launch to 'avmm-check: PASS' or 'FAIL'
    seconds_to_exit: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def check(self) -> report.CheckReport:
        return report.parse(self.console)


def _require_qemu() -> str:
    exe = shutil.which(QEMU)
    if exe is None:
        raise FileNotFoundError(f"{QEMU} is not installed (apt-get install qemu-system-misc)")
    return exe


def boot(
    kernel: Path,
    initrd: Path,
    *,
    smp: int,
    append: str = "console=ttyS0 earlycon avmm.check=1",
    disk: Path | None = None,
    cpu: str | None = None,
    timeout: float = 180.0,
) -> QemuRun:
    """Boot until QEMU exits or ``timeout`` seconds pass (then it is killed)."""
    _require_qemu()
    argv = command(kernel, initrd, smp=smp, append=append, disk=disk, cpu=cpu)
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    out = bytearray()
    t_up: float | None = None
    t_result: float | None = None
    timed_out = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = start + timeout - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break  # QEMU closed its output: it is exiting
            out += chunk
            now = time.monotonic() - start
            if t_up is None and report.USERSPACE_UP.encode() in out:
                t_up = now
            if t_result is None and re.search(rb"avmm-check: (PASS|FAIL)", out):
                t_result = now
    returncode: int | None = None
    if not timed_out:
        with contextlib.suppress(subprocess.TimeoutExpired):
            returncode = proc.wait(timeout=10)
    if returncode is None:
        proc.kill()
        proc.wait()
    elapsed = time.monotonic() - start
    proc.stdout.close()
    return QemuRun(
        argv=tuple(argv),
        console=out.decode(errors="replace"),
        returncode=returncode,
        seconds_to_userspace=t_up,
        seconds_to_result=t_result,
        seconds_to_exit=elapsed,
    )


class Console:
    """QEMU with its serial console on a pty, for the interactive shell.

    Use as a context manager; ``expect`` waits for a regex in the output,
    ``send`` types text. Leaving the block kills QEMU if it is still running.
    QEMU's stdio keeps output post-processing on, so the guest's ``\r\n``
    arrives as ``\r\r\n``: match line ends with ``\r*\n``.
    """

    def __init__(self, kernel: Path, initrd: Path, *, smp: int = 1, append: str = "") -> None:
        _require_qemu()
        self.argv = command(kernel, initrd, smp=smp, append=append or "console=ttyS0")
        self.output = ""
        self._seen = 0  # how much of output expect() has consumed
        master, slave = os.openpty()
        self._master = master
        self.proc = subprocess.Popen(
            self.argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)

    def __enter__(self) -> Console:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    def _read(self, timeout: float) -> bool:
        with selectors.DefaultSelector() as sel:
            sel.register(self._master, selectors.EVENT_READ)
            if not sel.select(timeout):
                return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: QEMU closed the pty
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def expect(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """Wait for ``pattern`` in output not yet consumed; raise TimeoutError naming it."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            m = regex.search(self.output, self._seen)
            if m:
                self._seen = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 1.0)) and self.proc.poll() is not None):
                tail = self.output[-2000:]
                raise TimeoutError(f"no {pattern!r} on the console; last output:\n{tail}")

    def send(self, text: str) -> None:
        os.write(self._master, text.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for QEMU to exit (draining the console); return its exit status."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    from guests.build import build

    parser = argparse.ArgumentParser(prog="python -m guests.linux.qemu", description=__doc__)
    parser.add_argument("--smp", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--avmm-cpu", action="store_true", help="model the hart avmm implements (no Sstc, H, ...)"
    )
    args = parser.parse_args(argv)
    cpu: str | None = None
    if args.avmm_cpu:
        from guests.lib.qemu import CPU

        cpu = CPU
    kernel = build("linux") / "Image"
    initrd = build("initramfs") / "initramfs.cpio.gz"
    print("smp  run  userspace_s  pass_s  exit_s  result")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for smp in args.smp:
            disk = blank_disk(Path(tmp) / f"disk{smp}.img")
            for i in range(args.runs):
                run = boot(kernel, initrd, smp=smp, disk=disk, cpu=cpu)
                check = run.check
                result = "PASS" if check.passed and run.returncode == 0 else "FAIL"
                ok &= result == "PASS"
                print(
                    f"{smp:3}  {i + 1:3}  {run.seconds_to_userspace or float('nan'):11.2f}  "
                    f"{run.seconds_to_result or float('nan'):6.2f}  {run.seconds_to_exit:6.2f}  "
                    f"{result} boots={check.disk_boots}"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
