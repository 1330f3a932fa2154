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
