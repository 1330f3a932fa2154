"""The ISA test programs: one ELF per instruction group or privileged behaviour.

``TESTS`` is the list tests/isa parametrizes over; each test passes by
printing ``PASS <name>`` and exiting with code 0 through HTIF (failure code
= the source line of the failing check).
"""

from __future__ import annotations

import attrs

from guests.build import Recipe, Step
from guests.lib.qemu import Machine
from guests.lib.toolchain import LIB_INPUTS, REPO, TOOLS, link_guest

ISA = REPO / "guests" / "isa"
COMMON = (ISA / "common" / "isa.c", ISA / "common" / "mode.S")


@attrs.frozen
class IsaTest:
    name: str
    sources: tuple[str, ...]  # in guests/isa/tests
    harts: int = 1
    # QEMU's spike machine has no `time` CSR; tests reading it run on virt
    # (UART console, SiFive test exit) there.
    qemu_machine: Machine = "spike"
    # Built for QEMU with -DQEMU_DEVIATIONS, which leaves out the checks
    # where QEMU 7.2 departs from the specification (each one says why).
    qemu_deviations: bool = False
    # Run QEMU with -icount shift=0 so minstret counts instructions.
    qemu_icount: bool = False
    defines: tuple[tuple[str, str | int], ...] = ()

    @property
    def elf(self) -> str:
        """The ELF avmm runs (HTIF)."""
        return f"{self.name}.elf"

    @property
    def qemu_elf(self) -> str:
        """The ELF QEMU runs: the same program unless a variant is needed."""
        if self.qemu_machine == "spike" and not self.qemu_deviations:
            return self.elf
        return f"{self.name}-qemu.elf"


TESTS: tuple[IsaTest, ...] = (
    IsaTest("i_alu", ("i_alu.c",)),
    IsaTest("i_branch", ("i_branch.c",)),
    IsaTest("i_mem", ("i_mem.c",)),
    IsaTest("m", ("m.c",)),
    IsaTest("a", ("a.c",)),
    IsaTest("c", ("c.S",)),
    IsaTest("fencei", ("fencei.c",)),
    IsaTest("f", ("f.c", "fp.c")),
    IsaTest("d", ("d.c", "fp.c")),
    IsaTest("fcvt", ("fcvt.c", "fp.c")),
    IsaTest("fmisc", ("fmisc.c",)),
    IsaTest("zicsr", ("zicsr.c",), qemu_deviations=True),
    IsaTest("traps", ("traps.c",), qemu_deviations=True),
    IsaTest("deleg", ("deleg.c",), qemu_deviations=True),
    IsaTest("irq", ("irq.c",), qemu_deviations=True),
    IsaTest("wfi", ("wfi.c",)),
    IsaTest("counters", ("counters.c",), qemu_machine="virt", qemu_icount=True),
    IsaTest("fs_off", ("fs_off.c",)),
    IsaTest("paging_sv39", ("paging.c",), qemu_deviations=True, defines=(("LEVELS", 3),)),
    IsaTest("paging_sv48", ("paging.c",), qemu_deviations=True, defines=(("LEVELS", 4),)),
    IsaTest("smp_lrsc", ("smp_lrsc.c",), harts=2),
    IsaTest("smp_amo", ("smp_amo.c",), harts=2),
    IsaTest("smp_ipi", ("smp_ipi.c",), harts=2),
    IsaTest("triggers", ("triggers.c",), qemu_deviations=True),
)


def _build(step: Step) -> None:
    for test in TESTS:
        sources = [*COMMON, *(ISA / "tests" / s for s in test.sources)]
        defines = {"TEST_NAME": f'"{test.name}"', **dict(test.defines)}
        cflags = [f"-I{ISA / 'common'}"]
        link_guest(step, test.elf, sources, defines=defines, cflags=cflags)
        if test.qemu_elf != test.elf:
            virt = test.qemu_machine == "virt"
            link_guest(
                step,
                test.qemu_elf,
                sources,
                console="uart" if virt else "htif",
                exit="sifive" if virt else "htif",
                defines={**defines, "QEMU_DEVIATIONS": 1} if test.qemu_deviations else defines,
                cflags=cflags,
            )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="isa",
            inputs=(
                *LIB_INPUTS,
                "guests/isa/recipe.py",
                "guests/isa/common/*",
                "guests/isa/tests/*",
            ),
            tools=TOOLS,
            build=_build,
            description="ISA test programs (one ELF per instruction group / privileged behaviour)",
        )
    ]
