"""Loading the runtime's test guests into a VM (used by tests/runtime and bench/)."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from avmm.board import loader
from avmm.runtime.vm import Vm
from guests.build import build

RAM_BASE = 0x8000_0000
RAM_SIZE = 64 << 20


def guest_dir() -> Path:
    """The built ``runtime`` recipe (cached; rebuilt only when its sources change)."""
    return build("runtime", quiet=True)


def load_elf(vm: Vm, path: Path, patch: Mapping[str, int] | None = None) -> int:
    """Load the ELF into the VM's RAM (the product's loader), watch its HTIF symbols
    and write the 64-bit values of ``patch`` at their symbols. Returns the entry point."""
    image = loader.load_elf(vm.guest_memory, path)
    if image.tohost is not None:
        vm.set_htif(image.tohost, image.fromhost)
    loader.patch_symbols(vm.guest_memory, image, patch or {})
    return image.entry


def bare_metal_vm(
    vm: Vm,
    elf: Path,
    *,
    vcpus: int,
    patch: Mapping[str, int] | None = None,
    irqchip: bool = True,
) -> Vm:
    """RAM, vCPUs, irqchip and the ELF: every hart starts at the entry in M-mode."""
    vm.add_memory_slot(RAM_BASE, RAM_SIZE)
    for _ in range(vcpus):
        vm.create_vcpu()
    if irqchip:
        vm.setup_irqchip()
    vm.reset_all(load_elf(vm, elf, patch))
    return vm


def assemble(source: str, base: int = RAM_BASE) -> bytes:
    """Machine code of a small assembly snippet linked at ``base``, without compressed
    instructions (cached by content)."""
    text = ".option norvc\n" + source + "\n"  # 4-byte instructions: easy pcs
    key = hashlib.sha256(f"{base:#x}\n{text}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "avmm-runtime-asm"
    cache.mkdir(exist_ok=True)
    out = cache / f"{key}.bin"
    if not out.exists():
        src, obj, elf = (cache / f"{key}{ext}" for ext in (".S", ".o", ".elf"))
        src.write_text(text)
        arch = ("-march=rv64gc", "-mabi=lp64d")
        subprocess.run(["riscv64-unknown-elf-as", *arch, "-o", obj, src], check=True)
        subprocess.run(
            ["riscv64-unknown-elf-ld", "-Ttext", f"{base:#x}", "-e", f"{base:#x}", "-o", elf, obj],
            check=True,
        )
        tmp = cache / f"{key}.tmp"
        subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", elf, tmp], check=True)
        tmp.replace(out)
    return out.read_bytes()
