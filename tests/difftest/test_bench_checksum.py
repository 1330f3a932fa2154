"""The CPU benchmark guest computes the same checksum on avmm and QEMU (correctness only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core import bench_elf, patched_copy, run_avmm, run_qemu_bench

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("iterations", [1, 37])
def test_bench_checksum_is_the_same_on_avmm_and_qemu(tmp_path: Path, iterations: int) -> None:
    elf = bench_elf()
    avmm = run_avmm(elf, iterations)
    qemu = run_qemu_bench(elf, iterations, tmp_path, avmm.instructions)
    assert avmm.checksum == qemu.checksum
    assert avmm.instructions > 3000 * iterations


def test_iteration_count_changes_the_work_and_the_checksum() -> None:
    elf = bench_elf()
    one, two = run_avmm(elf, 5), run_avmm(elf, 6)
    assert one.checksum != two.checksum
    assert two.instructions > one.instructions


def test_patched_copy_rejects_a_missing_symbol(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no 8-byte symbol"):
        patched_copy(bench_elf(), "no_such_symbol", 1, tmp_path / "x.elf")
