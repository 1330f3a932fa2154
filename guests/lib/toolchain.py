"""Build bare-metal guests on the runtime in ``guests/lib`` (see README.md).

Recipes call :func:`link_guest` to compile and link one ELF in one compiler
run (the runtime is a handful of small files, so it is simply compiled into
every guest) and add :data:`LIB_INPUTS` to their inputs so a change to the
runtime rebuilds them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from guests.build import REPO, Step

LIB = REPO / "guests" / "lib"
CC = "riscv64-unknown-elf-gcc"
OBJDUMP = "riscv64-unknown-elf-objdump"
TOOLS = (CC,)
# Globs (relative to the repository root) a recipe using the runtime depends on.
LIB_INPUTS = (
    "guests/lib/*.c",
    "guests/lib/*.S",
    "guests/lib/*.h",
    "guests/lib/*.ld",
    "guests/lib/toolchain.py",
)
RUNTIME_SOURCES = ("crt0.S", "runtime.c", "console.c")

ARCH_FLAGS = ("-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany")
CFLAGS = (
    *ARCH_FLAGS,
    "--specs=picolibc.specs",
    "-nostartfiles",
    "-O2",
    "-g",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
    "-fno-common",
    "-Wl,--no-warn-rwx-segments",
)

Console = Literal["htif", "uart"]
Exit = Literal["htif", "sifive"]


def link_guest(
    step: Step,
    out: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]],
    *,
    console: Console = "htif",
    exit: Exit = "htif",
    cflags: Sequence[str] = (),
    defines: dict[str, str | int] | None = None,
    disassemble: bool = False,
) -> Path:
    """Compile ``sources`` with the runtime into the ELF ``out`` (relative to
    ``step.outdir`` unless absolute) and return its path.

    ``console`` / ``exit`` pick the backends: HTIF (Spike convention, avmm's
    ``run_elf`` and QEMU ``-M spike``) or the virt board's NS16550A UART and
    SiFive test device. ``defines`` become ``-DNAME=value`` (e.g.
    ``GUEST_MAX_HARTS``). With ``disassemble`` an ``objdump -d`` listing is
    written next to the ELF.
    """
    target = step.outdir / out
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = [*CFLAGS, f"-I{LIB}", f"-T{LIB / 'guest.ld'}"]
    if console == "uart":
        flags.append("-DGUEST_CONSOLE_UART")
    if exit == "sifive":
        flags.append("-DGUEST_EXIT_SIFIVE")
    for name, value in (defines or {}).items():
        flags.append(f"-D{name}={value}")
    flags.extend(cflags)
    srcs = [LIB / s for s in RUNTIME_SOURCES] + [Path(s) for s in sources]
    step.run(CC, *flags, "-o", target, *srcs)
    if disassemble:
        listing = target.with_suffix(".dis")
        step.run("sh", "-c", f'{OBJDUMP} -d "{target}" > "{listing}"')
    return target
