"""The Grafana dashboards, the scrape config and the provisioning files."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from avmm.obs.exporter import start_exporter
from avmm.runtime.host import Host
from tests.obs.busy import busy_vm, running
from tests.obs.promql import (
    DASHBOARDS,
    concrete,
    dashboards,
    expressions,
    load_builder,
    metric_names,
)


async def exported_names(disk: Path) -> set[str]:
    """Sample names of a real scrape of a running VM with every kind of device."""
    disk.write_bytes(bytes(1 << 20))
    async with Host(pcpus=2) as host:
        busy_vm(host, vcpus=2, disk=disk)
        with start_exporter(host, port=0) as exporter:
            async with running(host):
                await asyncio.sleep(0.2)
                text = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(exporter.url, timeout=30).read().decode()
                )
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


async def test_every_dashboard_expression_uses_only_exported_metrics(tmp_path: Path) -> None:
    exported = await exported_names(tmp_path / "disk.img")
    used: set[str] = set()
    problems = []
    for e in expressions():
        names = metric_names(e.expr)
        if not names:
            problems.append(f"{e.dashboard}: {e.where}: no metric in {e.expr!r}")
        for name in sorted(names - exported):
            problems.append(f"{e.dashboard}: {e.where}: {name} is not exported ({e.expr})")
        used |= names
    assert problems == []
    # The histogram is read through its buckets and its sum and count.
    assert {
        "avmm_vcpu_slice_duration_seconds_bucket",
        "avmm_vcpu_slice_duration_seconds_sum",
        "avmm_vcpu_slice_duration_seconds_count",
    } <= used


def test_metric_names_are_told_apart_from_functions_labels_and_variables() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (vm, le) (rate(avmm_x_bucket{vm=~"$vm",le!="1e6"}'
        "[$__rate_interval]))) / on (vm) group_left avmm_y * 1e6 > bool 2 or vector(0)"
    )
    assert metric_names(expr) == {"avmm_x_bucket", "avmm_y"}
    assert metric_names("sum(rate(a[5m])) by (b) / ignoring(c) d offset 5m") == {"a", "d"}
    assert metric_names('process_cpu_seconds_total{job="avmm"}') == {"process_cpu_seconds_total"}
    assert metric_names("avmm_vm_vcpus") == {"avmm_vm_vcpus"}


def test_the_json_files_are_what_build_py_writes() -> None:
    rendered = load_builder().render()
    on_disk = {p.name: p.read_text() for p in (DASHBOARDS / "grafana").glob("*.json")}
    assert (
        sorted(on_disk)
        == sorted(rendered)
        == [
            "avmm-devices.json",
            "avmm-overview.json",
            "avmm-scheduler.json",
            "avmm-vcpus.json",
        ]
    )
    for name, text in rendered.items():
        assert on_disk[name] == text, f"run python dashboards/build.py ({name} is stale)"


def test_dashboards_are_well_formed_grafana_json() -> None:
    boards = dashboards()
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["tags"] == ["avmm"], name
        defined = {v["name"] for v in board["templating"]["list"]}
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, panel["title"])
            mine = {
                (pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])
            }
            assert not cells & mine, f"{name}: {panel['title']} overlaps another panel"
            cells |= mine
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "avmm-prometheus"}
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "avmm-prometheus"
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
                assert used <= defined, (name, panel["title"], used - defined)


def test_provisioning_matches_the_dashboards_and_the_scrape_config() -> None:
    datasource = (DASHBOARDS / "provisioning/datasources/avmm.yml").read_text()
    provider = (DASHBOARDS / "provisioning/dashboards/avmm.yml").read_text()
    scrape = (DASHBOARDS / "prometheus.yml").read_text()
    assert re.search(r"^\s+uid: avmm-prometheus\b", datasource, re.M)
    assert re.search(r"^\s+type: prometheus$", datasource, re.M)
    interval = re.search(r"^\s+scrape_interval: (\S+)$", scrape, re.M)
    assert interval is not None
    assert re.search(rf"^\s+timeInterval: {interval.group(1)}\b", datasource, re.M)
    assert re.search(r"^\s+path: \$\{AVMM_DASHBOARDS\}$", provider, re.M)
    assert re.search(r"^\s+- job_name: avmm\b", scrape, re.M)
    assert '- targets: ["127.0.0.1:9464"]' in scrape
    uses_job = {m for e in expressions() for m in re.findall(r'job="(\w+)"', e.expr)}
    assert uses_job == {"avmm"}


def test_promtool_accepts_the_scrape_config() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is needed"
    check = subprocess.run(
        [promtool, "check", "config", str(DASHBOARDS / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("expr", ['rate(avmm_vcpu_exits_total{vm=~"$vm"}[$__rate_interval])'])
def test_variables_become_concrete_promql(expr: str) -> None:
    assert concrete(expr) == 'rate(avmm_vcpu_exits_total{vm=~".*"}[15s])'


def test_the_readme_lists_every_metric_with_its_meaning() -> None:
    from avmm.obs.exporter import METRICS

    readme = (DASHBOARDS.parent / "README.md").read_text()  # the project's README
    rows = dict(re.findall(r"^\| `(avmm_\w+)` \| \w+ \| [^|]* \| (.+) \|$", readme, re.M))
    assert set(rows) == {m.name + ("_info" if m.kind == "info" else "") for m in METRICS}
    assert all(len(meaning) > 10 for meaning in rows.values())
