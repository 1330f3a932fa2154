"""Experiment files: what a sweep's points are, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avmm.errors import ConfigError
from avmm.sweep import experiment
from avmm.sweep.experiment import Figure


def exp(demo: Path, **more: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "config": {
            "sched": {"policy": "deterministic", "clock": "virtual"},
            "vm": {"boot": {"mode": "firmware", "firmware": str(demo / "smp-demo.elf")}},
        },
    }
    data.update(more)
    return data


def test_points_are_the_product_of_the_axes_times_the_seeds(demo: Path) -> None:
    e = experiment.from_dict(
        exp(
            demo,
            axes={
                "vm": {"vcpus": [1, 2]},
                "sched.slice": {"start": 1000, "stop": 3000, "step": 1000},
            },
            repetitions={"count": 2, "seed": 7},
        )
    )
    points = list(e.points())
    assert len(points) == 2 * 3 * 2
    assert [a.key for a in e.axes] == ["vm.vcpus", "sched.slice"]
    assert e.axes[1].values == (1000, 2000, 3000)  # the range includes its stop
    assert points[0].values == (("vm.vcpus", 1), ("sched.slice", 1000))
    assert [p.seed for p in points[:2]] == [7, 8]
    cfg = points[-1].config
    assert cfg["vm"][0]["vcpus"] == 2 and cfg["sched"]["slice"] == 3000
    assert cfg["sched"]["seed"] == 8
    assert len({p.id for p in points}) == len(points)


def test_a_point_id_is_the_same_for_the_same_file(demo: Path) -> None:
    data = exp(demo, axes={"vm.vcpus": [1, 2]}, repetitions={"seeds": [3, 5]})
    a = [p.id for p in experiment.from_dict(data).points()]
    b = [p.id for p in experiment.from_dict(data).points()]
    assert a == b


def test_without_repetitions_a_point_keeps_the_configs_seed(demo: Path) -> None:
    data = exp(demo)
    data["config"]["sched"]["seed"] = 42
    (point,) = experiment.from_dict(data).points()
    assert point.seed == 42 and point.repetition == 0


def test_fixed_overrides_apply_to_every_point(demo: Path) -> None:
    e = experiment.from_dict(exp(demo, set={"host": {"pcpus": 2}}, axes={"vm.vcpus": [2, 4]}))
    assert {p.config["host"]["pcpus"] for p in e.points()} == {2}


def test_derived_config_round_trips_through_toml(demo: Path, tmp_path: Path) -> None:
    from avmm import config

    (point,) = experiment.from_dict(exp(demo, set={"vm.memory": "64MiB"})).points()
    path = tmp_path / "derived.toml"
    path.write_text(point.config_toml())
    assert config.to_dict(config.load(path)) == point.config


def test_a_base_config_file_is_relative_to_the_experiment(tmp_path: Path, demo: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "exp").mkdir()
    (tmp_path / "cfg" / "base.toml").write_text(
        f'version = 1\n[vm]\nname = "b"\nboot = {{mode = "firmware", '
        f'firmware = "{demo / "smp-demo.elf"}"}}\n'
    )
    path = tmp_path / "exp" / "e.toml"
    path.write_text('version = 1\nbase = "../cfg/base.toml"\n[axes]\nvm.vcpus = [1, 2]\n')
    e = experiment.load(path)
    assert e.name == "e"
    assert [p.config["vm"][0]["name"] for p in e.points()] == ["b", "b"]


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"bogus": 1}, "bogus: unknown key"),
        ({"version": 2}, "version: 2 is not supported"),
        ({"axes": {"vm": {"vcpus": [1, 100]}}}, "axes.vm.vcpus: 100 is out of range (1..64)"),
        ({"axes": {"vm.vcpuz": [1]}}, "axes.vm.vcpuz: unknown key"),
        ({"axes": {"vm.vcpus": []}}, "axes.vm.vcpus: needs at least one value"),
        ({"axes": {"vm.vcpus": 4}}, "axes.vm.vcpus: 4 is not a list or a range table"),
        (
            {"axes": {"sched.slice": {"start": 10, "stop": 1}}},
            "axes.sched.slice.stop: 1 is less than start (10)",
        ),
        (
            {"axes": {"sched.slice": {"start": 1, "stop": 9, "by": 2}}},
            "axes.sched.slice.by: unknown key (a range has start, stop, step)",
        ),
        ({"set": {"vm": {"memory": "12XB"}}}, 'set.vm.memory: "12XB" is not a size'),
        ({"repetitions": {"count": 0}}, "repetitions.count: 0 is out of range (1..10000)"),
        ({"repetitions": {"cuont": 2}}, "repetitions.cuont: unknown key"),
        (
            {"axes": {"sched.seed": [1, 2]}, "repetitions": {"count": 2}},
            "repetitions: sched.seed is set by the axes or [set]; drop one",
        ),
        ({"measures": {"report": ["instrs"]}}, 'measures.report[0]: "instrs" is not one of'),
        (
            {"measures": {"console": {"ms": "(\\d+"}}},
            "measures.console.ms: is not a regular expression",
        ),
        (
            {"measures": {"console": {"wall_s": "x"}}},
            "measures.console.wall_s: is already a column",
        ),
        (
            {"measures": {"console": {"ms": {"pattern": "x", "pick": "median"}}}},
            'measures.console.ms.pick: "median" is not one of: first, last, count',
        ),
        ({"stop": {"console": ["("]}}, "stop.console[0]: is not a regular expression"),
        ({"timeout": -1}, "timeout: -1 must be a positive number of seconds"),
        ({"timeout": "1m"}, 'timeout: "1m" is not a number'),
        ({"base": "x.toml"}, "base: give either base = PATH or an inline [config] table"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(
    demo: Path, more: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        experiment.from_dict(exp(demo, **more))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_combination_that_is_not_a_valid_config_is_refused(demo: Path) -> None:
    data = exp(
        demo,
        set={"sched.policy": "round-robin"},
        axes={"sched.policy": ["round-robin", "deterministic"], "sched.clock": ["virtual", "host"]},
    )
    with pytest.raises(ConfigError) as info:
        experiment.from_dict(data)
    assert str(info.value) == (
        'axes: the point sched.policy="deterministic", sched.clock="host" is not a valid '
        'config: sched.clock: the deterministic policy needs clock = "virtual"'
    )


def test_a_missing_base_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^base: cannot read config .*nope.toml"):
        experiment.from_dict({"version": 1, "base": "nope.toml"}, base=tmp_path)


def test_figures_take_the_named_group_first_group_or_match(tmp_path: Path) -> None:
    console = "boot 1.5 ms\nboot 2.5 ms\nPASS\n"
    assert Figure("a", r"boot (\d+\.\d+)").find(console) == 1.5
    assert Figure("a", r"boot (?P<value>\d+)\.\d+", "last").find(console) == 2
    assert Figure("a", r"boot", "count").find(console) == 2
    assert Figure("a", r"PASS|FAIL").find(console) == "PASS"
    assert Figure("a", r"nothing").find(console) is None


def test_the_readmes_example_file_is_a_valid_experiment(demo: Path) -> None:
    import re
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    section = (repo / "README.md").read_text().split("## Experiment sweeps", 1)[1]
    example = re.findall(r"```toml\n(.*?)```", section, re.S)[0]
    e = experiment.from_dict(tomllib.loads(example), base=repo / "configs" / "experiments")
    assert [a.key for a in e.axes] == ["vm.vcpus", "sched.slice"]
    assert len(list(e.points())) == 5 * 3 * 3
