"""Guests of the runtime's integration tests (tests/runtime): SMP contention,
VMID rollover, interrupt controllers, idle harts, a busy loop, and S-mode
direct-boot guests that exercise the SBI (sbi.elf) and its paravirtual
extensions, STA and avmm's own (pv.elf)."""

from __future__ import annotations

from pathlib import Path

from guests.build import REPO, Recipe, Step
from guests.lib.toolchain import ARCH_FLAGS, CC, LIB_INPUTS, TOOLS, link_guest

SRC = REPO / "guests" / "runtime"


def _build(step: Step) -> None:
    link_guest(step, "smp.elf", [SRC / "smp.c"])
    link_guest(step, "vmid.elf", [SRC / "vmid.c"])
    link_guest(step, "irq.elf", [SRC / "irq.c"])
    link_guest(step, "idle.elf", [SRC / "idle.c"], defines={"GUEST_MAX_HARTS": 64})
    link_guest(step, "spin.elf", [SRC / "spin.c"])
    link_guest(step, "work.elf", [SRC / "work.c"])
    link_guest(step, "bench.elf", [SRC / "bench.c"], defines={"GUEST_MAX_HARTS": 64})
    sbi = SRC / "sbi"
    for name in ("sbi", "pv"):
        _link_sbi_guest(step, sbi, name)


def _link_sbi_guest(step: Step, sbi: Path, name: str) -> None:
    """An S-mode direct-boot guest: start.S + ``name``.c at the kernel's load address."""
    step.run(
        CC,
        *ARCH_FLAGS,
        "-O2",
        "-g",
        "-ffreestanding",
        "-nostdlib",
        "-nostartfiles",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-T{sbi / 'sbi.ld'}",
        "-o",
        step.outdir / f"{name}.elf",
        sbi / "start.S",
        sbi / f"{name}.c",
    )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="runtime",
            inputs=(
                *LIB_INPUTS,
                "guests/runtime/*.c",
                "guests/runtime/sbi/*",
                "guests/runtime/recipe.py",
            ),
            tools=TOOLS,
            build=_build,
            description="guests of the runtime tests (SMP, VMIDs, irqchips, idle, SBI)",
        )
    ]
