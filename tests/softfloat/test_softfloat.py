"""avmm/core/softfloat.c, checked bit for bit (results and fflags).

The checks live in sf_check.c, compiled here with gcc and linked with the
library: the host FPU (x86-64 SSE through fenv.h) is the reference for the
four IEEE rounding modes, exact ties found in a wider host format give the
reference for RMM, and hand-computed tables cover what the host has no
equivalent for (RISC-V saturating conversions, NaN rules, min/max).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "avmm" / "core"
SOFTFLOAT = CORE / "softfloat.c"
CHECKER = Path(__file__).resolve().parent / "sf_check.c"

# The host reference: SSE detects tininess after rounding and raises the
# same five flags as RISC-V; the checker is written for it.
REFERENCE_FLAGS = [
    "-std=gnu11",
    "-O2",
    "-frounding-math",
    "-fsignaling-nans",
    "-ffp-contract=off",
]


def _gcc() -> str:
    gcc = shutil.which("gcc")
    assert gcc is not None, "gcc is needed to build the soft-float checker"
    return gcc


@pytest.fixture(scope="module")
def sf_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert platform.machine() in ("x86_64", "AMD64"), (
        "the host-FPU reference assumes x86-64 SSE semantics"
    )
    exe = tmp_path_factory.mktemp("softfloat") / "sf_check"
    sources = [str(CHECKER), str(SOFTFLOAT)]
    subprocess.run(
        [_gcc(), *REFERENCE_FLAGS, "-I", str(CORE), *sources, "-lm", "-o", str(exe)], check=True
    )
    return exe


def _run(exe: Path, group: str, scale: float) -> None:
    proc = subprocess.run(
        [str(exe), group, str(scale)], capture_output=True, text=True, timeout=300
    )
    # Silent on success; every mismatch is one line naming op, inputs, rm,
    # expected and actual bits and flags.
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_add_sub_mul_div_sqrt_binary32_match_host_in_every_ieee_mode(sf_check: Path) -> None:
    _run(sf_check, "arith32", 4)


def test_add_sub_mul_div_sqrt_binary64_match_host_in_every_ieee_mode(sf_check: Path) -> None:
    _run(sf_check, "arith64", 4)


def test_fused_multiply_add_binary32_rounds_once_like_host_fma(sf_check: Path) -> None:
    _run(sf_check, "fma32", 4)


def test_fused_multiply_add_binary64_rounds_once_like_host_fma(sf_check: Path) -> None:
    _run(sf_check, "fma64", 4)


def test_compares_min_max_and_classify_follow_riscv_rules(sf_check: Path) -> None:
    _run(sf_check, "cmp", 3)


def test_conversions_round_saturate_and_sign_extend_like_riscv(sf_check: Path) -> None:
    _run(sf_check, "cvt", 2)


def test_rmm_is_rne_except_exact_ties_which_round_away_from_zero(sf_check: Path) -> None:
    _run(sf_check, "rmm", 4)


def test_hand_computed_cases_from_the_riscv_spec(sf_check: Path) -> None:
    _run(sf_check, "table", 1)


def test_library_uses_no_fpu_registers_and_builds_warning_free(tmp_path: Path) -> None:
    # -mgeneral-regs-only makes any float/SSE use a compile error: proof that
    # results cannot depend on the host FPU or its rounding/flag state.
    strict = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-mgeneral-regs-only"]
    out = tmp_path / "softfloat.o"
    subprocess.run(
        [_gcc(), *strict, "-I", str(CORE), "-c", str(SOFTFLOAT), "-o", str(out)], check=True
    )
    assert "Python.h" not in SOFTFLOAT.read_text()
