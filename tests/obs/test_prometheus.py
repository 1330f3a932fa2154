"""A real Prometheus server (Debian's ``prometheus``) scrapes a running avmm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from avmm.obs.exporter import start_exporter
from avmm.runtime.host import Host
from tests.obs.busy import busy_vm, running
from tests.obs.promql import concrete, expressions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Prometheus:
    """A Prometheus server of its own: temporary config and data, free ports."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    async def query(self, expr: str) -> dict[str, Any]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = await asyncio.to_thread(http_get, url)
        answer: dict[str, Any] = json.loads(body)
        assert status == 200 and answer["status"] == "success", (expr, answer)
        return answer["data"]  # type: ignore[no-any-return]

    async def vector(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        data = await self.query(expr)
        assert data["resultType"] == "vector"
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
                r["value"][1]
            )
            for r in data["result"]
        }

    async def until(self, expr: str, predicate: Any, what: str) -> dict[Any, float]:
        """Query until ``predicate(vector)`` holds (a hang guard, not a timing check)."""
        for _ in range(600):
            if self.proc.returncode is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            vector = await self.vector(expr)
            if predicate(vector):
                return vector
            await asyncio.sleep(0.1)
        raise AssertionError(f"never saw {what}; log: {self.log.read_text()[-2000:]}")


@contextlib.asynccontextmanager
async def prometheus(tmp_path: Path, target: str) -> AsyncIterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus (Debian package prometheus) is needed"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: avmm\n    static_configs:\n"
        f'      - targets: ["{target}"]\n'
    )
    web = f"127.0.0.1:{free_port()}"
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={web}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    server = Prometheus(proc, f"http://{web}", log)
    try:
        for _ in range(600):
            if proc.returncode is not None:
                raise AssertionError(f"prometheus exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                status, _ = await asyncio.to_thread(http_get, f"{server.url}/-/ready")
                if status == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"prometheus never got ready: {log.read_text()[-2000:]}")
        yield server
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.slow
async def test_prometheus_sees_every_vcpus_series_increase(tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    async with Host(pcpus=2) as host:
        busy_vm(host, vcpus=2, disk=disk)
        with start_exporter(host, port=0) as exporter:
            listen, port = exporter.address
            async with running(host), prometheus(tmp_path, f"{listen}:{port}") as server:
                vcpus = {(("instance", f"{listen}:{port}"), ("job", "avmm"), ("vcpu", v),
                          ("vm", "busy")) for v in ("0", "1")}  # fmt: skip
                first = await server.until(
                    "avmm_vcpu_instructions_total",
                    lambda vec: set(vec) == vcpus,
                    "a series for each vCPU",
                )
                await server.until(
                    "avmm_vcpu_instructions_total",
                    lambda vec: set(vec) == vcpus and all(vec[k] > first[k] for k in vcpus),
                    "every vCPU's instructions grow",
                )
                rates = await server.until(
                    'sum by (vm, vcpu) (rate(avmm_vcpu_exits_total{reason!="budget"}[5s]))',
                    lambda vec: len(vec) == 2 and all(v > 0 for v in vec.values()),
                    "exit rates for each vCPU",
                )
                assert {dict(k)["vcpu"] for k in rates} == {"0", "1"}
                up = await server.vector('up{job="avmm"}')
                assert list(up.values()) == [1.0]
                # Every dashboard expression is valid PromQL Prometheus evaluates.
                for e in expressions():
                    await server.query(concrete(e.expr))
                # ... and the per-vCPU panels have data.
                for expr in (
                    'rate(avmm_vcpu_instructions_total{vm=~".*",vcpu=~".*"}[5s]) / 1e6',
                    "histogram_quantile(0.99, sum by (vm, vcpu, le) "
                    "(rate(avmm_vcpu_slice_duration_seconds_bucket[5s])))",
                ):
                    assert len(await server.vector(expr)) == 2, expr
