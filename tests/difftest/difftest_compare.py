"""Run one differential-test ELF on avmm and QEMU and explain the first difference."""

from __future__ import annotations

from pathlib import Path

from avmm.board.elfrun import run_elf
from guests.difftest.signature import Difference, first_difference
from guests.lib.qemu import run_qemu


def compare(elf: Path, program: str, entries: tuple[str, ...] = ()) -> str | None:
    """None when avmm and QEMU print the same signature, else a one-line explanation."""
    qemu = run_qemu(elf, timeout=120)
    avmm = run_elf(elf, max_instructions=100_000_000)
    if qemu.exit_code != 0 or not qemu.console.endswith(b"end\n"):
        tail = qemu.console[-300:]
        return f"{program}: QEMU did not finish the program (exit {qemu.exit_code}): {tail!r}"
    diff = first_difference(avmm.console, qemu.console)
    if diff is None and avmm.exit_code != 0:
        diff = Difference("exit code", str(avmm.exit_code), "0")
    return None if diff is None else diff.describe(program, entries)
