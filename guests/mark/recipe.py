"""Benchmark guests: the CoreMark-class ``mark.elf`` (bench/core.py patches
``mark_iterations``) and ``exit.elf``, which ends at once (bench/startup.py)."""

from __future__ import annotations

from guests.build import REPO, Recipe, Step
from guests.lib.toolchain import ARCH_FLAGS, CC, LIB_INPUTS, TOOLS, link_guest

SRC = REPO / "guests" / "mark"


def _build(step: Step) -> None:
    link_guest(step, "mark.elf", [SRC / "mark.c"], disassemble=True)
    step.run(
        CC,
        *ARCH_FLAGS,
        "-nostdlib",
        "-nostartfiles",
        "-Wl,-N,--no-warn-rwx-segments",  # no page-aligned headers below RAM
        "-Wl,-Ttext=0x80000000",
        "-o",
        step.outdir / "exit.elf",
        SRC / "exit.S",
    )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="mark",
            inputs=(*LIB_INPUTS, "guests/mark/*.c", "guests/mark/*.S", "guests/mark/recipe.py"),
            tools=TOOLS,
            build=_build,
            description="benchmark guests: CoreMark-class mark.elf (lists, matrices, state "
            "machine, CRCs; self-validating), exit.elf (ends at once)",
        )
    ]
