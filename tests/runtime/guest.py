"""Loading the runtime's test guests into a VM (used by tests/runtime and bench/)."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from avmm.vm import Vm
from guests.build import build

RAM_BASE = 0x8000_0000
RAM_SIZE = 64 << 20


def guest_dir() -> Path:
    """The built ``runtime`` recipe (cached; rebuilt only when its sources change)."""
    return build("runtime", quiet=True)


def load_elf(vm: Vm, path: Path, patch: Mapping[str, int] | None = None) -> int:
    """Copy the ELF's PT_LOAD segments into RAM, watch its HTIF symbols and write
    the 64-bit values of ``patch`` at their symbols. Returns the entry point."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
            vm.machine.write_phys(seg["p_paddr"], data)
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        entry = int(elf.header["e_entry"])
    if "tohost" in symbols:
        vm.set_htif(symbols["tohost"], symbols.get("fromhost"))
    for name, value in (patch or {}).items():
        vm.machine.write_phys(symbols[name], struct.pack("<Q", value))
    return entry


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
