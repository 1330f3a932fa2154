"""Fixtures of the CLI tests: built guests and tiny assembled ones."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

# A bare-metal guest's frame: HTIF words on their own page, entry at RAM base.
_FRAME = """
    .section .text.init
    .globl _start
_start:
{body}
    .section .htif, "aw", @progbits
    .balign 4096
    .globl tohost
tohost: .dword 0
    .size tohost, 8
    .globl fromhost
fromhost: .dword 0
    .size fromhost, 8
"""


@pytest.fixture
def asm_guest(tmp_path: Path) -> Callable[[str], Path]:
    """Assemble a bare-metal M-mode guest from a few instructions."""

    def make(body: str) -> Path:
        src = tmp_path / "guest.S"
        src.write_text(_FRAME.format(body=body))
        elf = tmp_path / "guest.elf"
        subprocess.run(
            [
                "riscv64-unknown-elf-gcc",
                "-nostdlib",
                "-nostartfiles",
                "-march=rv64gc",
                "-mabi=lp64d",
                "-Wl,-N,--no-warn-rwx-segments",  # no page-aligned headers below RAM
                "-Wl,-Ttext=0x80000000",
                "-Wl,--section-start=.htif=0x80010000",
                "-o",
                str(elf),
                str(src),
            ],
            check=True,
        )
        return elf

    return make
