"""Build the guest kernel: Debian's linux-source-6.12, ``tinyconfig`` + ``kernel.config``,
with avmm's own built-in driver (``driver/avmm_para.c``) added to the tree."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from avmm.errors import GuestBuildError
from guests.build import Step

from . import debsrc

HERE = Path(__file__).resolve().parent
FRAGMENT = HERE / "kernel.config"
# Built-in drivers of our own, copied into arch/riscv/kernel/ and added to its Makefile.
DRIVERS = (HERE / "driver" / "avmm_para.c",)
# What the recipe leaves in its output directory.
OUTPUTS = ("Image", "vmlinux", "System.map", "config")
# Sources a riscv build never reads: other architectures' code, the GPU drivers' code
# (450 MB of headers) and the documentation. Kconfig and make files all stay (kconfig
# reads every architecture's and Documentation/Kconfig). A third fewer files to unpack
# and to delete afterwards.
UNPACK_EXCLUDES = (
    "*/arch/[!r]*/*.[chS]",
    "*/arch/[!r]*/*.dts*",
    "*/drivers/gpu/*.[ch]",
    "*/Documentation/*/*",
)


def make_args(src: Path, obj: Path) -> list[str]:
    return [
        "make",
        "-C",
        str(src),
        f"O={obj}",
        "ARCH=riscv",
        f"CROSS_COMPILE={debsrc.CROSS_COMPILE}",
        # The banner then names the project, not whoever built it or when: the same
        # inputs give the same Image.
        "KBUILD_BUILD_USER=avmm",
        "KBUILD_BUILD_HOST=avmm",
        "KBUILD_BUILD_TIMESTAMP=2026-01-01",
    ]


def configure(step: Step, src: Path, obj: Path) -> None:
    """tinyconfig, merge the fragment, resolve; fail if any asked-for option was dropped."""
    make = make_args(src, obj)
    step.run(*make, "tinyconfig")
    config = obj / ".config"
    debsrc.merge_config(config, FRAGMENT)
    step.run(*make, "olddefconfig")
    wanted = debsrc.read_config(FRAGMENT)
    missing = debsrc.missing_options(wanted, debsrc.read_config(config))
    if missing:
        raise GuestBuildError(
            "kernel config: options from guests/linux/kernel.config did not survive "
            "olddefconfig (a dependency is missing or the name is wrong):\n  "
            + "\n  ".join(missing)
        )
    step.progress(f"config ok: all {len(wanted)} options of kernel.config are set")


def add_drivers(src: Path) -> None:
    """Put :data:`DRIVERS` into the tree as always-built objects of arch/riscv/kernel."""
    kernel_dir = src / "arch" / "riscv" / "kernel"
    makefile = kernel_dir / "Makefile"
    lines = [f"obj-y += {driver.stem}.o\n" for driver in DRIVERS]
    for driver in DRIVERS:
        shutil.copy2(driver, kernel_dir / driver.name)
    makefile.write_text(makefile.read_text() + "\n# avmm guest drivers\n" + "".join(lines))


def build(step: Step) -> None:
    with tempfile.TemporaryDirectory(prefix=".linux-tree-", dir=step.outdir.parent) as tmp:
        work = Path(tmp)
        step.progress(f"unpacking {debsrc.KERNEL_TARBALL.name}")
        step.run(
            "tar",
            "-xJf",
            debsrc.KERNEL_TARBALL,
            "-C",
            work,
            *(f"--exclude={pattern}" for pattern in UNPACK_EXCLUDES),
        )
        trees = [p for p in work.iterdir() if p.is_dir()]
        if len(trees) != 1:
            raise GuestBuildError(f"{debsrc.KERNEL_TARBALL} did not unpack to one directory")
        src, obj = trees[0], work / "obj"
        obj.mkdir()
        add_drivers(src)
        step.progress("configuring (tinyconfig + kernel.config)")
        configure(step, src, obj)
        step.progress(f"compiling Image (make -j{debsrc.JOBS}, a few minutes)")
        step.run(*make_args(src, obj), f"-j{debsrc.JOBS}", "Image")
        step.progress("copying Image, vmlinux, System.map, config")
        shutil.copy2(obj / "arch/riscv/boot/Image", step.outdir / "Image")
        shutil.copy2(obj / "vmlinux", step.outdir / "vmlinux")
        shutil.copy2(obj / "System.map", step.outdir / "System.map")
        shutil.copy2(obj / ".config", step.outdir / "config")
