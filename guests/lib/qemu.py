"""Run a bare-metal guest ELF on QEMU with the ISA avmm implements.

Every comparison with QEMU (ISA suite, differential tests, CPU benchmark)
goes through :func:`qemu_command`, so QEMU always models the same hart:
RV64IMAFDC + Zicsr, Zifencei, Zicntr, Zihintpause; M/S/U with Sv39/Sv48; no
H, no bit-manipulation, no Sstc, no PMP, no Svinval, Svnapot or Svpbmt;
debug triggers (Sdtrig) on.

Known differences of QEMU 7.2 that tests must work around:
- ``-M spike`` gives the CLINT no ``time`` CSR hook, so reading ``time``
  traps there; guests that read ``time`` run on ``-M virt`` (UART console,
  SiFive test exit) instead.
- ``minstret``/``cycle`` count host time unless ``icount=True``
  (``-icount shift=0``, one hart only in 7.2).
- QEMU 7.2 accepts satp MODE = Sv57; avmm does not. Tests use reserved modes.
- QEMU 7.2's triggers follow the 0.13 draft of the debug spec: 2 triggers,
  match 0 only, tval 0, no tcontrol, tinfo version 0, no re-entry rule for S.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Literal

import attrs

QEMU = "qemu-system-riscv64"
CPU = ",".join(
    (
        "rv64",
        "h=false",
        "zba=false",
        "zbb=false",
        "zbc=false",
        "zbs=false",
        "sstc=false",
        "pmp=false",
        "debug=true",
        "svinval=false",
        "svnapot=false",
        "svpbmt=false",
        "Zicsr=true",
        "Zifencei=true",
        "Zihintpause=true",
    )
)
Machine = Literal["spike", "virt"]


@attrs.frozen
class QemuRun:
    """Result of one QEMU run: process exit status (HTIF / SiFive test exit code,
    modulo 256), console bytes and host seconds."""

    exit_code: int
    console: bytes
    elapsed: float


class QemuTimeout(Exception):
    """QEMU did not finish within the time limit (the guest hung)."""

    def __init__(self, elf: Path, seconds: float, console: bytes) -> None:
        self.console = console
        super().__init__(f"QEMU running {elf} did not finish within {seconds} s")


def qemu_command(
    elf: str | os.PathLike[str],
    *,
    machine: Machine = "spike",
    harts: int = 1,
    icount: bool = False,
    memory_mib: int = 128,
) -> list[str]:
    """The QEMU command line that runs ``elf`` from its entry in M-mode on every hart."""
    cmd = [
        QEMU,
        "-M",
        machine,
        "-cpu",
        CPU,
        "-smp",
        str(harts),
        "-m",
        f"{memory_mib}M",
        "-bios",
        "none",
        "-kernel",
        os.fspath(elf),
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-nodefaults",
    ]
    if icount:
        cmd += ["-icount", "shift=0"]
    return cmd


def run_qemu(
    elf: str | os.PathLike[str],
    *,
    machine: Machine = "spike",
    harts: int = 1,
    icount: bool = False,
    timeout: float = 60.0,
) -> QemuRun:
    """Run ``elf`` on QEMU until the guest exits; raise :class:`QemuTimeout` on a hang."""
    cmd = qemu_command(elf, machine=machine, harts=harts, icount=icount)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        out = err.stdout if isinstance(err.stdout, bytes) else b""
        raise QemuTimeout(Path(elf), timeout, out) from None
    elapsed = time.perf_counter() - start
    out = proc.stdout
    if proc.stderr.strip():
        # QEMU only writes here about its own problems (bad option, bad ELF).
        out += b"\n[qemu stderr] " + proc.stderr
    return QemuRun(exit_code=proc.returncode, console=out, elapsed=elapsed)
