"""Differential-test programs for CI: the seeds in gen.CI_SEEDS and the directed ones.

Outputs ``<name>.elf`` per program and ``programs.json`` (name, category,
seed, and for directed programs what each result entry is).
"""

from __future__ import annotations

import json
from pathlib import Path

from guests.build import Recipe, Step
from guests.difftest.gen import CI_LENGTH, CI_SEEDS, Program, directed_programs, random_program
from guests.lib.toolchain import LIB_INPUTS, REPO, TOOLS, link_guest

HERE = REPO / "guests" / "difftest"


def build_programs(step: Step, programs: list[Program]) -> list[Path]:
    """Write each program's assembly next to its ELF and build it."""
    elfs = []
    for prog in programs:
        src = step.outdir / f"{prog.name}.S"
        src.write_text(prog.asm)
        elfs.append(
            link_guest(step, f"{prog.name}.elf", [HERE / "main.c", src], defines=prog.defines())
        )
    return elfs


def _build(step: Step) -> None:
    programs = [random_program(c, s, CI_LENGTH, m) for c, s, m in CI_SEEDS]
    programs += directed_programs()
    build_programs(step, programs)
    manifest = [
        {
            "name": p.name,
            "category": p.category,
            "seed": p.seed,
            "mode": p.mode,
            "entries": list(p.entries),
        }
        for p in programs
    ]
    (step.outdir / "programs.json").write_text(json.dumps(manifest))


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="difftest",
            inputs=(*LIB_INPUTS, "guests/difftest/*.py", "guests/difftest/main.c"),
            tools=TOOLS,
            build=_build,
            description="differential-test programs (fixed seeds + directed FP), avmm vs QEMU",
        )
    ]
