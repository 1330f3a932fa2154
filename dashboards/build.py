"""Writes the Grafana dashboards of avmm (``dashboards/grafana/*.json``).

    python dashboards/build.py

The panels are described here, compactly, and written out as the JSON
Grafana provisions; edit this file and run it rather than editing the JSON
(a test checks that the two agree, and that every expression names only
metrics avmm exports). Four dashboards share the ``avmm`` tag and link to
each other: overview, per-vCPU, devices, and scheduler/TLB/VMIDs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "grafana"
DATASOURCE = {"type": "prometheus", "uid": "avmm-prometheus"}
RI = "$__rate_interval"

Json = dict[str, Any]


def rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{selector}}}[{RI}])"


def var(name: str, label: str, query: str) -> Json:
    """A multi-value template variable, 'All' by default."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,
        "sort": 3,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "options": [],
    }


class Dashboard:
    """Panels laid out left to right, 24 columns wide, rows of equal height."""

    def __init__(self, uid: str, title: str, description: str, variables: list[Json]) -> None:
        self.uid = uid
        self.title = title
        self.description = description
        self.variables = variables
        self.panels: list[Json] = []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self._x + w > 24:
            self._x = 0
            self._y += self._row_h
            self._row_h = 0
        pos = {"h": h, "w": w, "x": self._x, "y": self._y}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self._x:
            self._y += self._row_h
        self._x, self._row_h = 0, 0
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1

    def graph(
        self,
        title: str,
        targets: list[tuple[str, str]],
        *,
        unit: str = "short",
        description: str = "",
        w: int = 12,
        h: int = 8,
        stack: bool = False,
    ) -> None:
        """A time series panel: ``targets`` are (PromQL, legend) pairs."""
        custom: Json = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
        }
        if stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
        self._panel(
            "timeseries",
            title,
            targets,
            description,
            self._place(w, h),
            {"unit": unit, "min": 0, "custom": custom},
            {
                "legend": {
                    "displayMode": "table",
                    "placement": "bottom",
                    "showLegend": True,
                    "calcs": ["mean", "lastNotNull"],
                },
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
        )

    def stat(
        self,
        title: str,
        expr: str,
        *,
        unit: str = "short",
        description: str = "",
        w: int = 4,
        h: int = 4,
    ) -> None:
        self._panel(
            "stat",
            title,
            [(expr, "")],
            description,
            self._place(w, h),
            {"unit": unit},
            {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value",
                "graphMode": "area",
                "justifyMode": "auto",
                "textMode": "auto",
                "orientation": "auto",
            },
        )

    def _panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        description: str,
        pos: dict[str, int],
        defaults: Json,
        options: Json,
    ) -> None:
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DATASOURCE,
                "gridPos": pos,
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": options,
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "datasource": DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                        "range": True,
                    }
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )

    def json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["avmm"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 38,
            "version": 1,
            "refresh": "5s",
            "time": {"from": "now-15m", "to": "now"},
            "timepicker": {},
            "timezone": "",
            "links": [
                {
                    "title": "avmm",
                    "type": "dashboards",
                    "tags": ["avmm"],
                    "asDropdown": False,
                    "includeVars": True,
                    "keepTime": True,
                }
            ],
            "templating": {"list": self.variables},
            "annotations": {"list": []},
            "panels": self.panels,
        }


VM_VAR = var("vm", "VM", "label_values(avmm_vm_vcpus, vm)")
VCPU_VAR = var("vcpu", "vCPU", 'label_values(avmm_vcpu_instructions_total{vm=~"$vm"}, vcpu)')
DEVICE_VAR = var("device", "Device", 'label_values(avmm_mmio_accesses_total{vm=~"$vm"}, device)')
VM = 'vm=~"$vm"'
VCPU = 'vm=~"$vm",vcpu=~"$vcpu"'
DEV = 'vm=~"$vm",device=~"$device"'
VM_NOT_BUDGET = VM + ',reason!="budget"'
VCPU_NOT_BUDGET = VCPU + ',reason!="budget"'
VM_OUT = VM + ',direction="out"'


def overview() -> Dashboard:
    d = Dashboard(
        "avmm-overview",
        "avmm / Overview",
        "Throughput, exits and health of every VM of one avmm process.",
        [VM_VAR],
    )
    d.stat(
        "Guest MIPS",
        f"sum({rate('avmm_vcpu_instructions_total', VM)}) / 1e6",
        description="Million instructions retired per second, all vCPUs.",
    )
    d.stat(
        "Exits / s",
        f"sum({rate('avmm_vcpu_exits_total', VM_NOT_BUDGET)})",
        unit="ops",
        description="Slices ended by anything but the budget.",
    )
    d.stat("vCPUs", f"sum(avmm_vm_vcpus{{{VM}}})")
    d.stat("Guest memory", f"sum(avmm_vm_memory_bytes{{{VM}}})", unit="bytes")
    d.stat("Run queue", "avmm_scheduler_runqueue_length", description="vCPUs waiting for a pCPU.")
    d.stat(
        "avmm CPU",
        'rate(process_cpu_seconds_total{job="avmm"}[$__rate_interval])',
        unit="percentunit",
        description="Host CPU time of the avmm process per second.",
    )
    d.row("Guests")
    d.graph(
        "Instructions / s by VM",
        [(f"sum by (vm) ({rate('avmm_vcpu_instructions_total', VM)})", "{{vm}}")],
        unit="ops",
    )
    d.graph(
        "Exits / s by reason",
        [(f"sum by (reason) ({rate('avmm_vcpu_exits_total', VM)})", "{{reason}}")],
        unit="ops",
        description="KVM-style exit reasons; 'budget' is the end of a full slice.",
    )
    d.graph(
        "Halted share by VM",
        [
            (
                f"sum by (vm) ({rate('avmm_vcpu_halt_wait_seconds_total', VM)})"
                f" / sum by (vm) (avmm_vm_vcpus{{{VM}}})",
                "{{vm}}",
            )
        ],
        unit="percentunit",
        description="Mean share of time the vCPUs slept in WFI.",
    )
    d.graph(
        "Device accesses / s by path",
        [(f"sum by (path) ({rate('avmm_vcpu_mmio_accesses_total', VM)})", "{{path}}")],
        unit="ops",
        stack=True,
        description="fast: in-core CLINT/PLIC (no exit); bus: a device model; "
        "user: nothing mapped.",
    )
    d.graph(
        "SBI calls / s by extension",
        [(f"sum by (ext) ({rate('avmm_sbi_calls_total', VM)})", "{{ext}}")],
        unit="ops",
    )
    d.graph(
        "Console output",
        [
            (
                f"sum by (vm, device) ({rate('avmm_console_bytes_total', VM_OUT)})",
                "{{vm}} {{device}}",
            )
        ],
        unit="Bps",
    )
    d.graph(
        "Guest errors / s",
        [
            (f"sum by (vm) ({rate('avmm_vm_guest_errors_total', VM)})", "{{vm}} errors"),
            (f"sum by (vm) ({rate('avmm_vm_unmapped_mmio_total', VM)})", "{{vm}} unmapped MMIO"),
        ],
        unit="ops",
    )
    d.graph(
        "Guest time",
        [(f"deriv(avmm_vm_guest_time_seconds{{{VM}}}[{RI}])", "{{vm}}")],
        unit="short",
        description="Guest seconds per host second (1 on the host clock).",
    )
    d.row("The avmm process")
    d.graph(
        "CPU",
        [('rate(process_cpu_seconds_total{job="avmm"}[$__rate_interval])', "cpu")],
        unit="percentunit",
        w=6,
    )
    d.graph(
        "Memory",
        [
            ('process_resident_memory_bytes{job="avmm"}', "resident"),
            ('process_virtual_memory_bytes{job="avmm"}', "virtual"),
        ],
        unit="bytes",
        w=6,
    )
    d.graph(
        "Snapshot time",
        [("avmm_exporter_snapshot_seconds", "snapshot")],
        unit="s",
        w=6,
        description="Host time the last scrape's snapshot held the event loop.",
    )
    d.graph(
        "Scrapes / s",
        [
            ("rate(avmm_exporter_scrapes_total[$__rate_interval])", "scrapes"),
            ("rate(avmm_exporter_stale_scrapes_total[$__rate_interval])", "stale"),
        ],
        unit="ops",
        w=6,
        description="Stale: the event loop did not answer; the previous snapshot was served.",
    )
    return d


def vcpus() -> Dashboard:
    d = Dashboard(
        "avmm-vcpus",
        "avmm / vCPUs",
        "Per-vCPU statistics, after KVM's: exits by reason, halts, slices, interrupts, TLB.",
        [VM_VAR, VCPU_VAR],
    )
    lv = "{{vm}}/{{vcpu}}"
    d.graph("MIPS", [(f"{rate('avmm_vcpu_instructions_total', VCPU)} / 1e6", lv)])
    d.graph(
        "Exits / s",
        [
            (
                f"sum by (vm, vcpu, reason) ({rate('avmm_vcpu_exits_total', VCPU_NOT_BUDGET)})",
                lv + " {{reason}}",
            )
        ],
        unit="ops",
    )
    d.graph(
        "Halted share",
        [(rate("avmm_vcpu_halt_wait_seconds_total", VCPU), lv)],
        unit="percentunit",
        description="KVM halt_wait_ns per second.",
    )
    d.graph("Halt wake-ups / s", [(rate("avmm_vcpu_halt_wakeups_total", VCPU), lv)], unit="ops")
    d.graph(
        "Slice duration p50 / p99",
        [
            (
                f"histogram_quantile(0.5, sum by (vm, vcpu, le) "
                f"({rate('avmm_vcpu_slice_duration_seconds_bucket', VCPU)}))",
                lv + " p50",
            ),
            (
                f"histogram_quantile(0.99, sum by (vm, vcpu, le) "
                f"({rate('avmm_vcpu_slice_duration_seconds_bucket', VCPU)}))",
                lv + " p99",
            ),
        ],
        unit="s",
    )
    d.graph(
        "Slices / s and mean slice",
        [
            (rate("avmm_vcpu_slices_total", VCPU), lv + " slices/s"),
            (
                f"{rate('avmm_vcpu_slice_duration_seconds_sum', VCPU)} / "
                f"{rate('avmm_vcpu_slice_duration_seconds_count', VCPU)} * 1e6",
                lv + " mean µs",
            ),
        ],
    )
    d.graph(
        "Interrupts taken / s",
        [(f"sum by (vm, vcpu, irq) ({rate('avmm_vcpu_interrupts_total', VCPU)})", lv + " {{irq}}")],
        unit="ops",
    )
    d.graph(
        "Exceptions / s",
        [
            (
                f"sum by (vm, vcpu, reason) ({rate('avmm_vcpu_exceptions_total', VCPU)})",
                lv + " {{reason}}",
            )
        ],
        unit="ops",
    )
    d.graph(
        "IPIs, directed yields, pause exits",
        [
            (rate("avmm_vcpu_ipis_received_total", VCPU), lv + " IPIs in"),
            (rate("avmm_vcpu_directed_yields_total", VCPU), lv + " directed yields"),
            (rate("avmm_vcpu_pause_exits_total", VCPU), lv + " pause exits"),
        ],
        unit="ops",
    )
    d.graph(
        "Device accesses / s",
        [
            (
                f"sum by (vm, vcpu, path) ({rate('avmm_vcpu_mmio_accesses_total', VCPU)})",
                lv + " {{path}}",
            )
        ],
        unit="ops",
    )
    d.graph(
        "SBI, HTIF, signals",
        [
            (rate("avmm_vcpu_sbi_calls_total", VCPU), lv + " SBI"),
            (rate("avmm_vcpu_htif_requests_total", VCPU), lv + " HTIF"),
            (rate("avmm_vcpu_signal_exits_total", VCPU), lv + " signal exits"),
        ],
        unit="ops",
    )
    d.graph(
        "Translation",
        [
            (rate("avmm_vcpu_l1_tlb_hits_total", VCPU), lv + " fast-cache hits"),
            (rate("avmm_vcpu_tlb_lookups_total", VCPU), lv + " TLB lookups"),
            (rate("avmm_vcpu_page_walks_total", VCPU), lv + " page walks"),
        ],
        unit="ops",
    )
    d.graph(
        "Fences",
        [
            (rate("avmm_vcpu_sfence_vma_total", VCPU), lv + " sfence.vma"),
            (rate("avmm_vcpu_remote_tlb_flushes_total", VCPU), lv + " remote fences"),
        ],
        unit="ops",
    )
    d.graph("Halted now", [(f"avmm_vcpu_halted{{{VCPU}}}", lv)], description="1 while in WFI.")
    d.graph(
        "Steal share",
        [
            (
                f"{rate('avmm_vcpu_steal_seconds_total', VCPU)}"
                f" / on(vm) group_left {rate('avmm_vm_guest_time_seconds', VM)}",
                lv,
            )
        ],
        unit="percentunit",
        description="Share of its VM's guest time the vCPU was runnable but had no "
        "modelled pCPU (what SBI STA reports to the guest as steal).",
    )
    return d


def devices() -> Dashboard:
    d = Dashboard(
        "avmm-devices",
        "avmm / Devices",
        "Device models: MMIO traffic, interrupts, virtio queues and bytes, consoles.",
        [VM_VAR, DEVICE_VAR],
    )
    ld = "{{vm}} {{device}}"
    d.graph(
        "MMIO accesses / s",
        [
            (
                f"sum by (vm, device, path) ({rate('avmm_mmio_accesses_total', DEV)})",
                ld + " ({{path}})",
            )
        ],
        unit="ops",
    )
    d.graph("Device interrupts / s", [(rate("avmm_device_interrupts_total", DEV), ld)], unit="ops")
    d.graph(
        "PLIC line rises / s",
        [(f"sum by (vm, irq) ({rate('avmm_irq_injections_total', VM)})", "{{vm}} irq {{irq}}")],
        unit="ops",
    )
    d.graph(
        "Guest errors / s",
        [
            (rate("avmm_device_guest_errors_total", DEV), ld),
            (rate("avmm_mmio_bad_accesses_total", DEV), ld + " bad accesses"),
        ],
        unit="ops",
    )
    d.row("virtio")
    d.graph("Requests / s", [(rate("avmm_virtio_requests_total", DEV), ld)], unit="ops")
    d.graph(
        "Throughput",
        [
            (
                f"sum by (vm, device, direction) ({rate('avmm_virtio_bytes_total', DEV)})",
                ld + " {{direction}}",
            )
        ],
        unit="Bps",
    )
    d.graph("Notifications / s", [(rate("avmm_virtio_notifications_total", DEV), ld)], unit="ops")
    d.graph(
        "Network packets / s",
        [
            (
                f"sum by (vm, device, direction) ({rate('avmm_virtio_net_packets_total', DEV)})",
                ld + " {{direction}}",
            ),
            (
                f"sum by (vm, device, direction) "
                f"({rate('avmm_virtio_net_dropped_packets_total', DEV)})",
                ld + " {{direction}} dropped",
            ),
        ],
        unit="pps",
    )
    d.graph(
        "Disk flushes and errors",
        [
            (rate("avmm_virtio_blk_flushes_total", DEV), ld + " flushes"),
            (
                f"sum by (vm, device, reason) ({rate('avmm_virtio_blk_errors_total', DEV)})",
                ld + " {{reason}} errors",
            ),
        ],
        unit="ops",
    )
    d.graph(
        "Resets and failures",
        [
            (rate("avmm_virtio_resets_total", DEV), ld + " resets"),
            (rate("avmm_virtio_failures_total", DEV), ld + " needs reset"),
        ],
        unit="ops",
    )
    d.row("Consoles and memory")
    d.graph(
        "Console bytes",
        [
            (
                f"sum by (vm, device, direction) ({rate('avmm_console_bytes_total', VM)})",
                ld + " {{direction}}",
            ),
            (
                f"sum by (vm, device, direction) ({rate('avmm_console_dropped_bytes_total', VM)})",
                ld + " {{direction}} dropped",
            ),
        ],
        unit="Bps",
    )
    d.graph(
        "Dirty pages",
        [(f"avmm_vm_dirty_pages{{{VM}}}", "{{vm}}")],
        description="Pages marked in the dirty logs and not yet collected.",
    )
    d.graph(
        "Background device work / s",
        [(rate("avmm_vm_device_work_total", VM), "{{vm}}")],
        unit="ops",
    )
    return d


def scheduler() -> Dashboard:
    d = Dashboard(
        "avmm-scheduler",
        "avmm / Scheduler, TLB and VMIDs",
        "Slices on the modelled pCPUs, the run queue, TLB behaviour and VMID generations.",
        [],
    )
    lp = "pCPU {{pcpu}}"
    d.stat("Slice budget", "avmm_scheduler_slice_instructions", description="Instructions.")
    d.stat("VMID generation", "avmm_vmid_generation")
    d.stat("VMID rollovers", "avmm_vmid_rollovers_total")
    d.stat("VMIDs in use", "avmm_vmid_in_use")
    d.stat("VMID width", "avmm_vmid_width", description="Bits.")
    d.stat("Event-bus subscribers", "avmm_events_subscribers")
    d.row("Scheduler")
    d.graph(
        "Slices / s per pCPU",
        [("rate(avmm_pcpu_slices_total[$__rate_interval])", lp)],
        unit="ops",
        stack=True,
    )
    d.graph(
        "MIPS per pCPU",
        [("rate(avmm_pcpu_instructions_total[$__rate_interval]) / 1e6", lp)],
        stack=True,
    )
    d.graph(
        "Run queue",
        [
            ("avmm_scheduler_runqueue_length", "waiting now"),
            (
                "rate(avmm_scheduler_runnable_vcpus_sum[$__rate_interval]) / "
                "rate(avmm_scheduler_runnable_vcpus_count[$__rate_interval])",
                "mean runnable per request",
            ),
        ],
        description="Runnable vCPUs (waiting + running) as each slice request saw them.",
    )
    d.graph(
        "Dispatch",
        [
            ("rate(avmm_scheduler_dispatch_seconds_total[$__rate_interval])", "dispatch time"),
            (
                "rate(avmm_scheduler_directed_yields_total[$__rate_interval]) / "
                "rate(avmm_scheduler_slices_total[$__rate_interval])",
                "directed-yield share",
            ),
        ],
        unit="percentunit",
    )
    d.row("TLBs")
    d.graph(
        "TLB hit ratio per pCPU",
        [
            (
                "rate(avmm_tlb_hits_total[$__rate_interval]) / (rate(avmm_tlb_hits_total"
                "[$__rate_interval]) + rate(avmm_tlb_misses_total[$__rate_interval]))",
                lp,
            )
        ],
        unit="percentunit",
    )
    d.graph(
        "TLB misses / s per pCPU",
        [("rate(avmm_tlb_misses_total[$__rate_interval])", lp)],
        unit="ops",
    )
    d.graph(
        "TLB flushes / s by what they drop",
        [
            (
                "sum by (pcpu, reason) (rate(avmm_tlb_flushes_total[$__rate_interval]))",
                lp + " {{reason}}",
            )
        ],
        unit="ops",
    )
    d.graph(
        "Flushes owed to VMIDs",
        [
            ("rate(avmm_pcpu_rollover_flushes_total[$__rate_interval])", lp + " rollover"),
            ("rate(avmm_pcpu_migration_flushes_total[$__rate_interval])", lp + " migration"),
        ],
        unit="ops",
    )
    d.graph("Valid TLB entries", [("avmm_tlb_valid_entries", lp)])
    d.graph(
        "Remote fences / s",
        [("sum by (vm) (rate(avmm_vcpu_remote_tlb_flushes_total[$__rate_interval]))", "{{vm}}")],
        unit="ops",
    )
    d.row("VMIDs and events")
    d.graph(
        "VMID per VM",
        [("avmm_vm_vmid", "{{vm}}"), ("avmm_vm_vmid_generation", "{{vm}} generation")],
    )
    d.graph(
        "VMID allocations and rollovers / s",
        [
            ("rate(avmm_vmid_allocations_total[$__rate_interval])", "allocations"),
            ("rate(avmm_vmid_rollovers_total[$__rate_interval])", "rollovers"),
        ],
        unit="ops",
    )
    d.graph(
        "Event bus / s",
        [
            ("rate(avmm_events_published_total[$__rate_interval])", "published"),
            ("rate(avmm_events_delivered_total[$__rate_interval])", "delivered"),
            ("rate(avmm_events_dropped_total[$__rate_interval])", "dropped"),
        ],
        unit="ops",
    )
    d.graph(
        "Virtual-clock warps / s",
        [("sum by (vm) (rate(avmm_vm_clock_warps_total[$__rate_interval]))", "{{vm}}")],
        unit="ops",
    )
    return d


DASHBOARDS = {
    "avmm-overview.json": overview,
    "avmm-vcpus.json": vcpus,
    "avmm-devices.json": devices,
    "avmm-scheduler.json": scheduler,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        name: json.dumps(build().json(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
