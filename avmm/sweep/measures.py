"""A run's row: its point, its status and times, and the measures the experiment asks for."""

from __future__ import annotations

from collections import Counter
from typing import Any

from avmm.sweep.experiment import Experiment, Point
from avmm.sweep.point import Outcome

_PER_VCPU = (
    "instructions",
    "slices",
    "pause_exits",
    "directed_yields",
    "remote_tlb_flushes",
    "halt_wait_seconds",
)


def row(exp: Experiment, point: Point, outcome: Outcome) -> dict[str, Any]:
    """One row of the results table (a column per axis and measure; missing is None)."""
    out: dict[str, Any] = {"point": point.id, "repetition": point.repetition, "seed": point.seed}
    out.update(dict(point.values))
    out.update(
        status=outcome.status,
        exit_code=outcome.exit_code,
        wall_s=outcome.wall_s,
        cpu_s=outcome.cpu_s,
    )
    out.update(counters(outcome.report, exp.report))
    if exp.per_vm:
        out.update(per_vm(outcome.report, exp.report))
    for fig in exp.figures:
        out[fig.name] = fig.find(outcome.console)
    return out


def counters(report: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The named counters of a JSON report, summed over every VM and vCPU."""
    if report is None:
        return {n: None for n in names if n != "exits"}
    vms = report.get("vms", {}).values()
    vcpus = [v for vm in vms for v in vm.get("vcpus", [])]
    out: dict[str, Any] = {}
    for name in names:
        if name in _PER_VCPU:
            total = sum(v.get(name, 0) for v in vcpus)
            out[name] = round(total, 6) if isinstance(total, float) else total
        elif name == "exits":
            exits: Counter[str] = Counter()
            for v in vcpus:
                exits.update(v.get("exits", {}))
            out.update({f"exits.{k}": n for k, n in sorted(exits.items())})
        elif name == "reboots":
            out[name] = sum(vm.get("reboots", 0) for vm in vms)
        elif name == "vmid_rollovers":
            out[name] = report.get("vmids", {}).get("rollovers")
        elif name == "avmm_wall_s":
            out[name] = report.get("wall_seconds")
        elif name == "avmm_cpu_s":
            out[name] = report.get("host_cpu_seconds")
    return out


def per_vm(report: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The per-vCPU counters and reboots of each VM: columns ``vm.NAME.COUNTER``."""
    out: dict[str, Any] = {}
    for vm_name, vm in (report or {}).get("vms", {}).items():
        vcpus = vm.get("vcpus", [])
        for name in names:
            if name in _PER_VCPU:
                total = sum(v.get(name, 0) for v in vcpus)
                out[f"vm.{vm_name}.{name}"] = round(total, 6) if isinstance(total, float) else total
            elif name == "reboots":
                out[f"vm.{vm_name}.reboots"] = vm.get("reboots", 0)
    return out
