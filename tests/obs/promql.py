"""The dashboards' PromQL: every expression, and the metric names it uses."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_NAME = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)


@attrs.frozen
class Expr:
    dashboard: str
    where: str  # panel title or template variable
    expr: str


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (not functions, keywords or labels)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    names = set()
    for m in _NAME.finditer(text):
        if text[m.end() :].lstrip().startswith("("):
            continue  # a function or aggregation
        if m.group().lower() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((DASHBOARDS / "grafana").glob("*.json"))
    }


def expressions() -> Iterator[Expr]:
    """Every target of every panel, and every query template variable (the metric
    selector inside ``label_values(...)``)."""
    for name, board in dashboards().items():
        for panel in _panels(board["panels"]):
            for target in panel.get("targets", []):
                yield Expr(name, panel["title"], target["expr"])
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            if isinstance(query, dict):
                query = query.get("query")
            if variable.get("type") == "query" and query:
                m = _LABEL_VALUES.match(query)
                yield Expr(name, f"${variable['name']}", m.group(1) if m else query)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def concrete(expr: str) -> str:
    """``expr`` with Grafana's variables replaced, as Prometheus could evaluate it."""
    return (
        expr.replace("$__rate_interval", "15s")
        .replace("$__interval", "5s")
        .replace("$__range", "5m")
        .replace("$vm", ".*")
        .replace("$vcpu", ".*")
        .replace("$device", ".*")
    )


def load_builder() -> ModuleType:
    """dashboards/build.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("avmm_dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
