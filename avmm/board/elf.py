"""A reader for the parts of an ELF64 file a boot loader needs: header, segments, symbols.

The loader used to read ELFs with pyelftools, whose import (its DWARF, EH
and construct modules, about 15 ms) was the largest single cost of an
``avmm run`` of a small guest. Loading a program needs far less: the file
header, the program headers and the symbol table, three fixed little-endian
layouts read here with :mod:`struct`. Every offset and count comes from the
file, so each is checked against the file's size before it is used; a bad
file raises :class:`ElfFormatError` with one line saying what is wrong.
"""

from __future__ import annotations

import struct

import attrs

ELF_MAGIC = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
PT_LOAD = 1
PF_X = 1
SHT_SYMTAB = 2
SHN_UNDEF = 0

# Names for the e_machine and e_type values an error message may need.
MACHINES = {
    3: "EM_386",
    8: "EM_MIPS",
    20: "EM_PPC",
    21: "EM_PPC64",
    40: "EM_ARM",
    62: "EM_X86_64",
    183: "EM_AARCH64",
    243: "EM_RISCV",
    258: "EM_LOONGARCH",
}
TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}

_IDENT = 16
_HEADER = struct.Struct("<HHIQQQIHHHHHH")  # after e_ident
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")


class ElfFormatError(ValueError):
    """The file is not an ELF, or one of its tables points outside it."""


@attrs.frozen
class ProgramHeader:
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    file_size: int
    mem_size: int


@attrs.frozen
class Symbol:
    name: str
    value: int
    size: int
    section: int  # st_shndx; SHN_UNDEF (0) for an undefined symbol


@attrs.frozen
class ElfHeader:
    elf_class: int  # 1 (ELF32) or 2 (ELF64)
    little_endian: bool
    type: int
    machine: int
    entry: int
    phoff: int
    shoff: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int

    @property
    def type_name(self) -> str:
        return TYPES.get(self.type, f"{self.type:#x}")

    @property
    def machine_name(self) -> str:
        return MACHINES.get(self.machine, f"machine {self.machine}")


def _table(
    data: bytes, offset: int, count: int, entsize: int, layout: struct.Struct, what: str
) -> None:
    if count and entsize != layout.size:
        raise ElfFormatError(f"{what} entries of {entsize} bytes, not {layout.size}")
    if offset + count * entsize > len(data):
        raise ElfFormatError(
            f"{what} at {offset:#x} ({count} entries) runs past the end of the file"
        )


def read_header(data: bytes) -> ElfHeader:
    """The file header; an ELF32 or big-endian header is returned for the caller to refuse."""
    if len(data) < _IDENT or data[:4] != ELF_MAGIC:
        raise ElfFormatError("not an ELF file")
    elf_class, encoding = data[4], data[5]
    if elf_class not in (ELFCLASS32, ELFCLASS64) or encoding not in (1, 2):
        raise ElfFormatError("not an ELF file")
    if elf_class != ELFCLASS64 or encoding != ELFDATA2LSB:
        # Only the class and byte order matter to a caller that refuses the file.
        return ElfHeader(elf_class, encoding == ELFDATA2LSB, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    if len(data) < _IDENT + _HEADER.size:
        raise ElfFormatError("not an ELF file")
    (
        e_type,
        e_machine,
        _version,
        e_entry,
        e_phoff,
        e_shoff,
        _flags,
        _ehsize,
        e_phentsize,
        e_phnum,
        e_shentsize,
        e_shnum,
        _shstrndx,
    ) = _HEADER.unpack_from(data, _IDENT)
    return ElfHeader(
        elf_class,
        True,
        e_type,
        e_machine,
        e_entry,
        e_phoff,
        e_shoff,
        e_phentsize,
        e_phnum,
        e_shentsize,
        e_shnum,
    )


def program_headers(data: bytes, header: ElfHeader) -> list[ProgramHeader]:
    _table(data, header.phoff, header.phnum, header.phentsize, _PHDR, "program header table")
    out = []
    for i in range(header.phnum):
        p_type, p_flags, offset, vaddr, paddr, filesz, memsz, _align = _PHDR.unpack_from(
            data, header.phoff + i * _PHDR.size
        )
        out.append(ProgramHeader(p_type, p_flags, offset, vaddr, paddr, filesz, memsz))
    return out


def segment_data(data: bytes, seg: ProgramHeader) -> bytes:
    """The segment's bytes in the file (shorter than ``file_size`` if the file is cut)."""
    return data[seg.offset : seg.offset + seg.file_size]


def symbols(data: bytes, header: ElfHeader) -> list[Symbol]:
    """Every symbol of the file's symbol tables (``SHT_SYMTAB``), in file order."""
    if header.shnum == 0:
        return []
    _table(data, header.shoff, header.shnum, header.shentsize, _SHDR, "section header table")
    sections = [_SHDR.unpack_from(data, header.shoff + i * _SHDR.size) for i in range(header.shnum)]
    out = []
    for _name, sh_type, _fl, _addr, offset, size, link, _info, _al, entsize in sections:
        if sh_type != SHT_SYMTAB:
            continue
        if link >= len(sections):
            raise ElfFormatError(f"symbol table names string table {link}, which does not exist")
        str_offset, str_size = sections[link][4], sections[link][5]
        if str_offset + str_size > len(data):
            raise ElfFormatError(f"string table at {str_offset:#x} runs past the end of the file")
        strings = data[str_offset : str_offset + str_size]
        _table(data, offset, size // _SYM.size, entsize or _SYM.size, _SYM, "symbol table")
        for j in range(size // _SYM.size):
            st_name, _info_b, _other, shndx, value, sym_size = _SYM.unpack_from(
                data, offset + j * _SYM.size
            )
            if st_name >= len(strings) and st_name:
                raise ElfFormatError(f"symbol {j} has a name outside its string table")
            end = strings.find(b"\0", st_name)
            name = strings[st_name : end if end >= 0 else len(strings)]
            out.append(Symbol(name.decode("utf-8", "replace"), value, sym_size, shndx))
    return out
