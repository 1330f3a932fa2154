"""A running ``avmm run --api`` of the ctl-echo guest, with its metrics exporter."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families

AVMM = [sys.executable, "-m", "avmm.cli"]
GUARD = 60.0  # seconds: hang guards, never speed assertions


def wait_until(what: str, ready: Callable[[], bool], guard: float = GUARD) -> None:
    """Poll until ``ready()``; fail naming ``what`` after ``guard`` seconds (a hang guard)."""
    end = time.monotonic() + guard
    while not ready():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@attrs.define
class Running:
    """One ``avmm run`` process: its API socket, metrics URL, console log and stderr."""

    proc: subprocess.Popen[bytes]
    socket: Path
    console: Path
    stderr: Path
    metrics_url: str = ""

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AVMM, "ctl", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def expect_console(self, text: str) -> None:
        wait_until(f"{text!r} on the console", lambda: text in self.console_text())

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The samples called ``name`` on /metrics, by their sorted labels."""
        return self.scrape(name)[name]

    def scrape(self, *names: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """The samples of ``names`` from one scrape (one slice boundary), by name."""
        with urllib.request.urlopen(self.metrics_url, timeout=GUARD) as response:
            text = response.read().decode()
        out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {n: {} for n in names}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name in out:
                    out[s.name][tuple(sorted(s.labels.items()))] = s.value
        return out

    def vcpu_instructions(self) -> dict[str, float]:
        return {dict(k)["vcpu"]: v for k, v in self.samples("avmm_vcpu_instructions_total").items()}


def start(
    tmp_path: Path,
    *extra: str,
    vcpus: int = 2,
    demo: Path,
    ready: str | None = "ctl-echo: ready",
    listening: str = "metrics at",  # logged after "control API at"
) -> Running:
    """``avmm run`` of ctl-echo with ``--api`` and metrics on a free port, ready:
    its stderr has ``listening`` and (unless None) its console ``ready``. A VM
    restored or migrated in is past its greeting, and a VM waiting for a
    migration has announced only that."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sock = tmp_path / "api.sock"
    console = tmp_path / "console.log"
    stderr = tmp_path / "stderr.log"
    command = [
        *AVMM,
        "run",
        "--kernel",
        str(demo / "ctl-echo.elf"),
        "--vcpus",
        str(vcpus),
        "--console",
        f"file:{console}",
        "--api",
        str(sock),
        "--set",
        "metrics.enabled=true",
        "--set",
        "metrics.port=0",
        *extra,
    ]
    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    run = Running(proc, sock, console, stderr)

    def started() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"avmm exited with {proc.returncode}: {stderr.read_text()}")
        return listening in stderr.read_text()

    wait_until("avmm to listen", started)
    m = re.search(r"metrics at (http://\S+)", stderr.read_text())
    run.metrics_url = m[1] if m else ""
    if ready is not None:
        run.expect_console(ready)
    return run


@pytest.fixture
def running(tmp_path: Path, demo: Path) -> Iterator[Running]:
    run = start(tmp_path, demo=demo)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
