"""avmm and QEMU print the same signature for random and directed programs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from difftest_compare import compare

from guests.difftest.gen import (
    CI_LENGTH,
    CI_SEEDS,
    DIRECTED_NAMES,
    directed_programs,
    random_program,
)
from guests.difftest.signature import first_difference, parse

CI_NAMES = [random_program(c, s, 1, m).name for c, s, m in CI_SEEDS]


@pytest.mark.slow
@pytest.mark.parametrize("name", CI_NAMES + list(DIRECTED_NAMES))
def test_avmm_signature_equals_qemu(
    difftest_dir: Path, difftest_manifest: dict[str, dict[str, Any]], name: str
) -> None:
    program = difftest_manifest[name]
    label = name if program["seed"] is None else f"seed {program['seed']} ({name})"
    problem = compare(difftest_dir / f"{name}.elf", label, tuple(program["entries"]))
    assert problem is None, problem


def test_ci_programs_cover_every_category() -> None:
    from guests.difftest.gen import CATEGORIES, MODES

    assert {c for c, _, _ in CI_SEEDS} == set(CATEGORIES)
    assert {m for _, _, m in CI_SEEDS} == set(MODES)
    assert len(CI_SEEDS) >= 40
    assert [p.name for p in directed_programs()] == list(DIRECTED_NAMES)


def test_generator_is_deterministic_per_seed() -> None:
    a = random_program("mixed", 3, CI_LENGTH)
    assert a.asm == random_program("mixed", 3, CI_LENGTH).asm
    assert a.asm != random_program("mixed", 4, CI_LENGTH).asm
    assert a.asm != random_program("fp_d", 3, CI_LENGTH).asm


def test_generated_programs_use_the_instruction_kinds_of_their_category() -> None:
    text = {c: random_program(c, 1, 400).asm for c, _, _ in CI_SEEDS}
    assert "amoadd" in text["amo"] or "amoswap" in text["amo"]
    assert "lr.w" in text["amo"] or "lr.d" in text["amo"]
    assert "fmadd.s" in text["fp_s"] or "fnmadd.s" in text["fp_s"] or "fmsub.s" in text["fp_s"]
    assert ", dyn" in text["fp_d"] and ", rmm" in text["fp_d"]
    assert "fcvt.wu.s" in text["fcvt"] or "fcvt.wu.d" in text["fcvt"]
    assert "c.ldsp" in text["compressed"] or "c.lwsp" in text["compressed"]
    for op in ("div", "mulh"):
        assert op in text["muldiv"]


def test_first_difference_names_the_item_and_both_values() -> None:
    same = b"x01 0000000000000001\nf00 0000000000000002\nend\n"
    assert first_difference(same, same) is None
    other = b"x01 0000000000000001\nf00 00000000000000ff\nend\n"
    diff = first_difference(other, same)
    assert diff is not None
    assert (diff.item, diff.avmm, diff.qemu) == ("f00", "00000000000000ff", "0000000000000002")
    assert "seed 9" in diff.describe("seed 9 (fp_d-9)")
    truncated = first_difference(b"x01 0000000000000001\n", same)
    assert truncated is not None and truncated.item == "f00" and truncated.avmm is None


def test_directed_differences_say_which_operation() -> None:
    diff = first_difference(b"r00001 00 01\n", b"r00001 00 00\n")
    assert diff is not None
    assert "fadd.s 0x1, 0x2 rm=rne" in diff.describe("d", ("x", "fadd.s 0x1, 0x2 rm=rne"))
    assert parse(b"fcsr 1f\n") == [("fcsr", "1f")]
