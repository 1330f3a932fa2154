"""Metric series: the exporter's samples, taken every ``interval`` seconds into a file.

``/metrics`` shows the present; an experiment wants the whole run (how the
runqueue grew during boot, when the dirty pages peaked). A :class:`SeriesRecorder`
takes the same :class:`~avmm.obs.families.Snapshot` a scrape takes, on the event
loop's thread between two slices, keeps the samples of the metrics it was asked
for and writes them as JSON lines::

    {"t": 0.5, "metric": "avmm_vcpu_instructions_total",
     "labels": {"vm": "vm0", "vcpu": "0"}, "value": 41250000}

(one object per line).

``t`` is host seconds since the recorder started (samples are taken on the host
clock, as Prometheus scrapes are), and every tick also records
``avmm_vm_guest_time_seconds`` of each VM so a series can be read against guest
time too. One more sample is taken when the recorder closes, so the file ends
with the run's final values. After ``max_samples`` lines the file gets a
``truncated`` line and sampling stops; the last line is always ``end``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from avmm.errors import ConfigError
from avmm.obs.exporter import take_snapshot
from avmm.obs.families import METRICS, families

if TYPE_CHECKING:
    from avmm.runtime.host import Host

#: Sampled on every tick whatever was asked: the guest time of each VM.
GUEST_TIME = "avmm_vm_guest_time_seconds"
#: Every sample name the catalogue can produce (a counter's ``_total`` included).
SAMPLE_NAMES = frozenset(name for info in METRICS for name in info.sample_names)


def check_names(names: Iterable[str], where: str = "series.metrics") -> tuple[str, ...]:
    """The requested sample names, each one checked against the catalogue."""
    out = []
    for i, name in enumerate(names):
        if name not in SAMPLE_NAMES:
            raise ConfigError(
                f"{where}[{i}]",
                f'"{name}" is not a metric avmm exports (README lists them; e.g. '
                '"avmm_vcpu_instructions_total")',
            )
        out.append(name)
    return tuple(out)


class SeriesRecorder:
    """Samples ``names`` of ``host`` every ``interval`` seconds into ``out``."""

    def __init__(
        self,
        host: Host,
        names: Iterable[str],
        out: IO[str],
        *,
        interval: float = 1.0,
        max_samples: int = 1_000_000,
    ) -> None:
        self.host = host
        self.names = frozenset(check_names(names)) | {GUEST_TIME}
        self.out = out
        self.interval = interval
        self.max_samples = max_samples
        self.samples = 0
        self.ticks = 0
        self.truncated = False
        self._start = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def to_file(cls, host: Host, names: Iterable[str], path: Path, **kw: Any) -> SeriesRecorder:
        return cls(host, names, path.open("w", encoding="utf-8"), **kw)

    def start(self) -> None:
        """Take the first sample now and the next ones on a task of the running loop."""
        self._start = time.monotonic()
        self.sample()
        self._task = asyncio.get_running_loop().create_task(self._every(), name="avmm-series")

    async def _every(self) -> None:
        while not self.truncated:
            await asyncio.sleep(self.interval)
            self.sample()

    def sample(self) -> None:
        """One tick: every sample of the chosen metrics, as of this slice boundary."""
        if self.truncated:
            return
        t = round(time.monotonic() - self._start, 6)
        self.ticks += 1
        for fam in families(take_snapshot(self.host)):
            for s in fam.samples:
                if s.name in self.names and not self._write(t, s.name, s.labels, s.value):
                    return
        self.out.flush()

    def _write(self, t: float, name: str, labels: dict[str, str], value: float) -> bool:
        if self.samples >= self.max_samples:
            self.truncated = True
            self.out.write(json.dumps({"event": "truncated", "max_samples": self.max_samples}))
            self.out.write("\n")
            return False
        number: float = int(value) if float(value).is_integer() else value
        line = {"t": t, "metric": name, "labels": labels, "value": number}
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.samples += 1
        return True

    async def aclose(self) -> None:
        """Stop the task, take the final sample and close the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.out.closed:
            return
        self.sample()
        end = {"event": "end", "ticks": self.ticks, "samples": self.samples}
        self.out.write(json.dumps(end) + "\n")
        self.out.close()


def read_series(path: Path) -> list[dict[str, Any]]:
    """The samples of a series file (its ``truncated``/``end`` lines left out)."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a run killed mid-line: keep what was whole
            if isinstance(item, dict) and "metric" in item:
                rows.append(item)
    return rows


__all__ = ["GUEST_TIME", "SAMPLE_NAMES", "SeriesRecorder", "check_names", "read_series"]
