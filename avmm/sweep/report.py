"""Plots and the Markdown summary of a sweep's table.

Each numeric measure is drawn against each numeric axis (against the first
axis when none is numeric), one line per combination of the other axes, with
the mean over repetitions and error bars of one standard deviation. Only runs
with status ``ok`` are drawn and averaged; the summary counts the rest.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from avmm.sweep import table

IDENTITY = ("point", "repetition", "seed", "status", "exit_code")


@attrs.frozen
class Plot:
    measure: str
    axis: str
    path: Path


def regenerate(out: Path) -> list[Plot]:
    """Plots and summary from DIR's table (what ``avmm sweep --report DIR`` does)."""
    meta = json.loads((out / "sweep.json").read_text())
    rows = table.read(out)
    plots = draw(out, rows, meta)
    plots += draw_series(out, table.read_series(out), meta)
    summarize(out, rows, meta, plots)
    return plots


def _axes(meta: dict[str, Any]) -> list[str]:
    return [a["key"] for a in meta["axes"]]


def measures(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """Columns worth drawing: numeric, and not the same in every successful run."""
    skip = set(IDENTITY) | set(_axes(meta))
    ok = [r for r in rows if r.get("status") == "ok"]
    names = [k for k in (rows[0] if rows else {}) if k not in skip]
    out = []
    for name in names:
        values = [r.get(name) for r in ok]
        nums = [v for v in values if _is_number(v)]
        if nums and len(nums) == len([v for v in values if v is not None]) and len(set(nums)) > 1:
            out.append(name)
    return out


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)


def draw(out: Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> list[Plot]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = meta["axes"]
    xs = [a["key"] for a in axes if a["numeric"]] or [a["key"] for a in axes[:1]]
    folder = out / "plots"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    ok = [r for r in rows if r.get("status") == "ok"]
    plots = []
    for measure in measures(rows, meta):
        for x in xs:
            others = [a["key"] for a in axes if a["key"] != x]
            positions = _positions(x, axes)
            lines: dict[tuple[Any, ...], dict[Any, list[float]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for r in ok:
                if _is_number(r.get(measure)):
                    lines[tuple(r[k] for k in others)][r[x]].append(float(r[measure]))
            fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
            for key in sorted(lines, key=lambda k: tuple(map(str, k))):
                points = sorted(lines[key].items(), key=lambda kv: positions(kv[0]))
                px = [positions(v) for v, _ in points]
                mean = [statistics.fmean(vals) for _, vals in points]
                std = [statistics.stdev(vals) if len(vals) > 1 else 0.0 for _, vals in points]
                label = ", ".join(f"{k}={_show(v)}" for k, v in zip(others, key, strict=True))
                ax.errorbar(px, mean, yerr=std, marker="o", capsize=3, label=label or None)
            spec = next(a for a in axes if a["key"] == x)
            if not spec["numeric"]:
                ax.set_xticks(range(len(spec["values"])), [_show(v) for v in spec["values"]])
            else:
                values = spec["values"]
                if min(values) > 0 and max(values) >= 100 * min(values):
                    ax.set_xscale("log")  # e.g. slices of 1000 to 100000 instructions
                if len(values) <= 12:
                    ax.set_xticks(values, [_show(v) for v in values])
                    ax.minorticks_off()
            path = folder / f"{_slug(measure)}-vs-{_slug(x)}.png"
            _save(plt, fig, ax, path, x, measure, f"{meta['name']}: {measure} vs {x}", others)
            plots.append(Plot(measure, x, path))
    return plots


def draw_series(out: Path, samples: Sequence[dict[str, Any]], meta: dict[str, Any]) -> list[Plot]:
    """One plot per sampled metric: its value (summed over its labels: every vCPU,
    pCPU, ...) against the run's host time, one line per run, a colour per point
    of the axes (its repetitions share it)."""
    if not samples:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = _axes(meta)
    folder = out / "plots"
    folder.mkdir(exist_ok=True)
    by_metric: dict[str, dict[tuple[Any, ...], dict[float, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for s in samples:
        run = (*(json.dumps(s.get(a)) for a in axes), s["repetition"])
        by_metric[s["metric"]][run][s["t"]] += float(s["value"])
    plots = []
    for metric, runs in sorted(by_metric.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
        colours: dict[tuple[str, ...], str] = {}
        for run in sorted(runs, key=lambda r: tuple(map(str, r))):
            where = run[:-1]
            first = where not in colours
            if first:
                colours[where] = f"C{len(colours) % 10}"
            points = sorted(runs[run].items())
            label = ", ".join(
                f"{k}={_show(json.loads(v))}" for k, v in zip(axes, where, strict=True)
            )
            ax.plot(
                [t for t, _ in points],
                [v for _, v in points],
                color=colours[where],
                marker=".",
                label=(label or None) if first else None,
            )
        path = folder / f"series-{_slug(metric)}.png"
        title = f"{meta['name']}: {metric} during each run"
        _save(plt, fig, ax, path, "host seconds into the run", metric, title, axes)
        plots.append(Plot(metric, "t", path))
    return plots


def _save(
    plt: Any, fig: Any, ax: Any, path: Path, x: str, y: str, title: str, legend: Sequence[str]
) -> None:
    """Label, grid and write one plot (a legend when other axes tell its lines apart)."""
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _positions(x: str, axes: list[dict[str, Any]]) -> Any:
    spec = next(a for a in axes if a["key"] == x)
    if spec["numeric"]:
        return lambda v: v
    index = {json.dumps(v): i for i, v in enumerate(spec["values"])}
    return lambda v: index[json.dumps(v)]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _show(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _fmt(vals: list[float]) -> str:
    if not vals:
        return ""
    mean = statistics.fmean(vals)
    text = _num(mean)
    if len(vals) > 1:
        text += f" ± {_num(statistics.stdev(vals))}"
    return text


def _num(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def summarize(
    out: Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any], plots: Sequence[Plot]
) -> Path:
    axes = _axes(meta)
    shown = [m for m in measures(rows, meta) if not m.startswith("exits.")]
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    lines = [f"# {meta['name']}", ""]
    if meta.get("description"):
        lines += [meta["description"].strip(), ""]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    lines += [
        f"{len(rows)} runs ({counts}); {meta['repetitions']} repetition(s) per point. "
        f"Every run is a row of [{table.CSV}]({table.CSV}) and [{table.PARQUET}]({table.PARQUET}); "
        "its console, report and derived config are in runs/POINT/"
        + (
            f"; the metric series are in [{table.SERIES_CSV}]({table.SERIES_CSV}) and "
            f"[{table.SERIES_PARQUET}]({table.SERIES_PARQUET})."
            if (out / table.SERIES_PARQUET).is_file()
            else "."
        ),
        "",
        "## Means over repetitions (runs with status ok; ± one standard deviation)",
        "",
    ]
    head = [*axes, "runs", "ok", *shown]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[tuple(json.dumps(r.get(a)) for a in axes)].append(r)
    for key, group in groups.items():
        ok = [r for r in group if r["status"] == "ok"]
        cells = [_show(json.loads(k)) for k in key]
        cells += [str(len(group)), str(len(ok))]
        cells += [_fmt([float(r[m]) for r in ok if _is_number(r.get(m))]) for m in shown]
        lines.append("| " + " | ".join(cells) + " |")
    if plots:
        lines += ["", "## Plots", ""]
        for p in plots:
            rel = p.path.relative_to(out)
            title = f"{p.measure} during each run" if p.axis == "t" else f"{p.measure} vs {p.axis}"
            lines += [f"![{title}]({rel})", ""]
    path = out / "summary.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
