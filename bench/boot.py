"""Linux boot: avmm against QEMU with the same Image, initramfs and vCPU count.

    python -m bench.boot [--smp 1 4 8] [--mode direct firmware] [--runs 1]

Both VMMs run as child processes, one after the other in this run, on the
kernel and initramfs of the ``linux`` and ``initramfs`` recipes, with a blank
1 MiB disk each and ``console=ttyS0 earlycon avmm.check=1`` (the self-check of
guests/linux/README.md, then poweroff). QEMU is ``qemu-system-riscv64 -M virt
-smp N -m 256M -nographic -bios default`` (OpenSBI, then the kernel), as
guests/linux/qemu.py starts it; avmm runs the same machine from a config, in
direct boot (the VMM answers SBI) and/or firmware boot (the same OpenSBI
``fw_dynamic.bin`` from qemu-system-data that QEMU runs). For each, the
kernel's own timestamp of ``smp: Brought up`` (every hart online, seconds
since the kernel started: firmware time excluded), the wall-clock seconds from
launch to the check's result line (``avmm-check: PASS`` or ``FAIL``) and to the process's
exit and the host CPU seconds the process used (user and system, all its
threads: QEMU runs a thread per vCPU, avmm every vCPU on one thread) are printed,
with the ratio avmm / QEMU, and avmm's firmware boot's time
to bring its harts up against its direct boot's.
Runs that did not pass are marked. Launch includes each VMM's own start-up
(Python and avmm's imports; QEMU's process start).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

CMDLINE = "console=ttyS0 earlycon avmm.check=1"
# The OpenSBI QEMU's `-bios default` runs (qemu-system-data), so both firmware boots
# run the same binary.
QEMU_FW_DYNAMIC = Path("/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin")
MEMORY = "256MiB"
DISK_BYTES = 1 << 20
GUARD = 600.0  # a hung boot is killed after this long and reported
RESULT = re.compile(rb"^avmm-check: (PASS|FAIL)", re.M)
SMP_UP = re.compile(rb"\[ *(\d+\.\d+)\] smp: Brought up ")


@attrs.frozen
class Boot:
    vmm: str
    smp: int
    to_smp: float | None  # the kernel's timestamp of "smp: Brought up" (every hart online)
    to_result: float | None  # seconds from launch to the result line
    to_exit: float  # seconds from launch to the process's exit (or the guard)
    cpu: float  # host CPU seconds the process used (user + system, every thread)
    passed: bool
    returncode: int | None  # None: killed at the guard


def timed(argv: list[str], name: str, smp: int) -> Boot:
    """Run ``argv`` with its console on a pipe; time the result line and the exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    out = bytearray()
    to_result: float | None = None
    to_smp: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() - start < GUARD:
            if not sel.select(1.0):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
            if to_smp is None and (up := SMP_UP.search(out)):
                to_smp = float(up[1])
            if to_result is None and RESULT.search(out):
                to_result = time.monotonic() - start
    returncode: int | None = None
    with contextlib.suppress(subprocess.TimeoutExpired):
        returncode = proc.wait(timeout=max(0.0, GUARD - (time.monotonic() - start)))
    if returncode is None:
        proc.kill()
        proc.wait()
    to_exit = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    proc.stdout.close()
    text = out.decode(errors="replace")
    passed = "avmm-check: PASS" in text and f"cpus online={smp} " in text and returncode == 0
    return Boot(name, smp, to_smp, to_result, to_exit, cpu, passed, returncode)


def qemu(kernel: Path, initrd: Path, smp: int, disk: Path) -> Boot:
    from guests.linux.qemu import command

    argv = command(kernel, initrd, smp=smp, append=CMDLINE, disk=_blank(disk))
    return timed(argv, "qemu", smp)


def avmm(kernel: Path, initrd: Path, smp: int, disk: Path, mode: str) -> Boot:
    argv = [sys.executable, "-m", "bench.boot", "--child", mode, str(smp), str(kernel)]
    argv += [str(initrd), str(_blank(disk))]
    return timed(argv, f"avmm-{mode}", smp)


def child(mode: str, smp: int, kernel: str, initrd: str, disk: str) -> int:
    """One avmm VM with its console on stdout (what ``avmm run`` of such a config does)."""
    from avmm import config as avmm_config
    from avmm.board.virt import run_config
    from avmm.runtime.host import run

    boot = {"mode": mode, "kernel": kernel, "initrd": initrd, "cmdline": CMDLINE}
    if mode == "firmware" and QEMU_FW_DYNAMIC.is_file():
        boot["firmware"] = str(QEMU_FW_DYNAMIC)
    config = avmm_config.from_dict(
        {
            "version": 1,
            "vm": {
                "name": "bench",
                "vcpus": smp,
                "memory": MEMORY,
                "boot": boot,
                "disks": [{"path": disk}],
                "console": {"backend": "stdio"},
            },
        }
    )
    results = run(run_config(config))
    return results["bench"].code


def _blank(path: Path) -> Path:
    with path.open("wb") as f:
        f.truncate(DISK_BYTES)
    return path


def _fmt(seconds: float | None) -> str:
    return "     -" if seconds is None else f"{seconds:6.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "    -" if a is None or b is None or b == 0 else f"{a / b:5.2f}"


def _best(runs: int, boot: Callable[[], Boot]) -> Boot:
    """The fastest of ``runs`` boots that passed (or of all, when none did)."""
    boots = [boot() for _ in range(runs)]
    return min([b for b in boots if b.passed] or boots, key=lambda b: b.to_exit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.boot", description=__doc__)
    parser.add_argument("--smp", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument(
        "--mode", nargs="+", choices=["direct", "firmware"], default=["direct", "firmware"]
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="boots of each VMM (the fastest is kept)"
    )
    parser.add_argument(
        "--child",
        nargs=5,
        metavar=("MODE", "SMP", "KERNEL", "INITRD", "DISK"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.child:
        mode, smp, kernel, initrd, disk = args.child
        return child(mode, int(smp), kernel, initrd, disk)

    from guests.build import build

    kernel = build("linux") / "Image"
    initrd = build("initramfs") / "initramfs.cpio.gz"
    print(f"Linux boot to the self-check's result and to exit ({os.cpu_count()} host CPUs)")
    print(f"kernel {kernel}\ninitrd {initrd}\n")
    print(
        "vcpus  vmm            smp_up_s result_s  exit_s   cpu_s  check "
        "| ratio avmm/qemu: smp_up result  exit   cpu"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        qdisk, adisk = Path(tmp) / "qemu.img", Path(tmp) / "avmm.img"
        for smp in args.smp:
            peer = _best(args.runs, functools.partial(qemu, kernel, initrd, smp, qdisk))
            rows = [peer]
            for mode in args.mode:
                run = functools.partial(avmm, kernel, initrd, smp, adisk, mode)
                rows.append(_best(args.runs, run))
            for boot in rows:
                ok &= boot.passed
                verdict = "PASS" if boot.passed else f"FAIL(rc={boot.returncode})"
                ratio = ""
                if boot is not peer:
                    ratio = (
                        f" |                  {_ratio(boot.to_smp, peer.to_smp)} "
                        f"{_ratio(boot.to_result, peer.to_result)} "
                        f"{_ratio(boot.to_exit, peer.to_exit)} "
                        f"{_ratio(boot.cpu, peer.cpu)}"
                    )
                print(
                    f"{smp:5}  {boot.vmm:14} {_fmt(boot.to_smp)}   {_fmt(boot.to_result)}  "
                    f"{_fmt(boot.to_exit)}  {_fmt(boot.cpu)}  {verdict:5}{ratio}",
                    flush=True,
                )
            by_mode = {b.vmm: b for b in rows}
            fw, direct = by_mode.get("avmm-firmware"), by_mode.get("avmm-direct")
            if fw is not None and direct is not None:
                print(
                    f"{smp:5}  avmm harts online, firmware boot / direct boot: "
                    f"{_ratio(fw.to_smp, direct.to_smp).strip()}",
                    flush=True,
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
