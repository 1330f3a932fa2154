"""load_elf / load_raw with real ELFs from the cross compiler and the real OpenSBI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from avmm.board.loader import ElfImage, load_elf, load_raw, patch_symbols
from avmm.errors import BootError
from avmm.runtime.guestmem import GuestMemory

RAM_BASE = 0x8000_0000
OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic")

PROGRAM = r"""
volatile unsigned long tohost __attribute__((section(".tohost"), aligned(64)));
volatile unsigned long fromhost __attribute__((section(".tohost")));
unsigned long answer = 0x1122334455667788UL;
unsigned long zeros[512];

void _start(void)
{
    zeros[1] = answer;
    tohost = 1;
    for (;;)
        ;
}
"""


LINKER_SCRIPT = """
ENTRY(_start)
SECTIONS {
  . = BASE;
  .text : { *(.text*) }
  .data : { *(.rodata*) *(.srodata*) *(.data*) *(.sdata*) }
  .tohost : { *(.tohost) }
  .bss : { *(.sbss*) *(.bss*) *(COMMON) }
}
"""


def compile_elf(tmp_path: Path, *flags: str, base: int = RAM_BASE) -> Path:
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    script = tmp_path / "prog.ld"
    script.write_text(LINKER_SCRIPT.replace("BASE", hex(base)))
    out = tmp_path / "prog.elf"
    subprocess.run(
        [
            "riscv64-unknown-elf-gcc", "-O1", "-nostdlib", "-nostartfiles", "-static",
            "-mcmodel=medany", "-Wl,--no-relax", "-T", str(script), *flags, str(src),
            "-o", str(out),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out


def symbol(path: Path, name: str) -> int:
    out = subprocess.run(
        ["riscv64-unknown-elf-nm", str(path)], check=True, capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        value, _, sym = line.split()
        if sym == name:
            return int(value, 16)
    raise KeyError(name)


def ram(size: int = 1 << 20, fill: int = 0xFF) -> tuple[bytearray, GuestMemory]:
    buf = bytearray([fill]) * size
    return buf, GuestMemory.from_bytes(RAM_BASE, buf)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_elf(tmp_path_factory.mktemp("elf"))


def test_segments_are_loaded_and_bss_is_zeroed(program: Path) -> None:
    buf, memory = ram()
    image = load_elf(memory, program)
    assert isinstance(image, ElfImage)
    assert image.entry == symbol(program, "_start") == RAM_BASE
    answer = symbol(program, "answer")
    assert memory.read_u64(answer) == 0x1122334455667788
    zeros = symbol(program, "zeros")
    assert memory.read(zeros, 512 * 8) == bytes(512 * 8)  # RAM was 0xff before
    assert image.low == RAM_BASE and image.high >= zeros + 512 * 8
    text = program.read_bytes()
    first = image.segments[0]
    assert first.executable
    assert bytes(buf[:16]) in text


def test_tohost_and_fromhost_symbols_are_reported(program: Path) -> None:
    _, memory = ram()
    image = load_elf(memory, program)
    assert image.tohost == symbol(program, "tohost")
    assert image.fromhost == symbol(program, "fromhost")


def test_patching_writes_64_bit_values_at_symbols(program: Path) -> None:
    _, memory = ram()
    image = load_elf(memory, program)
    patch_symbols(memory, image, {"answer": 42})
    assert memory.read_u64(symbol(program, "answer")) == 42
    assert image.symbols["zeros"].size == 512 * 8


def test_patching_refuses_unknown_and_wrongly_sized_symbols(program: Path) -> None:
    _, memory = ram()
    image = load_elf(memory, program)
    with pytest.raises(BootError, match=r"cannot patch 'nope': no such symbol"):
        patch_symbols(memory, image, {"nope": 1})
    with pytest.raises(BootError, match=r"cannot patch 'zeros': it has 4096 bytes, not 8"):
        patch_symbols(memory, image, {"zeros": 1})


def test_elf_without_htif_symbols_reports_none(tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.elf"
    src = compile_elf(tmp_path)
    subprocess.run(["riscv64-unknown-elf-strip", "-o", str(stripped), str(src)], check=True)
    image = load_elf(ram()[1], stripped)
    assert image.tohost is None and image.fromhost is None


def test_segment_outside_ram_is_a_boot_error(tmp_path: Path) -> None:
    elf = compile_elf(tmp_path, base=0x9000_0000)
    with pytest.raises(BootError, match=r"prog\.elf: segment at 0x90000000.* outside RAM"):
        load_elf(ram()[1], elf)


def test_rv32_elf_is_refused(tmp_path: Path) -> None:
    elf = compile_elf(tmp_path, "-march=rv32imac", "-mabi=ilp32", base=0x8000_0000)
    with pytest.raises(BootError, match="ELF32"):
        load_elf(ram()[1], elf)


def test_elf_for_another_machine_is_refused() -> None:
    host_binary = shutil.which("true")
    assert host_binary is not None
    with pytest.raises(BootError, match="not RISC-V"):
        load_elf(ram()[1], host_binary)


def test_not_an_elf_and_missing_files_are_boot_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BootError, match=r"notes\.txt: not an ELF file"):
        load_elf(ram()[1], text)
    with pytest.raises(BootError, match=r"absent\.elf: file not found"):
        load_elf(ram()[1], tmp_path / "absent.elf")
    with pytest.raises(BootError, match="file not found"):
        load_raw(ram()[1], tmp_path / "absent.bin", RAM_BASE)


def test_boot_errors_are_one_line(tmp_path: Path) -> None:
    elf = compile_elf(tmp_path, base=0x9000_0000)
    with pytest.raises(BootError) as info:
        load_elf(ram()[1], elf)
    assert "\n" not in str(info.value)


def test_opensbi_elf_loads_at_ram_base() -> None:
    _, memory = ram(2 << 20)
    image = load_elf(memory, OPENSBI / "fw_dynamic.elf")
    assert image.entry == RAM_BASE
    assert image.low == RAM_BASE
    raw = (OPENSBI / "fw_dynamic.bin").read_bytes()
    assert memory.read(RAM_BASE, 4096) == raw[:4096]


def test_raw_firmware_lands_byte_for_byte() -> None:
    _, memory = ram(2 << 20)
    raw = (OPENSBI / "fw_dynamic.bin").read_bytes()
    size = load_raw(memory, OPENSBI / "fw_dynamic.bin", RAM_BASE)
    assert size == len(raw)
    assert memory.read(RAM_BASE, size) == raw


def test_raw_image_past_the_end_of_ram_is_a_boot_error() -> None:
    with pytest.raises(BootError, match=r"fw_dynamic\.bin: image at 0x800ff000.*outside RAM"):
        load_raw(ram()[1], OPENSBI / "fw_dynamic.bin", RAM_BASE + 0xFF000)


@pytest.mark.parametrize("which", ["program", "opensbi"])
def test_symbols_and_segments_match_pyelftools(program: Path, which: str) -> None:
    # avmm reads ELFs itself (no pyelftools import on the run path); the
    # reference reader must see the same loadable segments and symbols.
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    path = program if which == "program" else OPENSBI / "fw_dynamic.elf"
    _, memory = ram(2 << 20)
    image = load_elf(memory, path)
    with path.open("rb") as f:
        ref = ELFFile(f)
        loads = [
            (s["p_paddr"], s["p_filesz"], s["p_memsz"])
            for s in ref.iter_segments()
            if s["p_type"] == "PT_LOAD" and s["p_memsz"]
        ]
        symtab = ref.get_section_by_name(".symtab")
        expected: dict[str, tuple[int, int]] = {}
        if isinstance(symtab, SymbolTableSection):
            for sym in symtab.iter_symbols():
                if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                    expected.setdefault(sym.name, (sym["st_value"], sym["st_size"]))
    assert loads and [(s.addr, s.file_size, s.mem_size) for s in image.segments] == loads
    assert {n: (s.addr, s.size) for n, s in image.symbols.items()} == expected
    if which == "program":  # the OpenSBI build is stripped
        assert {"_start", "tohost", "fromhost", "answer", "zeros"} <= expected.keys()


def test_a_cut_or_corrupted_elf_is_a_one_line_boot_error(program: Path, tmp_path: Path) -> None:
    data = program.read_bytes()
    bad = tmp_path / "bad.elf"
    for length in (3, 16, 40, 63, 64, 100, 200, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:length])
        try:
            load_elf(ram()[1], bad)
        except BootError as err:
            assert str(err).startswith(f"{bad}: ") and "\n" not in str(err)
    # A program header table said to lie past the end of the file.
    corrupt = bytearray(data)
    corrupt[32:40] = (len(data) + 8).to_bytes(8, "little")  # e_phoff
    bad.write_bytes(corrupt)
    with pytest.raises(BootError, match=r"bad\.elf: malformed ELF: program header table"):
        load_elf(ram()[1], bad)
    # A section header table with a wrong entry size.
    corrupt = bytearray(data)
    corrupt[58:60] = (32).to_bytes(2, "little")  # e_shentsize
    bad.write_bytes(corrupt)
    with pytest.raises(BootError, match=r"malformed ELF: section header table entries of 32"):
        load_elf(ram()[1], bad)
