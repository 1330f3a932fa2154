"""Every ISA test program passes on QEMU (keeps the suite honest) and on avmm's core."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.board.elfrun import run_elf
from guests.isa.recipe import TESTS, IsaTest
from guests.lib.qemu import run_qemu

pytestmark = pytest.mark.slow


def _passed(test: IsaTest, exit_code: int, console: bytes) -> bool:
    # QEMU's exit status is the code modulo 256, so the PASS line decides too.
    return exit_code == 0 and console.decode(errors="replace") == f"PASS {test.name}\n"


@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.name)
def test_isa_program_passes_on_qemu(isa_dir: Path, test: IsaTest) -> None:
    run = run_qemu(
        isa_dir / test.qemu_elf,
        machine=test.qemu_machine,
        harts=test.harts,
        icount=test.qemu_icount,
        timeout=60,
    )
    assert _passed(test, run.exit_code, run.console), (
        f"exit {run.exit_code}: {run.console.decode(errors='replace')}"
    )


@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.name)
def test_isa_program_passes_on_avmm(isa_dir: Path, test: IsaTest) -> None:
    run = run_elf(isa_dir / test.elf, harts=test.harts, max_instructions=50_000_000)
    assert _passed(test, run.exit_code, run.console), (
        f"exit {run.exit_code}: {run.console.decode(errors='replace')}"
    )
    assert len(run.instret) == test.harts
    assert all(n > 0 for n in run.instret)


def test_every_test_source_is_built(isa_dir: Path) -> None:
    sources = {p.name for p in (Path(__file__).parents[2] / "guests/isa/tests").iterdir()}
    used = {s for t in TESTS for s in t.sources}
    helpers = {"ops.h", "fp.h"}
    assert sources - helpers == used
    for test in TESTS:
        assert (isa_dir / test.elf).is_file()
        assert (isa_dir / test.qemu_elf).is_file()
