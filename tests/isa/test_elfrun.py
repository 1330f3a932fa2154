"""avmm.board.elfrun.run_elf: loading, patching, harts, clocks and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.board.elfrun import (
    AllHartsWaitingError,
    InstructionLimitError,
    UnexpectedMmioError,
    run_elf,
)
from avmm.errors import AvmmError, BootError

pytestmark = pytest.mark.slow


def test_patch_writes_a_symbol_before_the_harts_start(selftest_dir: Path) -> None:
    assert run_elf(selftest_dir / "patch.elf").console == b"value=5\n"
    run = run_elf(selftest_dir / "patch.elf", patch={"patched_value": 2**64 - 1})
    assert run.console == b"value=18446744073709551615\n"


def test_patch_of_an_unknown_symbol_is_a_boot_error(selftest_dir: Path) -> None:
    with pytest.raises(BootError, match="no_such_symbol"):
        run_elf(selftest_dir / "patch.elf", patch={"no_such_symbol": 1})
    with pytest.raises(BootError, match="not 8"):
        run_elf(selftest_dir / "patch.elf", patch={"main": 1})


def test_result_counts_instructions_per_hart(selftest_dir: Path) -> None:
    one = run_elf(selftest_dir / "hello.elf")
    assert len(one.instret) == 1
    assert one.instructions == one.instret[0] > 1000
    two = run_elf(selftest_dir / "smp.elf", harts=2)
    assert len(two.instret) == 2
    assert min(two.instret) > 0
    assert two.elapsed > 0


def test_instruction_limit_stops_a_guest_that_never_exits(selftest_dir: Path) -> None:
    # smp.elf with one hart waits forever for a secondary.
    with pytest.raises(InstructionLimitError) as err:
        run_elf(selftest_dir / "smp.elf", harts=1, max_instructions=200_000)
    assert err.value.limit == 200_000
    assert isinstance(err.value, AvmmError)


@pytest.mark.parametrize("mode", [0, 1, 2], ids=["none", "expired", "disabled"])
def test_all_harts_waiting_without_a_timer_is_an_error(selftest_dir: Path, mode: int) -> None:
    # 0: nothing armed; 1: a timer that expired, interrupt disabled; 2: a
    # timer that will expire, interrupt disabled (time moves there, then stops)
    for clock in ("virtual", "host"):
        with pytest.raises(AllHartsWaitingError, match="no timer armed"):
            run_elf(selftest_dir / "idle.elf", patch={"idle_mode": mode}, clock=clock)


def test_access_outside_ram_and_clint_is_unexpected_mmio(selftest_dir: Path) -> None:
    # The UART build polls the UART's line status register at 0x10000005.
    with pytest.raises(UnexpectedMmioError) as err:
        run_elf(selftest_dir / "hello-uart.elf")
    assert (err.value.addr, err.value.size, err.value.write) == (0x10000005, 1, False)
    assert err.value.hart == 0


def test_an_elf_for_another_machine_is_a_boot_error() -> None:
    with pytest.raises(BootError, match="ELF for EM_X86_64, not RISC-V"):
        run_elf("/bin/true")


def test_an_elf_without_htif_is_a_boot_error(selftest_dir: Path) -> None:
    with pytest.raises(BootError, match="no tohost symbol"):
        run_elf(selftest_dir / "hello-virt.elf")


def test_segments_must_fit_in_ram(selftest_dir: Path) -> None:
    with pytest.raises(BootError, match="outside RAM"):
        run_elf(selftest_dir / "hello.elf", memory=4096)


def test_timers_wake_sleeping_harts_with_the_host_clock(isa_dir: Path) -> None:
    run = run_elf(isa_dir / "wfi.elf", clock="host")
    assert (run.exit_code, run.console) == (0, b"PASS wfi\n")


@pytest.mark.parametrize("slice_", [1, 7, 97, 100_000])
@pytest.mark.parametrize("name", ["smp_lrsc", "smp_amo", "smp_ipi", "wfi", "irq"])
def test_any_slice_length_gives_the_same_result(isa_dir: Path, name: str, slice_: int) -> None:
    harts = 2 if name.startswith("smp") else 1
    run = run_elf(isa_dir / f"{name}.elf", harts=harts, slice=slice_)
    assert (run.exit_code, run.console) == (0, f"PASS {name}\n".encode())


def test_bad_arguments_are_rejected(selftest_dir: Path) -> None:
    with pytest.raises(ValueError):
        run_elf(selftest_dir / "hello.elf", harts=0)
    with pytest.raises(ValueError):
        run_elf(selftest_dir / "hello.elf", slice=0)
