"""Self-test guests of the bare-metal runtime (tests/isa/test_runtime.py)."""

from __future__ import annotations

from guests.build import Recipe, Step
from guests.lib.toolchain import LIB, LIB_INPUTS, TOOLS, link_guest


def _build(step: Step) -> None:
    src = LIB / "selftest"
    link_guest(step, "hello.elf", [src / "hello.c"])
    link_guest(step, "exit7.elf", [src / "exitcode.c"], defines={"EXIT_CODE": 7})
    link_guest(step, "trap.elf", [src / "trap.c"])
    link_guest(step, "smp.elf", [src / "smp.c"], defines={"NHARTS": 2})
    link_guest(step, "idle.elf", [src / "idle.c"])
    link_guest(step, "patch.elf", [src / "patch.c"])
    link_guest(step, "misa.elf", [src / "misa.c"])
    # UART console with HTIF exit: on avmm's elfrun the UART is unexpected MMIO.
    link_guest(step, "hello-uart.elf", [src / "hello.c"], console="uart")
    # The same programs for QEMU's virt board: UART console, SiFive test exit.
    link_guest(step, "hello-virt.elf", [src / "hello.c"], console="uart", exit="sifive")
    link_guest(
        step,
        "exit7-virt.elf",
        [src / "exitcode.c"],
        console="uart",
        exit="sifive",
        defines={"EXIT_CODE": 7},
    )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="lib-selftest",
            inputs=(*LIB_INPUTS, "guests/lib/selftest/*.c", "guests/lib/recipe.py"),
            tools=TOOLS,
            build=_build,
            description="self-tests of the bare-metal guest runtime",
        )
    ]
