"""The CoreMark-class benchmark guest (bench/core.py patches ``mark_iterations``)."""

from __future__ import annotations

from guests.build import Recipe, Step
from guests.lib.toolchain import LIB_INPUTS, REPO, TOOLS, link_guest


def _build(step: Step) -> None:
    link_guest(step, "mark.elf", [REPO / "guests" / "mark" / "mark.c"], disassemble=True)


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="mark",
            inputs=(*LIB_INPUTS, "guests/mark/mark.c", "guests/mark/recipe.py"),
            tools=TOOLS,
            build=_build,
            description="CoreMark-class benchmark guest (lists, matrices, state machine, CRCs; "
            "self-validating)",
        )
    ]
