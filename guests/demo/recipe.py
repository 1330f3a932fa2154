"""The bare-metal demo guests of the virt board (recipe ``demo``; see README.md).

Every guest uses the board's own devices: the NS16550A console and the SiFive
test device to power off with its exit code, so the same ELF runs on avmm
(firmware boot) and on QEMU ``-M virt -bios none``.
"""

from __future__ import annotations

from guests.build import Recipe, Step
from guests.lib.toolchain import LIB_INPUTS, REPO, TOOLS, link_guest

DEMO = REPO / "guests" / "demo"
COMMON = (DEMO / "fdt.c",)
# entry.S goes first on the command line (link_guest puts cflags before the
# runtime's sources), so demo_entry is the first instruction at 0x80000000:
# QEMU's virt jumps there with -bios none whatever the ELF entry says.
ENTRY = (str(DEMO / "entry.S"), "-Wl,--entry=demo_entry")
# name -> (sources, defines)
GUESTS: dict[str, tuple[tuple[str, ...], dict[str, str | int]]] = {
    "hello": (("hello.c",), {}),
    "smp-demo": (("smp.c",), {}),
    "timer": (("timer.c",), {}),
    "virtio-blk": (("blk.c", "virtio.c"), {}),
    "virtio-hostile": (("hostile.c", "virtio.c"), {}),
    "reboot": (("reboot.c",), {}),
    "uart-idle": (("uart-idle.c",), {}),
    "ctl-echo": (("ctl-echo.c",), {}),
}


def _build(step: Step) -> None:
    for name, (sources, defines) in GUESTS.items():
        link_guest(
            step,
            f"{name}.elf",
            [*COMMON, *(DEMO / s for s in sources)],
            console="uart",
            exit="sifive",
            cflags=[f"-I{DEMO}", *ENTRY],
            defines=defines,
        )


def recipes() -> list[Recipe]:
    return [
        Recipe(
            name="demo",
            inputs=(
                *LIB_INPUTS,
                "guests/demo/*.c",
                "guests/demo/*.h",
                "guests/demo/*.S",
                "guests/demo/recipe.py",
            ),
            tools=TOOLS,
            build=_build,
            description="bare-metal demos for the virt board: hello, smp-demo, timer, virtio-blk",
        )
    ]
