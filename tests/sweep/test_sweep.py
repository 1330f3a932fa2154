"""avmm sweep end to end: a handful of fast bare-metal points (the smp demo under the
deterministic policy), locally and on a real local Ray instance."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avmm.cli import main as avmm

REPO = Path(__file__).resolve().parents[2]
AVMM_RUN = [sys.executable, "-m", "avmm.cli", "run"]
AXES = ["vm.vcpus", "sched.pause_exit"]
DETERMINISTIC = [
    "point",
    "repetition",
    "seed",
    *AXES,
    "status",
    "exit_code",
    "instructions",
    "slices",
    "pause_exits",
    "harts",
    "lock_ms",
]


def experiment(path: Path, firmware: Path | str, **more: str) -> Path:
    """An experiment file: the smp demo, deterministic, on an inline config."""
    text = f"""\
version = 1
name = "smp-test"
description = "The smp demo with and without pause-loop exiting."
timeout = {more.pop("timeout", "120")}

[config.sched]
policy = "deterministic"
clock = "virtual"

[config.vm]
memory = "64MiB"
boot = {{ mode = "firmware", firmware = "{firmware}" }}

[measures]
report = ["instructions", "exits", "slices", "pause_exits"]
[measures.console]
harts = 'smp-demo: PASS (\\d+) harts'
lock_ms = 'spinlock: .*\\((\\d+\\.\\d+) ms\\)'
"""
    for table, body in more.items():
        text += f"\n[{table}]\n{body}\n"
    path.write_text(text)
    return path


def sweep(*args: str | Path) -> int:
    return avmm(["sweep", *map(str, args)])


def read_csv(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def deterministic(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(({k: r[k] for k in DETERMINISTIC} for r in rows), key=lambda r: r["point"])


@pytest.fixture(scope="module")
def smp(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("smp")
    return experiment(
        folder / "smp.toml",
        demo / "smp-demo.elf",
        axes="vm.vcpus = [1, 2]\nsched.pause_exit = [false, true]",
    )


@pytest.fixture(scope="module")
def local(smp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    assert sweep(smp, "--out", out, "--jobs", "2") == 0
    return out


def test_a_local_sweep_gives_a_row_per_run_with_every_axis_and_measure(local: Path) -> None:
    rows = read_csv(local)
    assert len(rows) == 4
    header = list(rows[0])
    assert header[:9] == [
        "point",
        "repetition",
        "seed",
        *AXES,
        "status",
        "exit_code",
        "wall_s",
        "cpu_s",
    ]
    assert {"instructions", "slices", "pause_exits", "harts", "lock_ms", "exits.mmio_write"} <= set(
        header
    )
    assert {r["status"] for r in rows} == {"ok"}
    assert [(r["vm.vcpus"], r["sched.pause_exit"]) for r in rows] == [
        ("1", "false"),
        ("1", "true"),
        ("2", "false"),
        ("2", "true"),
    ]
    assert [r["harts"] for r in rows] == ["1", "1", "2", "2"]
    by = {(r["vm.vcpus"], r["sched.pause_exit"]): r for r in rows}
    assert int(by["2", "false"]["pause_exits"]) == 0
    assert int(by["2", "true"]["pause_exits"]) > 0
    assert all(float(r["wall_s"]) > 0 and float(r["cpu_s"]) > 0 for r in rows)


def test_the_parquet_table_has_the_same_rows_typed(local: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(local / "results.parquet")
    assert table.column_names == list(read_csv(local)[0])
    rows = table.to_pylist()
    assert [r["vm.vcpus"] for r in rows] == [1, 1, 2, 2]
    assert [r["sched.pause_exit"] for r in rows] == [False, True, False, True]
    assert all(isinstance(r["instructions"], int) for r in rows)


def test_each_run_keeps_its_config_console_and_report(local: Path) -> None:
    for row in read_csv(local):
        run = local / "runs" / row["point"]
        assert "smp-demo: PASS" in (run / "console.log").read_text()
        assert json.loads((run / "report.json").read_text())["exit_status"] == 0
        assert f"vcpus = {row['vm.vcpus']}" in (run / "config.toml").read_text()


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_are_non_empty_images(local: Path) -> None:
    from matplotlib import image

    plots = sorted((local / "plots").glob("*.png"))
    names = {p.name for p in plots}
    assert {"instructions-vs-vm.vcpus.png", "pause_exits-vs-vm.vcpus.png"} <= names
    for p in plots:
        assert p.stat().st_size > 0 and is_png(p)
    pixels = image.imread(plots[0])
    assert pixels.std() > 0  # not a blank canvas


def test_the_summary_has_the_means_and_links_every_plot(local: Path) -> None:
    summary = (local / "summary.md").read_text()
    assert summary.startswith("# smp-test\n")
    assert "| vm.vcpus | sched.pause_exit | runs | ok |" in summary
    for p in (local / "plots").glob("*.png"):
        assert f"(plots/{p.name})" in summary


def test_report_regenerates_plots_and_summary_from_the_table(local: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(local, copy, ignore=shutil.ignore_patterns("runs", "plots", "summary.md"))
    assert sweep("--report", copy) == 0
    assert (copy / "summary.md").read_text() == (local / "summary.md").read_text()
    assert sorted(p.name for p in (copy / "plots").glob("*.png")) == sorted(
        p.name for p in (local / "plots").glob("*.png")
    )


def test_resume_skips_the_points_already_done(
    smp: Path, local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    shutil.copytree(local, out)
    first = read_csv(local)[0]["point"]
    (out / "runs" / first / "row.json").unlink()  # that point was in flight when it stopped
    assert sweep(smp, "--out", out) == 2
    assert "add --resume" in capsys.readouterr().err
    assert sweep(smp, "--out", out, "--resume", "--jobs", "2") == 0
    err = capsys.readouterr().err
    assert "4 runs (1 now, 3 from before)" in err
    assert deterministic(read_csv(out)) == deterministic(read_csv(local))


def test_progress_shows_done_running_failed_and_eta(
    smp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    one = experiment(tmp_path / "one.toml", demo / "smp-demo.elf")
    assert sweep(one, "--out", tmp_path / "out", "--jobs", "1") == 0
    lines = capsys.readouterr().err.splitlines()
    assert "avmm sweep: 0/1 done, 1 running, 0 failed, ETA ?" in lines
    assert "avmm sweep: 1/1 done, 0 running, 0 failed, ETA 0s" in lines


def test_a_failing_point_is_a_row_and_the_sweep_completes(demo: Path, tmp_path: Path) -> None:
    # virtio-blk.elf exits with code 2 on a board without a disk
    exp = experiment(
        tmp_path / "fail.toml",
        demo / "smp-demo.elf",
        axes=f'vm.boot.firmware = ["{demo / "smp-demo.elf"}", "{demo / "virtio-blk.elf"}"]',
    )
    assert sweep(exp, "--out", tmp_path / "out") == 0
    rows = read_csv(tmp_path / "out")
    assert [(r["status"], r["exit_code"]) for r in rows] == [("ok", "0"), ("failed", "2")]
    assert rows[1]["harts"] == "" and rows[1]["instructions"] != ""


def test_a_point_past_its_timeout_is_stopped_and_recorded(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.elf"
    bogus.write_bytes(b"not an ELF: the harts spin on unmapped memory forever")
    exp = experiment(tmp_path / "hang.toml", bogus, timeout="1")
    assert sweep(exp, "--out", tmp_path / "out") == 0
    (row,) = read_csv(tmp_path / "out")
    assert row["status"] == "timeout"
    assert (
        "avmm: error: --timeout: stopped after 1 s"
        in (tmp_path / "out" / "runs" / row["point"] / "stderr.log").read_text()
    )


def test_a_stop_pattern_ends_a_run_early(demo: Path, tmp_path: Path) -> None:
    exp = experiment(
        tmp_path / "stop.toml",
        demo / "smp-demo.elf",
        stop="console = ['hart 0: up after']",
    )
    assert sweep(exp, "--out", tmp_path / "out") == 0
    (row,) = read_csv(tmp_path / "out")
    run = tmp_path / "out" / "runs" / row["point"]
    assert row["status"] == "ok"
    assert json.loads((run / "outcome.json").read_text())["stopped_by"] == "hart 0: up after"


def test_series_and_per_vm_columns_give_a_tidy_table_and_plots(demo: Path, tmp_path: Path) -> None:
    """Two VMs per run (different vCPU counts): a column per VM and counter, and the
    instruction counts sampled during each run into series.csv/.parquet."""
    firmware = demo / "smp-demo.elf"
    exp = tmp_path / "two.toml"
    exp.write_text(
        f"""\
version = 1
name = "two-vms"
axes = {{ "sched.slice" = [2000, 20000] }}

[config.sched]
policy = "deterministic"
clock = "virtual"

[[config.vm]]
name = "small"
vcpus = 1
memory = "64MiB"
boot = {{ mode = "firmware", firmware = "{firmware}" }}

[[config.vm]]
name = "big"
vcpus = 3
memory = "64MiB"
console = {{ backend = "null" }}
boot = {{ mode = "firmware", firmware = "{firmware}" }}

[measures]
report = ["instructions", "slices"]
per_vm = true
series = ["avmm_vcpu_instructions_total"]
series_interval = 0.01
"""
    )
    out = tmp_path / "out"
    assert sweep(exp, "--out", out) == 0
    rows = read_csv(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
    for r in rows:
        small, big = int(r["vm.small.instructions"]), int(r["vm.big.instructions"])
        assert small > 0 and big > small  # the 3-vCPU VM's harts all ran the demo
        assert small + big == int(r["instructions"])
        assert int(r["vm.small.slices"]) + int(r["vm.big.slices"]) == int(r["slices"])
    with (out / "series.csv").open() as f:
        samples = list(csv.DictReader(f))
    assert list(samples[0]) == [
        "point",
        "repetition",
        "seed",
        "sched.slice",
        "t",
        "metric",
        "label.vcpu",
        "label.vm",
        "value",
    ]
    for r in rows:
        mine = [s for s in samples if s["point"] == r["point"]]
        assert {s["label.vm"] for s in mine} >= {"small", "big"}
        last_t = max(float(s["t"]) for s in mine)
        last = [
            s
            for s in mine
            if float(s["t"]) == last_t and s["metric"] == "avmm_vcpu_instructions_total"
        ]
        assert len(last) == 4  # every vCPU of both VMs, at the run's end
        assert sum(int(s["value"]) for s in last) == int(r["instructions"])
    import pyarrow.parquet as pq

    assert pq.read_table(out / "series.parquet").num_rows == len(samples)
    plot = out / "plots" / "series-avmm_vcpu_instructions_total.png"
    assert plot.stat().st_size > 0 and is_png(plot)
    assert "(plots/series-avmm_vcpu_instructions_total.png)" in (out / "summary.md").read_text()


def test_every_point_can_start_from_one_snapshot(demo: Path, tmp_path: Path) -> None:
    """Boot once, save, sweep from the warm state: each run restores the snapshot
    (its console starts where the saved run stopped) and finishes the demo."""
    config = tmp_path / "demo.toml"
    config.write_text(
        f"""\
version = 1
sched = {{ policy = "deterministic", clock = "virtual" }}
[vm]
vcpus = 2
memory = "64MiB"
boot = {{ mode = "firmware", firmware = "{demo / "smp-demo.elf"}" }}
"""
    )
    snap = tmp_path / "warm.snap"
    saved = subprocess.run(
        [*AVMM_RUN, str(config), "--snapshot", str(snap), "--snapshot-at", "1500000"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert saved.returncode == 0, saved.stderr
    assert "hart 0: up after" in saved.stdout  # the boot is in the snapshot
    exp = tmp_path / "warm.toml"
    exp.write_text(
        """\
version = 1
base = "demo.toml"
snapshot = "warm.snap"
axes = { "sched.slice" = [2000, 20000] }
[measures]
report = ["instructions"]
[measures.console]
harts = 'smp-demo: PASS (\\d+) harts'
"""
    )
    out = tmp_path / "out"
    assert sweep(exp, "--out", out) == 0
    rows = read_csv(out)
    assert [(r["status"], r["harts"]) for r in rows] == [("ok", "2"), ("ok", "2")]
    for r in rows:
        run = out / "runs" / r["point"]
        assert "hart 0: up after" not in (run / "console.log").read_text()
        assert f"restore = {json.dumps(str(snap.resolve()))}" in (run / "config.toml").read_text()
    missing = tmp_path / "missing.toml"
    missing.write_text(exp.read_text().replace("warm.snap", "cold.snap"))
    assert sweep(missing, "--out", tmp_path / "o2") == 2


# ------------------------------------------------------------------- Ray


@pytest.fixture
def ray_instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    # Ray's workers inherit the environment: they import this checkout's avmm.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_gives_the_same_rows_as_the_local_pool(
    ray_instance: Any, smp: Path, local: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    assert sweep(smp, "--out", out, "--ray", "auto") == 0
    assert deterministic(read_csv(out)) == deterministic(read_csv(local))
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == sorted(
        p.name for p in (local / "plots").glob("*.png")
    )


def test_ray_without_ray_installed_is_a_one_line_error(smp: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from avmm.cli import main\n"
        f"sys.exit(main(['sweep', {str(smp)!r}, '--out', {str(tmp_path / 'o')!r}, "
        "'--ray', 'auto']))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 2
    assert out.stderr == (
        "avmm: error: --ray: needs Ray, which is not installed: pip install 'avmm[cluster]'\n"
    )
    assert not (tmp_path / "o").exists()


def test_avmm_run_imports_nothing_of_the_sweep() -> None:
    code = (
        "import sys, avmm.cli\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'matplotlib', 'ray')"
        " or m.startswith('avmm.sweep')])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout == "[]\n"
