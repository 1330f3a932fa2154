"""The fuzz run: random instructions and state never crash the core.

tests/core/fuzz_core.c links the core's C sources (no Python) with ASan and
UBSan, feeds random instruction words, register/CSR state and page tables to
several harts for a bounded time, and checks canary memory outside guest RAM.
Random loops run often enough to be translated, so the translator is fuzzed too.

Two runs: the smallest translation cache (frequent full flushes) and the
default one (long-lived translated blocks). ``AVMM_FUZZ_SECONDS`` sets each
run's length (CI: 25 s); the campaign whose figures README gives ran longer
with more seeds (``AVMM_FUZZ_SEEDS``, a comma-separated list).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "avmm" / "core"
HARNESS = Path(__file__).with_name("fuzz_core.c")
SECONDS = float(os.environ.get("AVMM_FUZZ_SECONDS", "25"))
SEEDS = [int(s, 0) for s in os.environ.get("AVMM_FUZZ_SEEDS", "20261121").split(",")]


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required for the fuzz run")
    exe = tmp_path_factory.mktemp("fuzz") / "fuzz_core"
    sources = [str(p) for p in sorted(CORE.glob("*.c")) if p.name != "module.c"]
    cmd = [
        "gcc", "-std=gnu11", "-O1", "-g", "-ffp-contract=off", "-Wall", "-Wextra",
        "-Wno-unused-parameter", "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", f"-I{CORE}",
        str(HARNESS), *sources, "-o", str(exe),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return exe


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cache", ["smallest", "default"])
def test_random_instructions_and_state_never_crash_the_core(
    fuzzer: Path, seed: int, cache: str
) -> None:
    env = {
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
        "UBSAN_OPTIONS": "print_stacktrace=1",
    }
    if cache == "smallest":
        env["AVMM_JIT_CODE_SIZE"] = "1"  # the smallest translation cache: frequent full flushes
    done = subprocess.run(
        [str(fuzzer), str(seed), "100000000", str(SECONDS)],
        capture_output=True,
        text=True,
        timeout=SECONDS * 4 + 60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "runtime error" not in done.stderr
    assert "AddressSanitizer" not in done.stderr
    words = done.stdout.split()
    iterations = int(words[words.index("iterations") + 1])
    instructions = int(words[words.index("instructions") + 1])
    assert iterations > 100
    assert instructions > 100_000
    assert int(words[words.index("translated") + 1]) > 10_000  # translated code ran
    if cache == "smallest":
        assert int(words[words.index("full_flushes") + 1]) > 0  # and its cache filled up
    print(f"seed {seed}, {cache} cache: {done.stdout.strip()}")
