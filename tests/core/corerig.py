"""Helpers for API-level tests of the compiled hart core.

``asm(source)`` assembles and links a snippet at RAM_BASE with the bare-metal
RISC-V toolchain and returns the raw bytes; results are cached by content in
pytest's cache directory, so only changed snippets call the assembler.
``rig(source)`` builds a one-VM machine with the snippet loaded and hart 0
reset at its first instruction (M-mode by default).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from avmm import _core as core

RAM_BASE = 0x8000_0000
RAM_SIZE = 4 << 20
TOOL = "riscv64-unknown-elf-"
MARCH = "rv64gc_zicsr_zifencei"

Assembler = Callable[..., bytes]


def assemble(cache: Path, source: str, base: int) -> bytes:
    key = hashlib.sha256(f"{MARCH}\n{base:#x}\n{source}".encode()).hexdigest()[:32]
    out = cache / f"{key}.bin"
    if out.exists():
        return out.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "s.S").write_text(".globl _start\n.text\n_start:\n" + source + "\n")
        for cmd in (
            [f"{TOOL}gcc", "-c", f"-march={MARCH}", "-mabi=lp64d", "s.S", "-o", "s.o"],
            [f"{TOOL}ld", "-Ttext", hex(base), "-e", "_start", "s.o", "-o", "s.elf"],
            [f"{TOOL}objcopy", "-O", "binary", "s.elf", "s.bin"],
        ):
            done = subprocess.run(cmd, cwd=t, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{cmd[0]} failed:\n{done.stderr}\n--- source:\n{source}")
        data = (t / "s.bin").read_bytes()
    tmp_out = out.with_suffix(f".{os.getpid()}.tmp")
    tmp_out.write_bytes(data)
    tmp_out.replace(out)
    return data


class Rig:
    """A machine with RAM at RAM_BASE, n harts, one TLB and a snippet loaded."""

    def __init__(self, code: bytes, *, harts: int = 1, ram: int = RAM_SIZE) -> None:
        self.machine = core.Machine()
        self.ram = self.machine.add_ram(RAM_BASE, ram)
        self.harts = [self.machine.create_hart() for _ in range(harts)]
        self.hart = self.harts[0]
        self.tlb = core.Tlb()
        self.machine.write_phys(RAM_BASE, code)
        for h in self.harts:
            h.reset(RAM_BASE)

    def run(self, budget: int = 100_000, hart: int = 0) -> int:
        return self.harts[hart].run(budget, self.tlb)

    def x(self, reg: int, hart: int = 0) -> int:
        return self.harts[hart].get_x(reg)

    def read64(self, addr: int) -> int:
        return int.from_bytes(self.machine.read_phys(addr, 8), "little")

    def write64(self, addr: int, value: int) -> None:
        self.machine.write_phys(addr, value.to_bytes(8, "little"))


RigFactory = Callable[..., Rig]
