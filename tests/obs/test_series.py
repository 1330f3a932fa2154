"""``[series]``: chosen metrics sampled during a run into a JSON-lines file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def avmm_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_a_run_records_the_chosen_metrics_until_its_last_values(demo: Path, tmp_path: Path) -> None:
    series, report = tmp_path / "s.jsonl", tmp_path / "r.json"
    proc = avmm_run(
        REPO / "configs/demo.toml",
        "--set",
        'series.metrics=["avmm_vcpu_instructions_total", "avmm_vcpu_halted"]',
        "--set",
        "series.interval=0.01",
        "--set",
        f"series.file={json.dumps(str(series))}",
        "--report",
        report,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"metric series every 0.01 s to {series}" in proc.stderr
    lines = [json.loads(line) for line in series.read_text().splitlines()]
    assert lines[-1]["event"] == "end"
    samples = lines[:-1]
    assert lines[-1]["samples"] == len(samples)
    assert {s["metric"] for s in samples} == {
        "avmm_vcpu_instructions_total",
        "avmm_vcpu_halted",
        "avmm_vm_guest_time_seconds",  # always sampled, to read a series against guest time
    }
    by_t: dict[float, int] = defaultdict(int)
    for s in samples:
        if s["metric"] == "avmm_vcpu_instructions_total":
            assert set(s["labels"]) == {"vm", "vcpu"}
            by_t[s["t"]] += s["value"]
    times = sorted(by_t)
    assert len(times) >= 2 and times[0] < times[-1]
    totals = [by_t[t] for t in times]
    assert totals == sorted(totals)  # a counter never goes back
    vcpus = json.loads(report.read_text())["vms"]["demo"]["vcpus"]
    assert totals[-1] == sum(v["instructions"] for v in vcpus)  # the last sample is the end


def test_a_metric_avmm_does_not_export_is_a_one_line_error(demo: Path, tmp_path: Path) -> None:
    proc = avmm_run(
        REPO / "configs/demo.toml",
        "--set",
        'series.metrics=["avmm_vcpu_instructions_total", "node_cpu_seconds_total"]',
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        'avmm: error: series.metrics[1]: "node_cpu_seconds_total" is not a metric avmm '
        'exports (README lists them; e.g. "avmm_vcpu_instructions_total")'
    )
    assert not (tmp_path / "avmm-series.jsonl").exists()


def test_the_sample_limit_truncates_the_file_visibly(demo: Path, tmp_path: Path) -> None:
    series = tmp_path / "s.jsonl"
    proc = avmm_run(
        REPO / "configs/demo.toml",
        "--set",
        'series.metrics=["avmm_vcpu_instructions_total"]',
        "--set",
        "series.max_samples=6",
        "--set",
        f"series.file={json.dumps(str(series))}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in series.read_text().splitlines()]
    assert [line.get("event") for line in lines[-2:]] == ["truncated", "end"]
    assert sum(1 for line in lines if "metric" in line) == 6
