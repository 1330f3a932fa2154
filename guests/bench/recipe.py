"""The CPU benchmark guest (bench/core.py patches ``bench_iterations``)."""

from __future__ import annotations

from guests.build import Recipe, Step
from guests.lib.toolchain import LIB_INPUTS, REPO, TOOLS, link_guest


def _build(step: Step) -> None:
    link_guest(
        step,
        "bench.elf",
        [REPO / "guests" / "bench" / "bench.c"],
        cflags=["-fno-math-errno"],  # sqrt as one fsqrt.d
        disassemble=True,
    )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="bench",
            inputs=(*LIB_INPUTS, "guests/bench/bench.c", "guests/bench/recipe.py"),
            tools=TOOLS,
            build=_build,
            description="CPU benchmark guest (integer, branches, memory, mul/div, FP, RVC)",
        )
    ]
