"""Running one point: ``avmm run`` of its derived config in a child process.

:func:`run_task` is the one function both backends call (a local thread per
running point, or a Ray task on any node); it takes and returns plain data, so
it pickles into Ray's object store. The child is isolated from the sweep and
from the other points: a crash, a hang or a guest that never stops costs one
row, not the sweep. The run's own ``--timeout`` stops it gracefully (avmm still
writes its report); past a grace period the child is killed.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

Status = Literal["ok", "failed", "timeout", "error"]
#: How long past its timeout a run gets to stop by itself before it is killed.
GRACE_SECONDS = 10.0
#: How much of a run's console a result keeps (the tail).
CONSOLE_LIMIT = 1 << 20
#: How many metric-series samples a result keeps (the first ones).
SERIES_LIMIT = 200_000
#: How far back into the output already searched a stop pattern may start matching.
STOP_OVERLAP = 4096


@attrs.frozen
class Task:
    """What a worker needs to run a point: no paths of the sweep's own machine
    except the guest images named in the config."""

    point: str
    config_toml: str
    timeout: float
    stop: tuple[str, ...] = ()
    series: tuple[str, ...] = ()  # metrics sampled every series_interval s (``[series]``)
    series_interval: float = 1.0


@attrs.frozen
class Outcome:
    point: str
    status: Status
    exit_code: int | None
    wall_s: float
    cpu_s: float
    report: dict[str, Any] | None
    console: str
    stderr: str
    stopped_by: str | None = None  # the stop pattern that ended the run early
    node: str = ""
    series: tuple[dict[str, Any], ...] = ()  # samples of the run's metric series


def _avmm_root() -> str:
    import avmm

    return str(Path(avmm.__file__).resolve().parent.parent)


def command(config: Path, report: Path, timeout: float, overrides: Sequence[str] = ()) -> list[str]:
    """The child's command line: exactly what a user types, via this interpreter."""
    sets = [arg for o in overrides for arg in ("--set", o)]
    return [
        sys.executable,
        "-m",
        "avmm.cli",
        "run",
        str(config),
        "--report",
        str(report),
        "--timeout",
        f"{timeout:g}",
        *sets,
    ]


def run_task(task: Task) -> Outcome:
    """Run one point to the end, its timeout, or a stop pattern; never raises."""
    with tempfile.TemporaryDirectory(prefix=f"avmm-sweep-{task.point}-") as tmp:
        work = Path(tmp)
        cfg = work / "config.toml"
        cfg.write_text(task.config_toml)
        report = work / "report.json"
        errlog = work / "stderr.log"
        try:
            outcome = _run(task, cfg, report, errlog)
            if task.series and (work / "series.jsonl").is_file():
                from avmm.obs.series import read_series

                samples = tuple(read_series(work / "series.jsonl"))[:SERIES_LIMIT]
                outcome = attrs.evolve(outcome, series=samples)
            return outcome
        except OSError as exc:
            return Outcome(task.point, "error", None, 0.0, 0.0, None, "", str(exc), node=_node())


def _run(task: Task, cfg: Path, report: Path, errlog: Path) -> Outcome:
    env = dict(os.environ)
    root = _avmm_root()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    stops = [re.compile(p, re.M) for p in task.stop]
    start = time.monotonic()
    deadline = start + task.timeout + GRACE_SECONDS
    console = bytearray()
    searched = 0  # console bytes already searched for the stop patterns
    stopped_by: str | None = None
    killed = False
    overrides = []
    if task.series:
        names = ", ".join(json.dumps(n) for n in task.series)
        overrides = [
            f"series.metrics=[{names}]",
            f"series.interval={task.series_interval!r}",
            f"series.file={json.dumps(str(cfg.parent / 'series.jsonl'))}",
            f"series.max_samples={SERIES_LIMIT}",
        ]
    with errlog.open("wb") as err:
        proc = subprocess.Popen(
            command(cfg, report, task.timeout, overrides),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=cfg.parent,
            env=env,
        )
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            fd = proc.stdout.fileno()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    proc.kill()
                    killed = True
                    break
                if not sel.select(min(left, 1.0)):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                console += chunk
                if stops and stopped_by is None:
                    # search the new output and a line's worth before it, not it all again
                    start_at = max(0, searched - STOP_OVERLAP)
                    text = console[start_at:].decode(errors="replace")
                    searched = len(console)
                    for regex in stops:
                        if regex.search(text):
                            stopped_by = regex.pattern
                            proc.send_signal(signal.SIGTERM)  # avmm stops cleanly, reports
                            break
        proc.stdout.close()
        _pid, wait_status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
    wall = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime
    stderr = errlog.read_text(errors="replace")
    try:
        rep: dict[str, Any] | None = json.loads(report.read_text())
    except (OSError, ValueError):
        rep = None
    code = proc.returncode
    status: Status
    if killed or "avmm: error: --timeout: stopped" in stderr:
        status = "timeout"
    elif code == 0:
        status = "ok"
    else:
        status = "failed"
    return Outcome(
        point=task.point,
        status=status,
        exit_code=None if killed else code,
        wall_s=round(wall, 6),
        cpu_s=round(cpu, 6),
        report=rep,
        console=console[-CONSOLE_LIMIT:].decode(errors="replace"),
        stderr=stderr[-CONSOLE_LIMIT:],
        stopped_by=stopped_by,
        node=_node(),
    )


def _node() -> str:
    return os.uname().nodename
