"""Every file in configs/ does what its comments promise, run as a user runs it.

`test_every_config_file_is_exercised` fails when a config file is added without a
test here. Files named sweep-*.toml are experiment files for `avmm sweep`; their
tests run a few of their points."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from avmm.sweep import experiment
from avmm.sweep.backends import LocalPool
from avmm.sweep.runner import run as run_sweep
from guests.linux import report
from tests.consolesession import GUARD, ConsoleSession

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
AVMM = [sys.executable, "-m", "avmm.cli"]

EXERCISED = {
    "demo.toml",
    "linux-check.toml",
    "linux-opensbi.toml",
    "linux-smp4.toml",
    "multi-vm.toml",
    "experiments/deterministic.toml",
    "experiments/policy-random.toml",
    "experiments/slice-small.toml",
    "experiments/spinlock-pause-off.toml",
    "experiments/spinlock-pause-on.toml",
}
SWEEPS = {
    "experiments/sweep-spinlock.toml",
    "experiments/sweep-linux-boot.toml",
}


def avmm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AVMM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@contextlib.contextmanager
def on_a_terminal(*args: str | Path) -> Iterator[tuple[subprocess.Popen[bytes], ConsoleSession]]:
    """`avmm ARGS` with its stdio console on a pty, as in a terminal."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [*AVMM, *map(str, args)],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        close_fds=True,
    )
    os.close(follower)
    try:
        yield proc, ConsoleSession(leader)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        os.close(leader)


def test_every_config_file_is_exercised() -> None:
    present = {str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.toml")}
    assert present == EXERCISED | SWEEPS


@pytest.mark.parametrize("name", sorted(EXERCISED))
def test_every_config_file_validates(name: str) -> None:
    out = avmm("validate", CONFIGS / name)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["vms"]


def report_of(tmp_path: Path, name: str, *overrides: str) -> tuple[str, dict[str, Any]]:
    path = tmp_path / f"{name.replace('/', '-')}.json"
    sets = [a for o in overrides for a in ("--set", o)]
    out = avmm("run", CONFIGS / name, "--report", path, *sets)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout, json.loads(path.read_text())


# ------------------------------------------------------------ bare metal


def test_demo_runs_the_smp_demo_on_4_vcpus(demo: Path, tmp_path: Path) -> None:
    out, rep = report_of(tmp_path, "demo.toml")
    assert "smp-demo: PASS 4 harts" in out
    assert len(rep["vms"]["demo"]["vcpus"]) == 4


def test_pause_loop_exiting_stops_the_wasted_spinning(demo: Path, tmp_path: Path) -> None:
    out_off, off = report_of(tmp_path, "experiments/spinlock-pause-off.toml")
    out_on, on = report_of(tmp_path, "experiments/spinlock-pause-on.toml")
    for out in (out_off, out_on):
        assert "smp-demo: PASS 8 harts" in out
    pause_exits = [sum(v["pause_exits"] for v in r["vms"]["spin"]["vcpus"]) for r in (off, on)]
    assert pause_exits[0] == 0 and pause_exits[1] > 0
    # Without it, spinners burn whole slices while the lock holder waits for a pCPU.
    assert on["vms"]["spin"]["instructions"] < off["vms"]["spin"]["instructions"]


def test_small_slices_interleave_more_often(demo: Path, tmp_path: Path) -> None:
    out, small = report_of(tmp_path, "experiments/slice-small.toml")
    _, large = report_of(tmp_path, "experiments/slice-small.toml", "sched.slice=100000")
    assert "smp-demo: PASS 4 harts" in out
    assert small["slice"] == 1000
    slices = [sum(v["slices"] for v in r["vms"]["slices"]["vcpus"]) for r in (small, large)]
    assert slices[0] > slices[1]


def test_random_policy_runs_the_demo(demo: Path, tmp_path: Path) -> None:
    out, rep = report_of(tmp_path, "experiments/policy-random.toml")
    assert "smp-demo: PASS 4 harts" in out
    assert rep["policy"] == "random"


def test_deterministic_runs_repeat_exactly_and_seeds_differ(demo: Path, tmp_path: Path) -> None:
    name = "experiments/deterministic.toml"

    def counts(rep: dict[str, Any]) -> list[tuple[int, dict[str, int]]]:
        return [(v["instructions"], v["exits"]) for v in rep["vms"]["det"]["vcpus"]]

    out_a, a = report_of(tmp_path, name)
    out_b, b = report_of(tmp_path, name)
    _, c = report_of(tmp_path, name, "sched.seed=2")
    assert "smp-demo: PASS 4 harts" in out_a
    assert out_a == out_b
    assert counts(a) == counts(b)
    assert counts(a) != counts(c)


# ----------------------------------------------------------------- Linux


@pytest.mark.slow
def test_linux_check_passes_and_its_disk_counts_boots(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    disk = tmp_path / "check.img"
    boots = []
    for mode in ("direct", "firmware"):
        out = avmm(
            "run",
            CONFIGS / "linux-check.toml",
            "--set",
            f"vm.boot.mode={mode}",
            "--set",
            f'vm.disks[0].path="{disk}"',
        )
        check = report.parse(out.stdout)
        assert out.returncode == 0, out.stdout[-3000:]
        assert check.passed and check.cpus_online == 4, out.stdout[-3000:]
        boots.append(check.disk_boots)
    assert boots == [0, 1]  # the blank disk was created once, then kept


@pytest.mark.slow
def test_linux_check_failure_is_the_exit_status(linux: tuple[Path, Path], tmp_path: Path) -> None:
    out = avmm(
        "run",
        CONFIGS / "linux-check.toml",
        "--set",
        "vm.vcpus=1",
        "--set",
        f'vm.disks[0].path="{tmp_path / "d.img"}"',
        "--set",
        'vm.boot.cmdline="console=ttyS0 avmm.check=maybe"',
    )
    assert "avmm-check: FAIL bad avmm.check=maybe" in out.stdout
    assert out.returncode == 1
    assert "exit code 1" in out.stderr


def _shell(session: ConsoleSession, cpus: str) -> None:
    session.expect("avmm: userspace up")
    session.expect("# ")
    session.type("cat /sys/devices/system/cpu/online; echo $((6 * 7))")
    session.expect(rf"\n{cpus}\n42\n")
    session.expect("# ")


@pytest.mark.slow
def test_linux_smp4_gives_a_shell_with_4_cpus_a_disk_and_rng(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    disk = tmp_path / "scratch.img"
    with on_a_terminal(
        "run", CONFIGS / "linux-smp4.toml", "--set", f'vm.disks[0].path="{disk}"'
    ) as (proc, s):
        _shell(s, "0-3")
        s.type("cat /sys/block/vda/size; head -c 8 /dev/hwrng | wc -c")
        s.expect(r"\n131072\n8\n")  # 64 MiB in sectors; the virtio RNG answers
        s.expect("# ")
        s.type("poweroff -f")
        assert proc.wait(timeout=GUARD) == 0
    assert disk.stat().st_size == 64 << 20


@pytest.mark.slow
def test_linux_opensbi_boots_through_the_firmware(linux: tuple[Path, Path]) -> None:
    with on_a_terminal("run", CONFIGS / "linux-opensbi.toml") as (proc, s):
        s.expect("OpenSBI v")
        s.expect(r"Platform HART Count\s*: 4")
        _shell(s, "0-3")
        s.type("poweroff -f")
        assert proc.wait(timeout=GUARD) == 0


@pytest.mark.slow
def test_multi_vm_pings_across_the_switch_and_rolls_vmids_over(
    linux: tuple[Path, Path], demo: Path, tmp_path: Path
) -> None:
    right, demo = tmp_path / "right.log", tmp_path / "demo.log"
    out, rep = report_of(
        tmp_path,
        "multi-vm.toml",
        f'vm[1].console.path="{right}"',
        f'vm[2].console.path="{demo}"',
    )
    assert "avmm-net: ping 192.0.2.2 ok" in out
    assert "avmm-net: ping 192.0.2.1 ok" in right.read_text()
    assert "smp-demo: PASS 3 harts" in demo.read_text()
    assert rep["vmids"]["bits"] == 1
    assert rep["vmids"]["rollovers"] > 0
    assert {name: vm["exit"]["code"] for name, vm in rep["vms"].items()} == {
        "left": 0,
        "right": 0,
        "demo": 0,
    }


# ---------------------------------------------------------------- sweeps


def few_points(name: str, **axes: list[Any]) -> experiment.Experiment:
    """The sweep file as shipped, with fewer axis values and one seed."""
    exp = experiment.load(CONFIGS / name)
    narrowed = tuple(attrs.evolve(a, values=tuple(axes.get(a.key, a.values))) for a in exp.axes)
    return attrs.evolve(exp, axes=narrowed, seeds=exp.seeds[:1] if exp.seeds else None)


def test_spinlock_sweep_pause_exiting_saves_spinning(demo: Path, tmp_path: Path) -> None:
    exp = experiment.load(CONFIGS / "experiments/sweep-spinlock.toml")
    assert len(list(exp.points())) == 60
    few = few_points(
        "experiments/sweep-spinlock.toml", **{"vm.vcpus": [4], "sched.directed_yield": [True]}
    )
    rows = run_sweep(few, tmp_path, LocalPool(2)).rows
    assert [r["status"] for r in rows] == ["ok", "ok"]
    off, on = sorted(rows, key=lambda r: r["sched.pause_exit"])
    assert off["pause_exits"] == 0 and on["pause_exits"] > 0
    assert on["instructions"] < off["instructions"]
    assert on["lock_ms"] < off["lock_ms"]  # guest time of the spinlock phase


@pytest.mark.slow
def test_linux_boot_sweep_stops_at_the_verdict(linux: tuple[Path, Path], tmp_path: Path) -> None:
    exp = experiment.load(CONFIGS / "experiments/sweep-linux-boot.toml")
    assert len(list(exp.points())) == 45
    few = few_points(
        "experiments/sweep-linux-boot.toml", **{"sched.slice": [10000], "host.pcpus": [2]}
    )
    (row,) = run_sweep(few, tmp_path, LocalPool(1)).rows
    assert row["status"] == "ok" and row["verdict"] == "PASS"
    assert 0 < row["smp_s"] < row["init_s"]
