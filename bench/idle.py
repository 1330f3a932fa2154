"""Idle cost: host CPU per second of an idle multi-hart guest, avmm against QEMU.

    python -m bench.idle [--seconds 4] [--smp 4] [--skip-linux]

Two idle guests, each run on both VMMs as child processes in this run:

- ``uart-idle`` (guests/demo): 3 harts at a console prompt driven like xv6's
  (THRE and RX interrupts on, IIR never read), one hart waiting for a timer,
  two parked in WFI. Run twice, idling 1 s and 1 + ``--seconds`` s of guest
  time; the difference in the child's CPU time over the difference in wall
  time is the idle cost, with start-up cancelled out. avmm runs it as
  ``avmm run --kernel ELF --vcpus 3``; QEMU as ``-M virt -bios none -kernel``.
- Linux at its shell (the ``linux`` and ``initramfs`` recipes, ``--smp``
  vCPUs, direct boot on avmm, OpenSBI on QEMU): booted to the ``avmm:/# ``
  prompt, then the child's CPU time (all its threads, from /proc) is read
  over ``--seconds`` of wall time while nobody types.

Prints CPU seconds per second (1.0 = one host core busy) and the ratio
avmm / QEMU.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import patched_copy

GUARD = 300.0
PROMPT = b"avmm:/# "


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_cpu(argv: list[str]) -> tuple[float, float]:
    """(host CPU seconds, wall seconds) of one child run to its end."""
    before = _children_cpu()
    start = time.monotonic()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=GUARD)
    wall = time.monotonic() - start
    if b"PASS" not in done.stdout:
        raise RuntimeError(f"{argv[0]}: the idle guest failed:\n{done.stdout.decode()[-2000:]}")
    return _children_cpu() - before, wall


def uart_idle(seconds: float) -> dict[str, float]:
    """CPU seconds per second of the uart-idle guest on each VMM."""
    from guests.build import build
    from guests.lib.qemu import qemu_command

    elf = build("demo") / "uart-idle.elf"
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        short = patched_copy(elf, "idle_ms", 1000, Path(tmp) / "short.elf")
        long = patched_copy(elf, "idle_ms", int((1 + seconds) * 1000), Path(tmp) / "long.elf")
        vmms = {
            "avmm": lambda e: [
                sys.executable,
                "-m",
                "avmm.cli",
                "run",
                "--kernel",
                str(e),
                "--vcpus",
                "3",
                "--console",
                "stdio",
            ],
            "qemu": lambda e: qemu_command(e, machine="virt", harts=3),
        }
        for name, argv in vmms.items():
            cpu0, wall0 = _run_cpu(argv(short))
            cpu1, wall1 = _run_cpu(argv(long))
            results[name] = max(cpu1 - cpu0, 0.0) / max(wall1 - wall0, 1e-9)
    return results


def _proc_cpu(pid: int) -> float:
    """CPU seconds of a running process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _shell_idle(argv: list[str], seconds: float) -> float:
    """Boot ``argv`` to the shell prompt, then its CPU seconds per second at rest."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    try:
        out = bytearray()
        start = time.monotonic()
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while PROMPT not in out:
                if time.monotonic() - start > GUARD:
                    raise RuntimeError(f"no shell prompt:\n{out.decode(errors='replace')[-2000:]}")
                if sel.select(1.0):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise RuntimeError(f"exited early:\n{out.decode(errors='replace')[-2000:]}")
                    out += chunk
        time.sleep(1.0)  # let the boot's last work settle
        cpu0, t0 = _proc_cpu(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = _proc_cpu(proc.pid), time.monotonic()
        return (cpu1 - cpu0) / (t1 - t0)
    finally:
        proc.kill()
        proc.wait()


def linux_idle(seconds: float, smp: int) -> dict[str, float]:
    from guests.build import build
    from guests.linux.qemu import command

    kernel = build("linux") / "Image"
    initrd = build("initramfs") / "initramfs.cpio.gz"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "idle.toml"
        config.write_text(
            "version = 1\n[vm]\nname = 'idle'\n"
            f"vcpus = {smp}\nmemory = '256MiB'\n"
            f"boot = {{ mode = 'direct', kernel = '{kernel}', initrd = '{initrd}', "
            "cmdline = 'console=ttyS0' }\n"
        )
        avmm = [sys.executable, "-m", "avmm.cli", "run", str(config), "--console", "stdio"]
        qemu = command(kernel, initrd, smp=smp, append="console=ttyS0")
        return {"avmm": _shell_idle(avmm, seconds), "qemu": _shell_idle(qemu, seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="idle time measured")
    parser.add_argument("--smp", type=int, default=4, help="vCPUs of the Linux guest")
    parser.add_argument("--skip-linux", action="store_true")
    args = parser.parse_args(argv)
    rows = [("uart-idle, 3 harts", uart_idle(args.seconds))]
    if not args.skip_linux:
        rows.append((f"Linux shell, {args.smp} vCPUs", linux_idle(args.seconds, args.smp)))
    print(f"Idle cost: host CPU seconds per second over {args.seconds:g} s of idling")
    print(f"{'guest':24} {'avmm':>8} {'qemu':>8}  avmm/qemu")
    for name, r in rows:
        ratio = f"{r['avmm'] / r['qemu']:9.2f}" if r["qemu"] > 0 else "        -"
        print(f"{name:24} {r['avmm']:8.4f} {r['qemu']:8.4f}  {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
