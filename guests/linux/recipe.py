"""Recipes of the Linux guest for ``guests/build.py``: linux, busybox, initramfs.

``initramfs`` builds ``busybox`` first (a cache hit when it is built) and has
busybox's key in its own, so a new busybox makes a new initramfs.
"""

from __future__ import annotations

from guests.build import Recipe
from guests.linux import busybox, debsrc, initramfs, kernel

SHARED = ("guests/linux/__init__.py", "guests/linux/debsrc.py")


def recipes() -> list[Recipe]:
    linux = Recipe(
        name="linux",
        inputs=(
            *SHARED,
            "guests/linux/kernel.py",
            "guests/linux/kernel.config",
            "guests/linux/driver/*.c",
        ),
        tools=debsrc.CROSS_TOOLS,
        build=kernel.build,
        extra_key=debsrc.kernel_source_key,
        description="Linux 6.12 Image (+ vmlinux, System.map, config) for the virt board",
    )
    bb = Recipe(
        name="busybox",
        inputs=(*SHARED, "guests/linux/busybox.py", "guests/linux/busybox.config"),
        tools=debsrc.CROSS_TOOLS,
        build=busybox.build,
        extra_key=lambda: debsrc.source_package_key(debsrc.BUSYBOX_PACKAGE),
        description="busybox for riscv64, static, from Debian's source package",
    )
    ramfs = Recipe(
        name="initramfs",
        inputs=(
            *SHARED,
            "guests/linux/initramfs.py",
            "guests/linux/init",
            "guests/linux/check/*.c",
            "guests/linux/rootfs/**/*",
        ),
        tools=debsrc.CROSS_TOOLS,
        build=initramfs.build,
        # gen_init_cpio comes from the kernel source; busybox from its own recipe.
        extra_key=lambda: f"{debsrc.kernel_source_key()} busybox={bb.key()}",
        description="initramfs.cpio.gz: busybox, /init, the avmm-check self-check",
    )
    return [linux, bb, ramfs]
