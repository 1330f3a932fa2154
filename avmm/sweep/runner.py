"""A sweep: every point of an experiment through a backend, into DIR, resumable.

DIR/runs/POINT/ keeps each run's derived config, console, stderr, report and
row as it finishes, so a sweep that stops (Ctrl-C, a lost cluster) loses only
the runs in flight; ``--resume`` skips the points whose row is there.
DIR/sweep.json describes the sweep for ``--report`` (axes, measures).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import attrs

from avmm.errors import ConfigError
from avmm.sweep import measures
from avmm.sweep.backends import Backend
from avmm.sweep.experiment import Experiment
from avmm.sweep.point import Outcome, Task

#: A run's metric series in its folder (JSON lines, as ``avmm run``'s ``[series]`` writes).
SERIES = "series.jsonl"
#: Statuses that a resumed sweep runs again (the infrastructure failed, not the point).
RETRIED = frozenset({"error"})


@attrs.frozen
class SweepResult:
    rows: list[dict[str, Any]]
    ran: int
    skipped: int


def run(
    exp: Experiment,
    out: Path,
    backend: Backend,
    *,
    resume: bool = False,
    progress: TextIO | None = None,
) -> SweepResult:
    """Run every point not yet done; returns every point's row, in point order."""
    runs = out / "runs"
    points = list(exp.points())
    done = {p.id: row for p in points if (row := _done(runs / p.id)) is not None}
    if done and not resume:
        raise ConfigError("--out", f"{out} already has results of this sweep (add --resume)")
    runs.mkdir(parents=True, exist_ok=True)
    _describe(exp, out)
    todo = [p for p in points if p.id not in done]
    by_id = {p.id: p for p in todo}
    meter = Progress(len(points), len(done), backend.slots, progress or sys.stderr)
    tasks = [
        Task(p.id, p.config_toml(), exp.timeout, exp.stop, exp.series, exp.series_interval)
        for p in todo
    ]
    for p in todo:
        (runs / p.id).mkdir(exist_ok=True)
        (runs / p.id / "config.toml").write_text(p.config_toml())
    meter.show()
    for outcome in backend.run(tasks):
        point = by_id[outcome.point]
        row = measures.row(exp, point, outcome)
        _keep(runs / point.id, outcome, row)
        done[point.id] = row
        meter.finished(outcome)
    meter.close()
    return SweepResult([done[p.id] for p in points], len(todo), len(points) - len(todo))


def _done(run_dir: Path) -> dict[str, Any] | None:
    try:
        row: dict[str, Any] = json.loads((run_dir / "row.json").read_text())
    except (OSError, ValueError):
        return None
    return None if row.get("status") in RETRIED else row


def _keep(run_dir: Path, outcome: Outcome, row: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "console.log").write_text(outcome.console)
    (run_dir / "stderr.log").write_text(outcome.stderr)
    if outcome.report is not None:
        (run_dir / "report.json").write_text(json.dumps(outcome.report, indent=2) + "\n")
    if outcome.series:
        with (run_dir / SERIES).open("w") as f:
            f.writelines(json.dumps(s, separators=(",", ":")) + "\n" for s in outcome.series)
    extra = {"stopped_by": outcome.stopped_by, "node": outcome.node}
    (run_dir / "outcome.json").write_text(json.dumps(extra) + "\n")
    (run_dir / "row.json").write_text(json.dumps(row) + "\n")  # last: marks the point done


def _describe(exp: Experiment, out: Path) -> None:
    meta = {
        "name": exp.name,
        "description": exp.description,
        "source": str(exp.source) if exp.source else None,
        "axes": [{"key": a.key, "values": list(a.values), "numeric": a.numeric} for a in exp.axes],
        "repetitions": exp.repetitions,
        "figures": [f.name for f in exp.figures],
        "timeout": exp.timeout,
    }
    (out / "sweep.json").write_text(json.dumps(meta, indent=2) + "\n")


class Progress:
    """One line on stderr: points done, running, failed, and the time left."""

    def __init__(self, total: int, skipped: int, slots: int, stream: TextIO) -> None:
        self.total, self.done, self.failed = total, skipped, 0
        self._skipped, self._slots, self._stream = skipped, slots, stream
        self._start = time.monotonic()
        self._tty = stream.isatty()

    def finished(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.status != "ok":
            self.failed += 1
        self.show()

    def line(self) -> str:
        ran = self.done - self._skipped
        left = self.total - self.done
        running = min(self._slots, left)
        if ran and left:
            eta = _duration((time.monotonic() - self._start) / ran * left)
        else:
            eta = "?" if left else "0s"
        skipped = f" ({self._skipped} from before)" if self._skipped else ""
        return (
            f"avmm sweep: {self.done}/{self.total} done{skipped}, {running} running, "
            f"{self.failed} failed, ETA {eta}"
        )

    def show(self) -> None:
        if self._tty:
            self._stream.write(f"\r\033[K{self.line()}")
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


__all__ = ["Progress", "SweepResult", "run"]
