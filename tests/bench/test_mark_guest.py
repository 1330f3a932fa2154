"""The CoreMark-class guest (guests/mark) validates itself: PASS with the same
checksum on avmm (translated and interpreted) and QEMU, FAIL with exit code 1
when its expected value is wrong. Correctness only, no timing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avmm.board.elfrun import run_elf
from bench.core import MARK, jit_unavailable, patched_copy
from guests.lib.qemu import run_qemu

pytestmark = pytest.mark.slow

ITERATIONS = 3
CHECKSUM = re.compile(rb"checksum ([0-9a-f]{16}) iterations (\d+)\n")


@pytest.fixture(scope="module")
def mark_elf() -> Path:
    return MARK.path()


def _checksum(console: bytes) -> str:
    m = CHECKSUM.search(console)
    assert m is not None, console
    assert int(m.group(2)) == ITERATIONS
    return m.group(1).decode()


def _on_qemu(elf: Path, tmp_path: Path, patch: dict[str, int]) -> tuple[int, bytes]:
    copy = elf
    for i, (symbol, value) in enumerate(patch.items()):
        copy = patched_copy(copy, symbol, value, tmp_path / f"mark-{i}.elf")
    run = run_qemu(copy, timeout=120)
    return run.exit_code, run.console


def test_passes_with_one_checksum_on_avmm_jit_and_interpreter_and_qemu(
    mark_elf: Path, tmp_path: Path
) -> None:
    patch = {MARK.symbol: ITERATIONS}
    jit, interp = (run_elf(mark_elf, patch=patch, jit=on) for on in (True, False))
    code, console = _on_qemu(mark_elf, tmp_path, patch)
    for run in (jit, interp):
        assert run.exit_code == 0, run.console
        assert run.console.endswith(b"\nPASS\n"), run.console
    assert code == 0, console
    assert console.endswith(b"\nPASS\n"), console
    assert _checksum(jit.console) == _checksum(interp.console) == _checksum(console)
    assert jit.instructions == interp.instructions > 200_000 * ITERATIONS
    # run_elf's jit argument reaches the machine: translated vs interpreted.
    assert not interp.jit
    assert interp.hart_stats[0]["jit_insns"] == 0
    if jit_unavailable() is None:
        assert jit.jit
        jit_insns = jit.hart_stats[0]["jit_insns"]
        assert isinstance(jit_insns, int) and jit_insns > jit.instructions // 2


def test_a_wrong_expected_value_fails_the_run(mark_elf: Path, tmp_path: Path) -> None:
    patch = {MARK.symbol: ITERATIONS, "mark_expected": 0x12345678}
    for jit in (True, False):
        run = run_elf(mark_elf, patch=patch, jit=jit)
        assert run.exit_code == 1, run.console
        assert b"FAIL: 3 of 3 iterations gave a wrong result" in run.console
        assert b"PASS" not in run.console
    code, console = _on_qemu(mark_elf, tmp_path, patch)
    assert code == 1, console
    assert b"FAIL: 3 of 3" in console


def test_another_seed_gives_other_data(mark_elf: Path) -> None:
    """The seed feeds the data: the default seed's expected value does not fit another."""
    run = run_elf(mark_elf, patch={MARK.symbol: 1, "mark_seed": 0x1234}, jit=False)
    assert run.exit_code == 1
    assert b"FAIL: 1 of 1" in run.console


def test_zero_iterations_is_a_failure(mark_elf: Path) -> None:
    run = run_elf(mark_elf, patch={MARK.symbol: 0}, jit=False)
    assert run.exit_code == 1
    assert b"no iteration ran" in run.console
