"""Hostile guests (recipe ``hostile``; see README.md): one small assembly
program per attack on the VMM's host-facing edges."""

from __future__ import annotations

from guests.build import REPO, Recipe, Step
from guests.lib.toolchain import ARCH_FLAGS, CC, TOOLS

SRC = REPO / "guests" / "hostile"
# name -> link address: S-mode kernels where direct boot puts them (RAM + 2 MiB),
# M-mode firmware at the reset address.
GUESTS = {
    "rfence-stopped": 0x8020_0000,
    "getchar": 0x8020_0000,
    "htif-flood": 0x8000_0000,
    "uart-flood": 0x8000_0000,
}


def _build(step: Step) -> None:
    for name, text in GUESTS.items():
        step.run(
            CC,
            *ARCH_FLAGS,
            "-nostdlib",
            "-nostartfiles",
            "-static",
            "-Wl,-N,--no-warn-rwx-segments",  # no page-aligned headers below RAM
            f"-Wl,-Ttext={text:#x}",
            "-o",
            step.outdir / f"{name}.elf",
            SRC / f"{name}.S",
        )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="hostile",
            inputs=("guests/hostile/*.S", "guests/hostile/recipe.py"),
            tools=TOOLS,
            build=_build,
            description="hostile guests: RFENCE on a stopped hart, an HTIF request flood, "
            "a console input nobody reads, a UART output flood",
        )
    ]
