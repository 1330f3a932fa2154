"""The results table: one row per run, as DIR/results.csv and DIR/results.parquet.

Parquet keeps the types (the report regenerates from it); CSV is for people
and spreadsheets. An empty cell is a measure a run did not give.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSV = "results.csv"
PARQUET = "results.parquet"


def columns(axes: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table's columns: identity, axes, status and times, then measures in order seen."""
    head = ["point", "repetition", "seed", *axes, "status", "exit_code", "wall_s", "cpu_s"]
    seen = dict.fromkeys(head)
    for r in rows:
        seen.update(dict.fromkeys(k for k in r if not k.startswith("exits.")))
    exits = sorted({k for r in rows for k in r if k.startswith("exits.")})
    return [*seen, *exits]


def write(out: Path, rows: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_zero_exits(r, names) for r in rows]
    with (out / CSV).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(names), restval="")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _cell(r.get(k)) for k in names})
    data = {k: _column([r.get(k) for r in rows]) for k in names}
    pq.write_table(pa.table(data), out / PARQUET)


def _zero_exits(row: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A run with a report took no exit of a reason it does not list."""
    if not any(k.startswith("exits.") for k in row):
        return row
    return {**{k: 0 for k in names if k.startswith("exits.")}, **row}


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # as in TOML
    return "" if value is None else value


def _column(values: list[Any]) -> list[Any]:
    """One type per column: ints and floats mixed become floats, anything else text."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and float in kinds:
        return [None if v is None else float(v) for v in values]
    if len(kinds) > 1:
        return [None if v is None else str(v) for v in values]
    return values


def read(out: Path) -> list[dict[str, Any]]:
    """The rows of a sweep's table (from Parquet, which keeps the types)."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(out / PARQUET).to_pylist()
    return rows


def column_names(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(out / PARQUET).names)


SERIES_CSV = "series.csv"
SERIES_PARQUET = "series.parquet"


def write_series(out: Path, rows: Sequence[dict[str, Any]], axes: Sequence[str], runs: Path) -> int:
    """The runs' metric series as one tidy table (DIR/series.csv and .parquet).

    One row per sample: the run's point, repetition, seed and axis values, the
    sample's host time ``t``, its metric, one ``label.KEY`` column per label key,
    and its value. Reads runs/POINT/series.jsonl; returns the number of samples
    (0: no run had a series, and no file is written)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    samples: list[dict[str, Any]] = []
    for r in rows:
        path = runs / str(r["point"]) / "series.jsonl"
        if not path.is_file():
            continue
        ident = {k: r.get(k) for k in ("point", "repetition", "seed", *axes)}
        for line in path.read_text().splitlines():
            s = json.loads(line)
            labels = {f"label.{k}": v for k, v in s.get("labels", {}).items()}
            sample = {**ident, "t": s["t"], "metric": s["metric"], **labels, "value": s["value"]}
            samples.append(sample)
    if not samples:
        return 0
    label_cols = sorted({k for s in samples for k in s if k.startswith("label.")})
    names = ["point", "repetition", "seed", *axes, "t", "metric", *label_cols, "value"]
    with (out / SERIES_CSV).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=names, restval="")
        writer.writeheader()
        for s in samples:
            writer.writerow({k: _cell(s.get(k)) for k in names})
    data = {k: _column([s.get(k) for s in samples]) for k in names}
    pq.write_table(pa.table(data), out / SERIES_PARQUET)
    return len(samples)


def read_series(out: Path) -> list[dict[str, Any]]:
    """The samples of a sweep's series table; empty when the sweep has none."""
    import pyarrow.parquet as pq

    if not (out / SERIES_PARQUET).is_file():
        return []
    samples: list[dict[str, Any]] = pq.read_table(out / SERIES_PARQUET).to_pylist()
    return samples
