"""Experiment files: TOML ``version = 1`` describing a sweep, parsed into frozen attrs.

An experiment names a base config (a file, or an inline ``[config]`` table),
fixed overrides (``[set]``), axes to sweep (``[axes]``: any config key, dotted as
for ``--set``, with a list or a ``{start, stop, step}`` range), repetitions with
seeds, what to measure, when to stop a run early and how long one may take.
Every point's derived config is validated before anything runs, and every
mistake is one line naming the key (``axes.vm.vcpus: 100 is out of range (1..64)``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs

from avmm import config as avmm_config
from avmm.config import model as config_model
from avmm.config import parse as config_parse
from avmm.errors import ConfigError
from avmm.sweep import tomlout

#: Counters a run's JSON report gives, summed over its VMs and vCPUs.
#: ``exits`` becomes one column per exit reason (``exits.ecall``, ...).
COUNTERS = (
    "instructions",
    "exits",
    "slices",
    "pause_exits",
    "directed_yields",
    "remote_tlb_flushes",
    "halt_wait_seconds",
    "reboots",
    "vmid_rollovers",
    "avmm_wall_s",
    "avmm_cpu_s",
)
#: Columns every row has; a guest figure may not take one of these names.
FIXED_COLUMNS = ("point", "repetition", "seed", "status", "exit_code", "wall_s", "cpu_s")
Pick = Literal["first", "last", "count"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ------------------------------------------------------------------ the file


def _positive_number(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise avmm_config.FieldError(attr.name, f"{value} must be a positive number of seconds")


@attrs.frozen
class _Repetitions:
    count: int = attrs.field(default=1, validator=config_model._in_range(1, 10_000))
    seed: int = attrs.field(default=0, validator=config_model._in_range(0, 2**64 - 1))
    seeds: tuple[int, ...] | None = None


@attrs.frozen
class _Figure:
    pattern: str
    pick: Pick = "first"


@attrs.frozen
class _Measures:
    report: tuple[str, ...] = COUNTERS
    per_vm: bool = False
    console: dict[str, _Figure] = attrs.Factory(dict)
    series: tuple[str, ...] = ()
    series_interval: float = attrs.field(default=1.0, validator=_positive_number)


@attrs.frozen
class _Stop:
    console: tuple[str, ...] = ()


@attrs.frozen
class _File:
    version: Literal[1]
    name: str = ""
    description: str = ""
    base: Path | None = None
    config: dict[str, Any] | None = None
    snapshot: Path | None = None
    set: dict[str, Any] = attrs.Factory(dict)
    axes: dict[str, Any] = attrs.Factory(dict)
    repetitions: _Repetitions | None = None
    measures: _Measures = _Measures()
    stop: _Stop = _Stop()
    timeout: float = attrs.field(default=600.0, validator=_positive_number)


def _converter() -> cattrs.Converter:
    conv = config_parse._converter()
    conv.register_structure_hook(float, config_parse._strict(float, "a number"))
    conv.register_structure_hook_func(
        lambda t: t == dict[str, Any], config_parse._strict(dict, "a table")
    )
    return conv


_CONVERTER = _converter()


# ---------------------------------------------------------------- the model


@attrs.frozen
class Axis:
    """One swept config key (dotted, as ``--set`` takes it) and its values."""

    key: str
    values: tuple[Any, ...]

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)


@attrs.frozen
class Figure:
    """A number the guest prints, found on its console by a regular expression.

    The value is the named group ``value``, else the first group, else the whole
    match; ``pick`` takes the first or last match, or counts them."""

    name: str
    pattern: str
    pick: Pick = "first"

    def find(self, console: str) -> float | int | str | None:
        regex = re.compile(self.pattern, re.M)
        if self.pick == "count":
            return sum(1 for _ in regex.finditer(console))
        matches = list(regex.finditer(console))
        if not matches:
            return None
        m = matches[0] if self.pick == "first" else matches[-1]
        if "value" in regex.groupindex:
            text = m.group("value")
        else:
            text = m.group(1) if regex.groups else m.group(0)
        return _number(text)


def _number(text: str) -> float | int | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


@attrs.frozen
class Point:
    """One run of a sweep: the axis values, the repetition, and its derived config.

    ``id`` hashes the resolved derived config with the repetition, so the same
    point of the same file gets the same id wherever it runs (``--resume`` relies
    on it)."""

    id: str
    values: tuple[tuple[str, Any], ...]
    repetition: int
    seed: int
    config: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    def config_toml(self) -> str:
        return tomlout.dumps(self.config)


@attrs.frozen
class Experiment:
    name: str
    description: str
    base: Mapping[str, Any] = attrs.field(repr=False)  # the config's TOML, not yet validated
    base_dir: Path  # where the base config's relative paths start
    fixed: tuple[tuple[str, Any], ...]
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...] | None  # None: one repetition with the config's own seed
    report: tuple[str, ...]
    figures: tuple[Figure, ...]
    stop: tuple[str, ...]
    timeout: float
    source: Path | None = attrs.field(default=None, eq=False)
    per_vm: bool = False  # also a column per VM and counter: vm.NAME.COUNTER
    series: tuple[str, ...] = ()  # metric series sampled during every run
    series_interval: float = 1.0

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        return load(path)

    @property
    def repetitions(self) -> int:
        return 1 if self.seeds is None else len(self.seeds)

    def points(self) -> Iterator[Point]:
        """Every point: the product of the axes (first axis slowest), times the seeds."""
        combos = itertools.product(*(axis.values for axis in self.axes))
        for combo in combos:
            values = tuple((axis.key, v) for axis, v in zip(self.axes, combo, strict=True))
            for rep in range(self.repetitions):
                seed = None if self.seeds is None else self.seeds[rep]
                resolved = _derive(self, values, seed)
                yield _point(values, rep, resolved)


def _point(values: tuple[tuple[str, Any], ...], rep: int, resolved: dict[str, Any]) -> Point:
    digest = hashlib.sha256(
        json.dumps({"config": resolved, "repetition": rep}, sort_keys=True).encode()
    ).hexdigest()
    return Point(digest[:12], values, rep, int(resolved["sched"]["seed"]), resolved)


def _derive(
    exp: Experiment, values: tuple[tuple[str, Any], ...], seed: int | None
) -> dict[str, Any]:
    sets = [*exp.fixed, *values]
    if seed is not None:
        sets.append(("sched.seed", seed))
    cfg = _validate(exp.base, exp.base_dir, sets)
    return avmm_config.to_dict(cfg)


def _validate(
    base: Mapping[str, Any], base_dir: Path, sets: list[tuple[str, Any]]
) -> avmm_config.Config:
    data = json.loads(json.dumps(base))  # a deep copy: overrides edit in place
    avmm_config.apply_overrides(data, [f"{k}={tomlout.value(v)}" for k, v in sets])
    return avmm_config.from_dict(data, base=base_dir)


# ------------------------------------------------------------------- parsing


def load(path: str | Path) -> Experiment:
    """Read and validate an experiment file."""
    path = Path(path)
    data = config_parse.read_toml(path, "experiment")
    return from_dict(data, base=path.resolve().parent, source=path)


def from_dict(
    data: Mapping[str, Any], *, base: Path | None = None, source: Path | None = None
) -> Experiment:
    """Validate a parsed experiment; ``base`` is the folder relative paths start from."""
    here = base or Path.cwd()
    raw = dict(data)
    if "version" not in raw:
        raise ConfigError("version", "required key is missing (write version = 1)")
    if raw["version"] != 1:
        raise ConfigError("version", f"{config_model.show_value(raw['version'])} is not supported")
    measures = raw.get("measures")
    if isinstance(measures, dict) and isinstance(measures.get("console"), dict):
        console = {
            k: {"pattern": v} if isinstance(v, str) else v for k, v in measures["console"].items()
        }
        raw["measures"] = {**measures, "console": console}
    try:
        spec = _CONVERTER.structure(raw, _File)
    except Exception as exc:
        messages = [re.sub(r"\['([^']*)'\]", r".\1", m) for m in config_parse._messages(exc)]
        first = messages[0] if messages else str(exc)
        where, _, reason = first.partition(": ")
        raise ConfigError(where, reason or first) from None

    config, config_dir = _base(spec, here)
    fixed = tuple(_flatten(spec.set, "set", leaf=_is_scalar))
    snapshot = _snapshot(spec.snapshot, here, config)
    if snapshot is not None:
        fixed += (("vm.restore", str(snapshot)),)
    try:
        _validate(config, config_dir, list(fixed))
    except ConfigError as err:
        where = "base" if spec.base else "config"
        raise _blame(err, "set", [k for k, _ in fixed], where) from None
    axes = tuple(_axes(spec.axes))
    for axis in axes:
        for value in axis.values:
            try:
                _validate(config, config_dir, [*fixed, (axis.key, value)])
            except ConfigError as err:
                raise ConfigError(f"axes.{axis.key}", err.reason) from None
    seeds = _seeds(spec.repetitions, axes, fixed)
    for i, name in enumerate(spec.measures.report):
        if name not in COUNTERS:
            raise ConfigError(
                f"measures.report[{i}]",
                f"{config_model.show_value(name)} is not one of: {', '.join(COUNTERS)}",
            )
    figures = tuple(_figures(spec.measures.console, axes))
    series: tuple[str, ...] = ()
    if spec.measures.series:
        from avmm.obs.series import check_names

        series = check_names(spec.measures.series, "measures.series")
    for i, pattern in enumerate(spec.stop.console):
        _regex(pattern, f"stop.console[{i}]")
    exp = Experiment(
        name=spec.name or (source.stem if source else "sweep"),
        description=spec.description,
        base=config,
        base_dir=config_dir,
        fixed=fixed,
        axes=axes,
        seeds=seeds,
        report=spec.measures.report,
        figures=figures,
        stop=spec.stop.console,
        timeout=spec.timeout,
        source=source,
        per_vm=spec.measures.per_vm,
        series=series,
        series_interval=spec.measures.series_interval,
    )
    for combo in itertools.product(*(axis.values for axis in axes)):
        values = [(axis.key, v) for axis, v in zip(axes, combo, strict=True)]
        try:
            _validate(config, config_dir, [*fixed, *values])
        except ConfigError as err:
            where = ", ".join(f"{k}={tomlout.value(v)}" for k, v in values)
            raise ConfigError("axes", f"the point {where} is not a valid config: {err}") from None
    return exp


def _base(spec: _File, here: Path) -> tuple[dict[str, Any], Path]:
    if (spec.base is None) == (spec.config is None):
        raise ConfigError("base", "give either base = PATH or an inline [config] table")
    if spec.base is None:
        assert spec.config is not None
        cfg = dict(spec.config)
        cfg.setdefault("version", 1)
        try:
            avmm_config.from_dict(cfg, base=here)
        except ConfigError as err:
            raise ConfigError(f"config.{err.path}".rstrip("."), err.reason) from None
        return cfg, here
    path = spec.base if spec.base.is_absolute() else here / spec.base
    try:
        data = config_parse.read_toml(path, "config")
    except ConfigError as err:
        raise ConfigError("base", err.reason) from None
    return data, path.resolve().parent


def _snapshot(path: Path | None, here: Path, config: Mapping[str, Any]) -> Path | None:
    """``snapshot = PATH``: every point starts from it (its VM's ``restore`` key)."""
    if path is None:
        return None
    full = path if path.is_absolute() else here / path
    if not full.is_file():
        raise ConfigError("snapshot", f"{full} does not exist (make one with avmm run --snapshot)")
    if not isinstance(config.get("vm"), dict):
        raise ConfigError("snapshot", "a snapshot is of one VM: the base config must have one [vm]")
    return full.resolve()


def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict)


def _is_axis(value: object) -> bool:
    return not isinstance(value, dict) or "start" in value or "stop" in value or "step" in value


def _flatten(
    table: Mapping[str, Any], where: str, *, leaf: Any, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for k, v in table.items():
        key = f"{prefix}{k}"
        if leaf(v):
            yield key, v
        elif not v:
            raise ConfigError(f"{where}.{key}", "is an empty table")
        else:
            yield from _flatten(v, where, leaf=leaf, prefix=f"{key}.")


def _axes(table: Mapping[str, Any]) -> Iterator[Axis]:
    for key, spec in _flatten(table, "axes", leaf=_is_axis):
        where = f"axes.{key}"
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(where, "needs at least one value")
            if len({json.dumps(v, sort_keys=True) for v in spec}) != len(spec):
                raise ConfigError(where, "lists a value twice")
            yield Axis(key, tuple(spec))
        elif isinstance(spec, dict):
            yield Axis(key, _range(spec, where))
        else:
            raise ConfigError(
                where, f"{config_model.show_value(spec)} is not a list or a range table"
            )


def _range(spec: Mapping[str, Any], where: str) -> tuple[int | float, ...]:
    extra = sorted(set(spec) - {"start", "stop", "step"})
    if extra:
        raise ConfigError(f"{where}.{extra[0]}", "unknown key (a range has start, stop, step)")
    for k in ("start", "stop"):
        if k not in spec:
            raise ConfigError(f"{where}.{k}", "required key is missing")
    nums = {k: spec.get(k, 1) for k in ("start", "stop", "step")}
    for k, v in nums.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{where}.{k}", f"{config_model.show_value(v)} is not a number")
    start, stop, step = nums["start"], nums["stop"], nums["step"]
    if step <= 0:
        raise ConfigError(f"{where}.step", f"{step} must be positive")
    if stop < start:
        raise ConfigError(f"{where}.stop", f"{stop} is less than start ({start})")
    count = int((stop - start) / step + 1e-9) + 1  # stop is included when a step lands on it
    if count > 10_000:
        raise ConfigError(where, f"{count} values is too many (at most 10000)")
    integral = all(isinstance(v, int) for v in (start, stop, step))
    return tuple(
        start + i * step if integral else round(start + i * step, 12) for i in range(count)
    )


def _seeds(
    reps: _Repetitions | None, axes: tuple[Axis, ...], fixed: tuple[tuple[str, Any], ...]
) -> tuple[int, ...] | None:
    if reps is None:
        return None
    swept = {a.key for a in axes} | {k for k, _ in fixed}
    if "sched.seed" in swept:
        raise ConfigError("repetitions", "sched.seed is set by the axes or [set]; drop one")
    if reps.seeds is None:
        return tuple(reps.seed + i for i in range(reps.count))
    if not reps.seeds:
        raise ConfigError("repetitions.seeds", "needs at least one seed")
    if len(set(reps.seeds)) != len(reps.seeds):
        raise ConfigError("repetitions.seeds", "lists a seed twice")
    return reps.seeds


def _figures(table: Mapping[str, _Figure], axes: tuple[Axis, ...]) -> Iterator[Figure]:
    taken = set(FIXED_COLUMNS) | set(COUNTERS) | {a.key for a in axes}
    for name, fig in table.items():
        where = f"measures.console.{name}"
        if not _NAME.match(name):
            raise ConfigError(where, "a figure's name is letters, digits and _")
        if name in taken:
            raise ConfigError(where, "is already a column of the results (choose another name)")
        _regex(fig.pattern, where)
        yield Figure(name, fig.pattern, fig.pick)


def _regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(where, f"is not a regular expression: {exc}") from None


def _blame(err: ConfigError, where: str, keys: list[str], otherwise: str) -> ConfigError:
    """Name the override that a config error is about, else the base config."""
    plain = re.sub(r"\[\d+\]", "", err.path)
    for key in keys:
        if re.sub(r"\[\d+\]", "", key) == plain:
            return ConfigError(f"{where}.{key}", err.reason)
    return ConfigError(f"{otherwise}: {err.path}".rstrip(": "), err.reason)
