"""bench.core and bench.startup in their quick modes print their tables and
check what they measured (the same checksum everywhere); they assert no
timing, and neither do these tests (a quick run's differences are noise:
any number, or nan, passes)."""

from __future__ import annotations

import re

import pytest

import bench.core
import bench.startup
from bench.core import GUESTS, Run, jit_unavailable, measure_guest

pytestmark = pytest.mark.slow
NUMBER = r"(-?[\d.]+|nan)"


def test_core_quick_prints_every_configuration_and_matching_checksums(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.core.main(["--quick"]) == 0
    out = capsys.readouterr().out
    configs = ["avmm-interp", "QEMU"]
    if jit_unavailable() is None:
        configs.insert(0, "avmm-jit")
        assert out.count("jit/interp speed ratio:") == 2
        assert len(re.findall(r"^JIT, run of [\d,]+: ", out, re.M)) == 2
        counters = r": [\d,]+ blocks, [\d,]+ guest instructions, [\d,]+ code bytes"
        assert re.search(counters, out), out
        assert re.search(r"[\d,]+ ns per translated instruction, [\d.]+% of instructions ran", out)
    for guest in GUESTS:
        assert re.search(rf"^== {guest}: about [\d,]+ instructions an iteration", out, re.M)
        for config in configs:
            row = rf"^{config} +[\d,]+-[\d,]+ +[\d,]+( +{NUMBER}){{5}} +({NUMBER}|-)$"
            assert re.search(row, out, re.M), out
    assert "checksums match (avmm" in out
    assert "checksums match (PASS on all, " in out
    assert re.search(r"^speed ratios", out, re.M)
    for guest in GUESTS:
        assert re.search(rf"^{guest}( +({NUMBER}|-)){{3}}$", out, re.M), out
    assert "ERROR" not in out


def test_core_fails_when_the_peers_checksum_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bench.core.run_qemu_bench

    def wrong(*args: object, **kwargs: object) -> Run:
        run = real(*args, **kwargs)  # type: ignore[arg-type]
        return Run(run.iterations, run.instructions, run.cpu, run.wall, "0" * 16)

    monkeypatch.setattr(bench.core, "run_qemu_bench", wrong)
    jit = jit_unavailable() is None
    result = measure_guest(GUESTS["bench"], (1, 2, 3), 1, jit=jit)
    assert len(result.problems) == (3 if jit else 2)  # every count QEMU ran
    assert "checksums differ at 1 iterations" in result.problems[0]
    assert "QEMU 0000000000000000" in result.problems[0]


def test_startup_quick_prints_both_vmms_the_floor_their_ratios_and_imports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.startup.main(["--quick", "--top", "3"]) == 0
    out = capsys.readouterr().out
    for name in ("avmm", "QEMU", "floor", "avmm/QEMU", "floor/QEMU"):
        assert re.search(rf"^{name}( +({NUMBER}|inf)){{4}}", out, re.M), out
    assert "floor: " in out and "import argparse, asyncio, uvloop" in out
    imports = out.split("the 3 largest cumulative:\n", 1)[1].splitlines()[1:]
    assert len(imports) == 3
    assert all(re.fullmatch(r" *[\d.]+ +[\d.]+  \S+ \(\d+\)", line) for line in imports)


def test_core_without_a_translator_compares_the_interpreter_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench.core, "jit_unavailable", lambda: "not on this host")
    assert bench.core.main(["--quick", "--guest", "mark"]) == 0
    out = capsys.readouterr().out
    assert "no avmm-jit rows: the translator is unavailable (not on this host)" in out
    assert not re.search(r"^avmm-jit ", out, re.M)
    assert re.search(r"^QEMU +20-4 ", out, re.M), out
    assert "checksums match (PASS on all, avmm-interp = QEMU)" in out
    # no translated column; interp/QEMU is a number unless QEMU's quick difference was noise
    assert re.search(r"^mark +- +([\d.]+|-) +-$", out, re.M), out
