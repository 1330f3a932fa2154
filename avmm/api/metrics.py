"""The ``metrics`` command: what ``/metrics`` serves, as JSON, with no exporter.

The same snapshot (:func:`avmm.obs.exporter.take_snapshot`) and the same
families (:func:`avmm.obs.families.families`) as a Prometheus scrape, taken
on the loop thread where the command runs; prometheus_client is imported on
the first ``metrics`` command only. The process collector's ``process_*``
families are the exporter's own and are not included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avmm.runtime.host import Host


def metric_families(host: Host, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every family (or those whose name starts with one of ``names``): its name,
    type, help and samples (sample name, labels, value)."""
    from avmm.obs.exporter import take_snapshot
    from avmm.obs.families import families

    out = []
    for family in families(take_snapshot(host), scrapes=0, stale_scrapes=0):
        samples = family.samples
        if names is not None and not any(
            family.name.startswith(n) or any(s.name.startswith(n) for s in samples) for n in names
        ):
            continue
        out.append(
            {
                "name": family.name,
                "type": family.type,
                "help": family.documentation,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels), "value": _number(s.value)}
                    for s in samples
                ],
            }
        )
    return out


def _number(value: float) -> float | int | str:
    """JSON has no inf or NaN: those become the strings Prometheus writes."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return int(value) if float(value).is_integer() else value
