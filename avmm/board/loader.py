"""Putting boot images into guest RAM: ELF, raw binaries, Linux ``Image``, initrd, DTB.

Everything here writes through a :class:`~avmm.runtime.guestmem.GuestMemory`, so it
works on a VM's RAM and on a ``bytearray`` alike. Every failure is a
:class:`~avmm.errors.BootError` whose message is one line naming the file and
the problem.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import attrs
from elftools.common.exceptions import ELFError
from elftools.elf.constants import P_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from avmm.constants import PAGE_SIZE
from avmm.errors import BootError
from avmm.runtime.guestmem import GuestMemory

LINUX_ALIGN = 2 << 20  # the RISC-V kernel is loaded 2 MiB aligned
DTB_ALIGN = 8
EM_RISCV = 243

FW_DYNAMIC_INFO_MAGIC = 0x4942534F  # "OSBI"
FW_DYNAMIC_INFO_VERSION = 2
NEXT_MODE_U = 0
NEXT_MODE_S = 1
NEXT_MODE_M = 3

PathLike = str | os.PathLike[str]


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BootError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BootError(f"{path}: is a directory") from None
    except OSError as err:
        raise BootError(f"{path}: cannot read: {err.strerror}") from None


def _put(memory: GuestMemory, path: Path, addr: int, data: bytes, what: str) -> None:
    if not memory.contains(addr, len(data)):
        raise BootError(f"{path}: {what} at {addr:#x}+{len(data):#x} is outside RAM")
    memory.write(addr, data)


# ---------------------------------------------------------------------- ELF


@attrs.frozen
class ElfSegment:
    addr: int  # guest-physical load address
    file_size: int
    mem_size: int
    executable: bool


@attrs.frozen
class ElfSymbol:
    addr: int
    size: int


@attrs.frozen
class ElfImage:
    """What :func:`load_elf` put in RAM, and the file's defined symbols."""

    path: Path
    entry: int
    segments: tuple[ElfSegment, ...]
    symbols: dict[str, ElfSymbol] = attrs.field(factory=dict, eq=False)

    @property
    def tohost(self) -> int | None:
        """The HTIF ``tohost`` word, when the program has one."""
        sym = self.symbols.get("tohost")
        return None if sym is None else sym.addr

    @property
    def fromhost(self) -> int | None:
        sym = self.symbols.get("fromhost")
        return None if sym is None else sym.addr

    @property
    def low(self) -> int:
        return min(s.addr for s in self.segments)

    @property
    def high(self) -> int:
        """First address past the highest loaded byte (bss included)."""
        return max(s.addr + s.mem_size for s in self.segments)


def load_elf(memory: GuestMemory, path: PathLike) -> ElfImage:
    """Load an ELF64 RISC-V executable's PT_LOAD segments at their physical addresses.

    The part of each segment past its file contents (bss) is zeroed. The
    ``tohost``/``fromhost`` symbols are reported when the file has them (HTIF).
    """
    path = Path(path)
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise BootError(f"{path}: file not found") from None
    except OSError as err:
        raise BootError(f"{path}: cannot read: {err.strerror}") from None
    with stream:
        try:
            return _load_elf(memory, path, stream)
        except (ValueError, OverflowError, struct.error, EOFError) as err:
            # pyelftools follows header offsets as given: a huge e_phoff or
            # e_shoff reaches seek() or struct as a ValueError, not an ELFError.
            raise BootError(f"{path}: malformed ELF: {err}") from None


def _load_elf(memory: GuestMemory, path: Path, stream: BinaryIO) -> ElfImage:
    """load_elf with the file open."""
    try:
        elf = ELFFile(stream)
    except ELFError:
        raise BootError(f"{path}: not an ELF file") from None
    if elf.elfclass != 64:
        raise BootError(f"{path}: ELF{elf.elfclass} file; a 64-bit RISC-V ELF is needed")
    if not elf.little_endian:
        raise BootError(f"{path}: big-endian ELF; RISC-V is little-endian")
    if elf["e_machine"] not in ("EM_RISCV", EM_RISCV):
        raise BootError(f"{path}: ELF for {elf['e_machine']}, not RISC-V")
    if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
        raise BootError(f"{path}: ELF type {elf['e_type']} is not an executable")
    segments: list[ElfSegment] = []
    try:
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            addr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
            if filesz > memsz:
                raise BootError(
                    f"{path}: segment at {addr:#x} has file size {filesz:#x} > "
                    f"memory size {memsz:#x}"
                )
            if not memory.contains(addr, memsz):
                raise BootError(f"{path}: segment at {addr:#x}+{memsz:#x} is outside RAM")
            data = seg.data()
            if len(data) != filesz:
                raise BootError(f"{path}: segment at {addr:#x} is truncated in the file")
            memory.write(addr, data)
            if memsz > filesz:
                memory.write(addr + filesz, bytes(memsz - filesz))
            segments.append(ElfSegment(addr, filesz, memsz, bool(seg["p_flags"] & P_FLAGS.PF_X)))
        symbols = _symbols(elf)
    except ELFError as err:
        raise BootError(f"{path}: malformed ELF: {err}") from None
    if not segments:
        raise BootError(f"{path}: no loadable segments")
    return ElfImage(path=path, entry=elf["e_entry"], segments=tuple(segments), symbols=symbols)


def _symbols(elf: ELFFile) -> dict[str, ElfSymbol]:
    """Every named, defined symbol (the first of a name wins)."""
    found: dict[str, ElfSymbol] = {}
    symtab = elf.get_section_by_name(".symtab")
    if isinstance(symtab, SymbolTableSection):
        for sym in symtab.iter_symbols():
            if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                found.setdefault(sym.name, ElfSymbol(int(sym["st_value"]), int(sym["st_size"])))
    return found


def patch_symbols(memory: GuestMemory, image: ElfImage, values: Mapping[str, int]) -> None:
    """Write 64-bit ``values`` at the program's symbols of those names (an iteration
    count, a hart count) before it runs; each must be an 8-byte variable."""
    for name, value in values.items():
        sym = image.symbols.get(name)
        if sym is None:
            raise BootError(f"{image.path}: cannot patch {name!r}: no such symbol")
        if sym.size != 8:
            raise BootError(f"{image.path}: cannot patch {name!r}: it has {sym.size} bytes, not 8")
        memory.write_u64(sym.addr, value)


# ---------------------------------------------------------------------- raw


def load_raw(memory: GuestMemory, path: PathLike, addr: int) -> int:
    """Copy a file into RAM at ``addr``; return its size."""
    path = Path(path)
    data = _read_file(path)
    _put(memory, path, addr, data, "image")
    return len(data)


# ---------------------------------------------------------------------- Linux Image

_IMAGE_HEADER = struct.Struct("<IIQQQIIQQII")
IMAGE_MAGIC = b"RISCV\0\0\0"  # at 0x30 (deprecated but still written)
IMAGE_MAGIC2 = b"RSC\x05"  # at 0x38


@attrs.frozen
class LinuxImage:
    """A RISC-V Linux ``Image`` (Documentation/riscv/boot-image-header.rst)."""

    path: Path
    data: bytes = attrs.field(repr=False)
    text_offset: int
    image_size: int  # bytes the kernel occupies once running, bss included
    flags: int
    version: int

    @classmethod
    def parse(cls, path: PathLike) -> LinuxImage:
        path = Path(path)
        data = _read_file(path)
        if len(data) < _IMAGE_HEADER.size:
            raise BootError(
                f"{path}: truncated Image ({len(data)} bytes, the header alone is "
                f"{_IMAGE_HEADER.size})"
            )
        (_, _, text_offset, image_size, flags, version, _, _, magic, magic2, _) = (
            _IMAGE_HEADER.unpack_from(data)
        )
        if (
            magic2.to_bytes(4, "little") != IMAGE_MAGIC2
            and magic.to_bytes(8, "little") != IMAGE_MAGIC
        ):
            raise BootError(f"{path}: not a RISC-V Linux Image (no RSC\\x05 / RISCV magic)")
        if image_size == 0:
            # Kernels before 4.x headers: the file is all there is.
            image_size = len(data)
        if image_size < len(data):
            raise BootError(
                f"{path}: header says the image is {image_size:#x} bytes but the file has "
                f"{len(data):#x}"
            )
        return cls(path, data, text_offset, image_size, flags, version)

    def load_address(self, ram_base: int) -> int:
        return ram_base + self.text_offset

    def load(self, memory: GuestMemory, ram_base: int) -> int:
        """Copy the kernel to ``ram_base + text_offset``, zero its bss; return the address."""
        addr = self.load_address(ram_base)
        if addr % LINUX_ALIGN:
            raise BootError(f"{self.path}: load address {addr:#x} is not 2 MiB aligned")
        if not memory.contains(addr, self.image_size):
            raise BootError(
                f"{self.path}: image of {self.image_size:#x} bytes at {addr:#x} does not fit in RAM"
            )
        memory.write(addr, self.data)
        memory.write(addr + len(self.data), bytes(self.image_size - len(self.data)))
        return addr

    @property
    def end_offset(self) -> int:
        """Offset from the RAM base of the first byte past the kernel."""
        return self.text_offset + self.image_size


# ---------------------------------------------------------------------- initrd and DTB


def place_initrd(
    memory: GuestMemory, path: PathLike, *, below: int, above: int = 0
) -> tuple[int, int]:
    """Load an initrd page-aligned as high as possible under ``below``.

    ``above`` is the lowest address it may start at (the end of the kernel).
    Returns (start, end) for ``linux,initrd-start``/``-end``.
    """
    path = Path(path)
    data = _read_file(path)
    start = (below - len(data)) & ~(PAGE_SIZE - 1)
    if start < above or start < 0:
        raise BootError(
            f"{path}: initrd of {len(data):#x} bytes does not fit between {above:#x} and {below:#x}"
        )
    _put(memory, path, start, data, "initrd")
    return start, start + len(data)


def place_dtb(memory: GuestMemory, dtb: bytes, *, ram_base: int, ram_size: int) -> int:
    """Write a DTB at the top of RAM (2 MiB aligned, as QEMU does); return its address.

    Linux maps the FDT through a 2 MiB window, so the blob gets a 2 MiB block
    of its own at the end of RAM (or the highest 8-byte-aligned spot that
    fits when RAM is tiny).
    """
    end = ram_base + ram_size
    addr = (end - len(dtb)) & ~(LINUX_ALIGN - 1)
    if addr < ram_base:
        addr = (end - len(dtb)) & ~(DTB_ALIGN - 1)
    if addr < ram_base or not memory.contains(addr, len(dtb)):
        raise BootError(f"device tree of {len(dtb):#x} bytes does not fit in RAM")
    memory.write(addr, dtb)
    return addr


# ---------------------------------------------------------------------- OpenSBI


def fw_dynamic_info(next_addr: int, next_mode: int, boot_hart: int, options: int = 0) -> bytes:
    """OpenSBI's ``struct fw_dynamic_info`` (version 2) for RV64, passed in a2.

    Six little-endian unsigned longs: magic, version, next_addr, next_mode,
    options, boot_hart. The structure must be 8-byte aligned in RAM.
    """
    if next_mode not in (NEXT_MODE_U, NEXT_MODE_S, NEXT_MODE_M):
        raise ValueError(f"next_mode {next_mode} is not U (0), S (1) or M (3)")
    return struct.pack(
        "<6Q",
        FW_DYNAMIC_INFO_MAGIC,
        FW_DYNAMIC_INFO_VERSION,
        next_addr,
        next_mode,
        options,
        boot_hart,
    )
