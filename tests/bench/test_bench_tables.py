"""The other benchmarks, each run as a user runs it (``python -m bench.NAME``) with
small parameters: it exits 0 and prints its table with a figure in every cell.
No timing is asserted (a short run's figures are noise); what is checked is
that each benchmark still runs end to end and says what it measured."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
NUM = r"[-+]?[\d.]+"


def bench(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_exits_prints_a_cost_per_exit_kind() -> None:
    out = bench("exits", "--count", "2000", "--repeat", "1")
    assert out.startswith("avmm exit costs: 2000 operations per run, best of 1")
    for op in (
        "RAM load (baseline)",
        "MMIO load -> Python device",
        "MMIO store -> Python device",
        "in-core CLINT mtime load",
        "SBI call (served in place)",
    ):
        assert re.search(rf"^{re.escape(op)} +{NUM} +{NUM} +\d+$", out, re.M), out
    assert re.search(rf"^MMIO load, bare hart.run loop +{NUM} +{NUM} +-$", out, re.M), out


def test_scale_prints_a_row_per_vcpu_count_and_the_slice_overhead() -> None:
    out = bench("scale", "--instructions", "2e6", "--max-vcpus", "2", "--pcpus", "1")
    for vcpus in (1, 2):
        assert re.search(rf"^ +{vcpus} +\d+ +\d+ +{NUM} +{NUM} +{NUM}$", out, re.M), out
    assert re.search(
        r"^  overhead: [\d.]+ us per slice \([\d.]+% of a slice's core time\)$", out, re.M
    )


def test_metrics_prints_the_exporters_overhead() -> None:
    out = bench("metrics", "--iterations", "3000", "--repeat", "1", "--scrape-interval", "0.1")
    for mode in ("off", "on"):
        assert re.search(rf"^{mode} +{NUM} +{NUM} +{NUM} +{NUM}$", out, re.M), out
    # signed: "+0.95%" when the exporter costs, "-0.10%" within the noise
    assert re.search(r"^exporter overhead, fastest runs: [+-][\d.]+% CPU time", out, re.M), out


def test_idle_prints_avmm_and_qemu_for_an_idle_guest() -> None:
    out = bench("idle", "--seconds", "0.3", "--skip-linux")
    assert re.search(rf"^uart-idle, 3 harts +{NUM} +{NUM} +({NUM}|-)$", out, re.M), out


def test_sweep_prints_runs_per_minute_for_each_engine() -> None:
    out = bench("sweep", "--points", "2", "--jobs", "1")
    assert re.search(r"^2 points, the smp demo on 2 vCPUs; bare `avmm run`: [\d.]+ s$", out, re.M)
    for mode in (r"one at a time \(--jobs 1\)", r"process pool \(--jobs 1\)", r"Ray, local"):
        assert re.search(rf"^{mode}.* +{NUM} +{NUM} +{NUM}$", out, re.M), out
    assert "overhead per point, --jobs 1 vs bare avmm run" in out


def test_boot_boots_linux_on_avmm_and_qemu_to_the_self_check() -> None:
    out = bench("boot", "--smp", "1", "--mode", "direct")
    assert re.search(rf"^ +1 +qemu +{NUM} +{NUM} +{NUM} +{NUM} +PASS", out, re.M), out
    row = rf"^ +1 +avmm-direct +{NUM} +{NUM} +{NUM} +{NUM} +PASS +\| +{NUM} +{NUM} +{NUM} +{NUM}$"
    assert re.search(row, out, re.M), out
