"""Boot modes of the virt board: what is in RAM and where each hart starts.

- **direct**: the kernel (a Linux ``Image``, or an S-mode ELF) at RAM + 2 MiB,
  the initrd and the device tree high in RAM, the VMM answering SBI; hart 0
  enters S-mode at the kernel with a0 = hartid, a1 = DTB, the others wait in
  HSM STOPPED until the guest starts them (:func:`avmm.sbi.prepare_direct_boot`).
- **firmware**: an M-mode image at reset. A raw image (Debian's OpenSBI
  ``fw_dynamic.bin``) goes to the RAM base; an ELF goes where its segments
  say, and its ``tohost`` symbol turns HTIF on. A kernel, if given, is loaded at
  RAM + 2 MiB for the firmware to start in S-mode, described by OpenSBI's
  ``struct fw_dynamic_info``. Every hart starts at the firmware entry in M-mode
  with a0 = hartid, a1 = DTB, a2 = &fw_dynamic_info (0 without a kernel).

:func:`load` runs at power-on and again at every reboot (the images are read
again, the device tree made again), after :meth:`avmm.runtime.vm.Vm.reset`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import attrs

from avmm import _core, sbi
from avmm.board.devicetree import BoardSpec, isa_string, virt_device_tree
from avmm.board.layout import Layout
from avmm.board.loader import (
    LINUX_ALIGN,
    NEXT_MODE_S,
    LinuxImage,
    fw_dynamic_info,
    load_elf,
    load_raw,
    place_dtb,
    place_initrd,
)
from avmm.config import BootConfig
from avmm.constants import CLINT_BASE, PLIC_BASE, PLIC_NDEV
from avmm.errors import BootError
from avmm.runtime.vm import Vm

ELF_MAGIC = b"\x7fELF"
FW_INFO_SIZE = 0x1000  # the page below the kernel holds fw_dynamic_info


@attrs.frozen
class Region:
    """One image in guest RAM: [start, end)."""

    what: str
    start: int
    end: int

    def describe(self) -> dict[str, str]:
        return {"what": self.what, "start": f"{self.start:#x}", "end": f"{self.end:#x}"}


@attrs.frozen
class BootState:
    """What :func:`load` put where, and how the harts start."""

    mode: str
    entry: int  # where the first instruction runs (the kernel's or the firmware's)
    dtb: int
    dtb_size: int
    regions: tuple[Region, ...]
    fw_info: int | None = None  # address of fw_dynamic_info
    htif: int | None = None  # tohost, when the firmware ELF has one

    def describe(self) -> dict[str, object]:
        data: dict[str, object] = {
            "mode": self.mode,
            "entry": f"{self.entry:#x}",
            "dtb": f"{self.dtb:#x}",
            "images": [r.describe() for r in self.regions],
        }
        if self.fw_info is not None:
            data["fw_dynamic_info"] = f"{self.fw_info:#x}"
        if self.htif is not None:
            data["htif_tohost"] = f"{self.htif:#x}"
        return data


def board_spec(
    layout: Layout, bootargs: str, initrd: tuple[int, int] | None, rng_seed: bytes = b""
) -> BoardSpec:
    """The device tree's view of the machine (harts, ISA, memory, devices, chosen)."""
    return BoardSpec(
        harts=layout.vcpus,
        isa=isa_string(_core.ISA, sstc=layout.sstc),
        memory_size=layout.ram_size,
        memory_base=layout.ram_base,
        bootargs=bootargs,
        initrd=initrd,
        clint_base=CLINT_BASE,
        plic_base=PLIC_BASE,
        plic_ndev=PLIC_NDEV,
        devices=layout.device_specs(),
        rng_seed=rng_seed,
    )


def device_tree(
    layout: Layout, config: BootConfig, initrd: tuple[int, int] | None, rng_seed: bytes = b""
) -> bytes:
    return virt_device_tree(board_spec(layout, config.cmdline, initrd, rng_seed))


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError as err:
        raise BootError(f"{path}: cannot read: {err.strerror}") from None


def _load_kernel(vm: Vm, path: Path, ram_base: int) -> tuple[int, Region]:
    """Load a kernel for S-mode: (entry, region)."""
    memory = vm.guest_memory
    if _is_elf(path):
        image = load_elf(memory, path)
        return image.entry, Region(f"kernel {path.name}", image.low, image.high)
    linux = LinuxImage.parse(path)
    # At RAM + text_offset, which is KERNEL_OFFSET (2 MiB) for every RV64 kernel.
    addr = linux.load(memory, ram_base)
    return addr, Region(f"kernel {path.name}", addr, ram_base + linux.end_offset)


def _place_initrd_and_dtb(
    vm: Vm, layout: Layout, config: BootConfig, low: int, rng_seed: bytes
) -> tuple[int, int, Region | None]:
    """The DTB goes in the top 2 MiB of RAM, the initrd just under it (above ``low``).

    The tree records where the initrd is, so its size is known first from a tree
    with a placeholder range (the cells have a fixed width)."""
    memory = vm.guest_memory
    top = layout.ram_base + layout.ram_size
    initrd_region = None
    initrd: tuple[int, int] | None = None
    if config.initrd is not None:
        size = len(device_tree(layout, config, (0, 0), rng_seed))
        dtb_at = (top - size) & ~(LINUX_ALIGN - 1)
        initrd = place_initrd(memory, config.initrd, below=dtb_at, above=low)
        initrd_region = Region(f"initrd {config.initrd.name}", *initrd)
    dtb = device_tree(layout, config, initrd, rng_seed)
    try:
        addr = place_dtb(memory, dtb, ram_base=layout.ram_base, ram_size=layout.ram_size)
    except BootError:
        raise BootError(
            f"the device tree ({len(dtb)} bytes) does not fit in {layout.ram_size >> 20} MiB of RAM"
        ) from None
    return addr, len(dtb), initrd_region


def _check_overlaps(regions: list[Region]) -> None:
    ordered = sorted(regions, key=lambda r: r.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise BootError(
                f"{a.what} at {a.start:#x}..{a.end:#x} overlaps {b.what} at "
                f"{b.start:#x}..{b.end:#x}"
            )


def load(vm: Vm, layout: Layout, config: BootConfig, *, rng_seed: bytes = b"") -> BootState:
    """Put the boot images in RAM and set every hart up for ``config.mode``.

    The harts must be in their reset state (a new VM, or after ``Vm.reset``).
    ``rng_seed`` goes to the device tree's ``/chosen/rng-seed`` (none if empty).
    """
    if config.mode == "direct":
        return _direct(vm, layout, config, rng_seed)
    return _firmware(vm, layout, config, rng_seed)


def _direct(vm: Vm, layout: Layout, config: BootConfig, rng_seed: bytes) -> BootState:
    if config.kernel is None:
        raise BootError("direct boot needs a kernel")
    entry, kernel = _load_kernel(vm, config.kernel, layout.ram_base)
    dtb, dtb_size, initrd = _place_initrd_and_dtb(vm, layout, config, kernel.end, rng_seed)
    regions = [kernel, Region("device tree", dtb, dtb + dtb_size)]
    if initrd is not None:
        regions.append(initrd)
    _check_overlaps(regions)
    vm.set_htif(None)
    sbi.prepare_direct_boot(vm, entry=entry, dtb=dtb)
    return BootState("direct", entry, dtb, dtb_size, tuple(regions))


def _firmware(vm: Vm, layout: Layout, config: BootConfig, rng_seed: bytes) -> BootState:
    if config.firmware is None:
        raise BootError("firmware boot needs a firmware image")
    memory = vm.guest_memory
    path = config.firmware
    tohost: int | None = None
    fromhost: int | None = None
    if _is_elf(path):
        image = load_elf(memory, path)
        entry = image.entry
        firmware = Region(f"firmware {path.name}", image.low, image.high)
        tohost, fromhost = image.tohost, image.fromhost
    else:
        entry = layout.ram_base
        size = load_raw(memory, path, entry)
        firmware = Region(f"firmware {path.name}", entry, entry + size)
    regions = [firmware]
    fw_info: int | None = None
    low = firmware.end
    if config.kernel is not None:
        kernel_entry, kernel = _load_kernel(vm, config.kernel, layout.ram_base)
        fw_info = kernel.start - FW_INFO_SIZE
        if fw_info < layout.ram_base:
            raise BootError(
                f"{config.kernel}: no room for fw_dynamic_info below the kernel at "
                f"{kernel.start:#x} (firmware boot loads the kernel above the firmware)"
            )
        memory.write(fw_info, fw_dynamic_info(kernel_entry, NEXT_MODE_S, boot_hart=0))
        regions += [kernel, Region("fw_dynamic_info", fw_info, fw_info + FW_INFO_SIZE)]
        low = max(low, kernel.end)
    dtb, dtb_size, initrd = _place_initrd_and_dtb(vm, layout, config, low, rng_seed)
    regions.append(Region("device tree", dtb, dtb + dtb_size))
    if initrd is not None:
        regions.append(initrd)
    _check_overlaps(regions)
    machine = vm.machine
    machine.sbi_in_vmm = False  # the firmware serves SBI itself
    vm.set_htif(tohost, fromhost)
    vm.reset_all(entry)
    for vcpu in vm.vcpus:
        vcpu.hart.set_x(11, dtb)
        vcpu.hart.set_x(12, fw_info or 0)
    return BootState("firmware", entry, dtb, dtb_size, tuple(regions), fw_info, tohost)
