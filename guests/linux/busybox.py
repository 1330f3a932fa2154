"""Build busybox statically for riscv64 from Debian's source package."""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path

from avmm.errors import GuestBuildError
from guests.build import Step

from . import debsrc

HERE = Path(__file__).resolve().parent
FRAGMENT = HERE / "busybox.config"
OUTPUTS = ("busybox", "busybox.links", "config")


def build(step: Step) -> None:
    with tempfile.TemporaryDirectory(prefix=".busybox-tree-", dir=step.outdir.parent) as tmp:
        step.progress("fetching busybox source (apt-get source busybox)")
        src = debsrc.fetch_source(debsrc.BUSYBOX_PACKAGE, Path(tmp))
        step.progress(f"unpacked {src.name}")
        make = ["make", "-C", str(src), "ARCH=riscv", f"CROSS_COMPILE={debsrc.CROSS_COMPILE}"]
        step.progress("configuring (defconfig + busybox.config)")
        step.run(*make, "defconfig")
        config = src / ".config"
        debsrc.merge_config(config, FRAGMENT)
        # busybox's kconfig has no olddefconfig: answer every new question with its default.
        step.run("sh", "-c", f"yes '' | {shlex.join(make)} oldconfig")
        wanted = debsrc.read_config(FRAGMENT)
        missing = debsrc.missing_options(wanted, debsrc.read_config(config))
        if missing:
            raise GuestBuildError(
                "busybox config: options from guests/linux/busybox.config did not survive "
                "oldconfig:\n  " + "\n  ".join(missing)
            )
        step.progress(f"compiling busybox (make -j{debsrc.JOBS}, about a minute)")
        step.run(*make, f"-j{debsrc.JOBS}", "busybox", "busybox.links")
        for name, target in (
            ("busybox", "busybox"),
            ("busybox.links", "busybox.links"),
            (".config", "config"),
        ):
            shutil.copy2(src / name, step.outdir / target)
