"""The bare-metal runtime (guests/lib) does what its README promises, on QEMU and avmm."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from avmm import _core
from avmm.board.elfrun import run_elf
from guests.lib.qemu import run_qemu

pytestmark = pytest.mark.slow

HELLO = b"hello from hart 0: printf -12 beef heap\n"


def _symbol(elf: Path, name: str) -> int:
    with elf.open("rb") as fd:
        symtab = ELFFile(fd).get_section_by_name(".symtab")
        return int(symtab.get_symbol_by_name(name)[0]["st_value"])  # type: ignore[union-attr]


def test_printf_bss_tls_and_heap_work_on_both(selftest_dir: Path) -> None:
    qemu = run_qemu(selftest_dir / "hello.elf")
    avmm = run_elf(selftest_dir / "hello.elf")
    assert (qemu.exit_code, qemu.console) == (0, HELLO)
    assert (avmm.exit_code, avmm.console) == (0, HELLO)


def test_exit_code_of_main_reaches_the_host(selftest_dir: Path) -> None:
    assert run_qemu(selftest_dir / "exit7.elf").exit_code == 7
    avmm = run_elf(selftest_dir / "exit7.elf")
    assert (avmm.exit_code, avmm.console) == (7, b"exiting with 7\n")


def test_uart_console_and_sifive_exit_on_the_virt_board(selftest_dir: Path) -> None:
    hello = run_qemu(selftest_dir / "hello-virt.elf", machine="virt")
    assert (hello.exit_code, hello.console) == (0, HELLO)
    assert run_qemu(selftest_dir / "exit7-virt.elf", machine="virt").exit_code == 7


def test_unexpected_trap_is_reported_with_cause_and_epc(selftest_dir: Path) -> None:
    elf = selftest_dir / "trap.elf"
    epc = _symbol(elf, "unexpected_insn")
    report = "*** unexpected trap on hart 0: mcause=0x0000000000000002 (illegal instruction)"
    for run in (run_qemu(elf), run_elf(elf)):
        text = run.console.decode()
        assert run.exit_code == 255
        assert text.startswith("hook handled ebreak\n")
        assert report in text
        assert f"mepc={epc:#018x}" in text


def test_secondary_harts_run_secondary_main(selftest_dir: Path) -> None:
    for console in (
        run_qemu(selftest_dir / "smp.elf", harts=2).console,
        run_elf(selftest_dir / "smp.elf", harts=2).console,
    ):
        lines = console.decode().splitlines()
        assert lines[-1] == "hart 0 saw 1 secondaries"
        assert lines[0].startswith("hart 1 up, sp=0x")


def test_qemu_models_the_same_extensions_as_avmm(selftest_dir: Path) -> None:
    qemu = run_qemu(selftest_dir / "misa.elf").console
    avmm = run_elf(selftest_dir / "misa.elf").console
    assert qemu == avmm
    misa = int(avmm.split()[1], 16)
    assert misa >> 62 == 2  # MXL = 64 bits
    letters = {chr(ord("a") + i) for i in range(26) if misa >> i & 1}
    # misa shows the single-letter extensions of the core's ISA string, plus S and U
    base = _core.ISA.split("_")[0].removeprefix("rv64")
    assert letters == set(base) | {"s", "u"}
