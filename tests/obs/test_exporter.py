"""The Prometheus exporter: what a scrape of a running avmm returns, and how."""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families

from avmm import _core, sbi
from avmm.config import MetricsConfig
from avmm.devices.base import Metric
from avmm.errors import ConfigError
from avmm.obs.exporter import (
    BY_NAME,
    DEFAULT_LISTEN,
    DEFAULT_PORT,
    METRICS,
    PROCESS_METRICS,
    AvmmCollector,
    DeviceStats,
    Exporter,
    bus_devices,
    exporter_from_config,
    families,
    start_exporter,
    take_snapshot,
)
from avmm.runtime.counters import SLICE_BUCKETS
from avmm.runtime.handlers import handle_exit
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from tests.obs.busy import busy_vm, running
from tests.runtime.guest import RAM_BASE

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@attrs.frozen
class Busy:
    host: Host
    vm: Vm
    exporter: Exporter


def parse(text: str) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


async def scrape(url: str) -> Series:
    return parse(await asyncio.to_thread(get, url))


async def until(predicate: object, url: str, what: str) -> Series:
    """Scrape until ``predicate(series)`` holds (a hang guard, not a timing check)."""
    for _ in range(600):
        series = await scrape(url)
        if predicate(series):  # type: ignore[operator]
            return series
        await asyncio.sleep(0.05)
    raise AssertionError(f"never saw {what}")


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    return image


@pytest.fixture
async def busy(disk: Path) -> AsyncIterator[Busy]:
    async with Host(pcpus=2) as host:
        vm = busy_vm(host, vcpus=2, disk=disk)
        with start_exporter(host, port=0) as exporter:
            async with running(host):
                yield Busy(host, vm, exporter)


def both_vcpus_ran(series: Series) -> bool:
    return all(
        value(series, "avmm_vcpu_exits_total", vm="busy", vcpu=v, reason="wfi") > 0
        for v in ("0", "1")
    )


# ---------------------------------------------------------------- contents


async def test_every_catalogued_metric_has_series_from_a_running_vm(busy: Busy) -> None:
    series = await until(both_vcpus_ran, busy.exporter.url, "both vCPUs run")
    names = {name for name, _ in series}
    expected = {n for info in METRICS for n in info.sample_names}
    assert expected - names == set()
    assert set(PROCESS_METRICS) - names == set()
    # ... and nothing that the catalogue (and so the README) does not describe.
    catalogued = expected | set(PROCESS_METRICS)
    assert names - catalogued == set()


async def test_each_vcpu_has_its_own_series_and_they_increase(busy: Busy) -> None:
    url = busy.exporter.url
    first = await until(both_vcpus_ran, url, "both vCPUs run")

    def grew(series: Series) -> bool:
        return all(
            value(series, name, vm="busy", vcpu=v, **extra)
            > value(first, name, vm="busy", vcpu=v, **extra)
            for v in ("0", "1")
            for name, extra in (
                ("avmm_vcpu_instructions_total", {}),
                ("avmm_vcpu_exits_total", {"reason": "mmio_read"}),
                ("avmm_vcpu_slice_duration_seconds_count", {}),
            )
        )

    later = await until(grew, url, "every vCPU's counters grow")
    for v in ("0", "1"):
        # The guest's loop: a UART read and write (bus), an mtime read and an mtimecmp
        # write (fast path, no exit), then WFI.
        bus = value(later, "avmm_vcpu_mmio_accesses_total", vm="busy", vcpu=v, path="bus")
        fast = value(later, "avmm_vcpu_mmio_accesses_total", vm="busy", vcpu=v, path="fast")
        assert bus > 0 and fast > 0
        assert value(later, "avmm_vcpu_halt_wakeups_total", vm="busy", vcpu=v) > 0
    assert value(later, "avmm_console_bytes_total", vm="busy", device="uart", direction="out") > 0
    assert value(later, "avmm_mmio_accesses_total", vm="busy", device="clint", path="fast") > 0
    assert value(later, "avmm_mmio_accesses_total", vm="busy", device="uart", path="bus") > 0


async def test_snapshots_are_taken_on_the_event_loop_thread(disk: Path) -> None:
    threads: list[int] = []
    async with Host(pcpus=2) as host:
        busy_vm(host, disk=disk)

        def provider() -> Iterator[DeviceStats]:
            threads.append(threading.get_ident())
            return bus_devices(host)

        with start_exporter(host, port=0, devices=provider) as exporter:
            async with running(host):
                await until(both_vcpus_ran, exporter.url, "both vCPUs run")
    assert threads and set(threads) == {threading.get_ident()}


async def test_a_blocked_event_loop_gets_the_previous_snapshot(disk: Path) -> None:
    async with Host() as host:
        busy_vm(host, disk=disk)
        with start_exporter(host, port=0, timeout=0.2) as exporter:
            async with running(host):
                before = await until(both_vcpus_ran, exporter.url, "both vCPUs run")
                started = threading.Event()
                answer: list[str] = []

                def scrape_now() -> None:
                    started.set()
                    answer.append(get(exporter.url))

                scraper = threading.Thread(target=scrape_now)
                scraper.start()
                started.wait()
                time.sleep(2.0)  # the loop is blocked: it cannot take a snapshot
                await asyncio.to_thread(scraper.join)
    stale = parse(answer[0])
    assert value(stale, "avmm_exporter_stale_scrapes_total") == 1
    for v in ("0", "1"):
        name = "avmm_vcpu_instructions_total"
        assert value(stale, name, vm="busy", vcpu=v) >= value(before, name, vm="busy", vcpu=v)
    assert value(stale, "process_cpu_seconds_total") > 0  # still read fresh


async def test_a_collector_without_the_loop_never_reads_a_running_core(disk: Path) -> None:
    async with Host() as host:
        busy_vm(host, disk=disk)
        collector = AvmmCollector(host)  # told no loop
        async with running(host):
            await asyncio.sleep(0.05)
            with pytest.raises(RuntimeError, match="event loop"):
                await asyncio.to_thread(collector.snapshot)
            # On the loop's own thread no slice runs meanwhile: it may read.
            assert [vm.name for vm in collector.snapshot().host.vms] == ["busy"]
        assert [vm.name for vm in (await asyncio.to_thread(collector.snapshot)).host.vms] == [
            "busy"
        ]  # stopped: any thread may read


async def test_scraped_values_are_the_runtime_statistics(disk: Path) -> None:
    async with Host(pcpus=2) as host:
        vm = busy_vm(host, disk=disk)
        with start_exporter(host, port=0) as exporter:
            async with running(host):
                await until(both_vcpus_ran, exporter.url, "both vCPUs run")
        # Stopped: a collector without a loop reads the host directly.
        collector = AvmmCollector(host)
        snap = take_snapshot(host)
        text = "".join(_exposition(collector))
    series = parse(text)
    stats = snap.host
    for v in stats.vms[0].vcpus:
        lv = {"vm": "busy", "vcpu": str(v.vcpu)}
        assert value(series, "avmm_vcpu_instructions_total", **lv) == v.instret
        for reason, n in v.exits.items():
            assert value(series, "avmm_vcpu_exits_total", reason=reason, **lv) == n
        assert value(series, "avmm_vcpu_slices_total", **lv) == v.slices
        assert value(series, "avmm_vcpu_slice_duration_seconds_count", **lv) == v.slices
        inf = value(series, "avmm_vcpu_slice_duration_seconds_bucket", le="+Inf", **lv)
        assert inf == v.slices
        buckets = [
            value(series, "avmm_vcpu_slice_duration_seconds_bucket", le=repr(b), **lv)
            for b in SLICE_BUCKETS
        ]
        assert buckets == sorted(buckets)  # cumulative
        assert value(series, "avmm_vcpu_halt_wait_seconds_total", **lv) == v.halt_wait_seconds
        assert value(series, "avmm_vcpu_interrupts_total", irq="mti", **lv) == 0  # MIE clear
        # a busy loop runs translated (the translator is on by default)
        translated = value(series, "avmm_vcpu_instructions_translated_total", **lv)
        assert translated == v.core["jit_insns"] > 0
        assert value(series, "avmm_vcpu_wfi_yields_total", **lv) == v.core["wfi_yields"] == 0
        assert value(series, "avmm_vcpu_exceptions_total", reason="load_page_fault", **lv) == 0
    assert value(series, "avmm_vm_memory_bytes", vm="busy") == 4 << 20
    assert value(series, "avmm_vm_vcpus", vm="busy") == 2
    # The loaded program's page is dirty (write_phys marks it; nothing collected the log).
    assert (
        value(series, "avmm_vm_dirty_pages", vm="busy")
        == len(vm.memory_slots[0].dirty_pages(clear=False))
        > 0
    )
    assert value(series, "avmm_scheduler_slices_total") == stats.scheduler.slices
    assert value(series, "avmm_scheduler_runnable_vcpus_count") == stats.scheduler.requests
    assert sum(value(series, "avmm_pcpu_slices_total", pcpu=str(p)) for p in (0, 1)) == sum(
        p.slices for p in stats.pcpus
    )
    assert value(series, "avmm_vmid_width") == 8
    assert value(series, "avmm_vm_vmid", vm="busy") == stats.vms[0].vmid == 1
    jit = stats.vms[0].jit
    assert value(series, "avmm_vm_jit_enabled", vm="busy") == 1
    assert value(series, "avmm_vm_jit_blocks_total", vm="busy") == jit["blocks"] > 0
    assert value(series, "avmm_vm_jit_code_bytes", vm="busy") == jit["code_bytes"] > 0
    assert value(series, "avmm_vm_jit_translate_seconds_total", vm="busy") > 0
    assert value(series, "avmm_vm_jit_flushes_total", vm="busy", reason="full") == 0
    info = value(series, "avmm_host_info", version="0.1.0", policy="round-robin", clock="host")
    assert info == 1


def _exposition(collector: AvmmCollector) -> Iterator[str]:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    yield generate_latest(registry).decode()


async def test_python_irqchip_accesses_go_through_the_bus(guests: Path) -> None:
    from tests.obs.test_runtime_counters import DOORBELL, DOORBELL_IRQ, Doorbell
    from tests.runtime.guest import bare_metal_vm

    async with Host(pcpus=2) as host:
        vm = host.create_vm("irq", irqchip="python")
        bare_metal_vm(vm, guests / "irq.elf", vcpus=2, patch={"rounds": 20})
        vm.add_device(DOORBELL, Doorbell(vm.irq_line(DOORBELL_IRQ)))
        assert (await vm.run()).code == 0
    series = parse("".join(_exposition(AvmmCollector(host))))
    assert value(series, "avmm_mmio_accesses_total", vm="irq", device="clint", path="bus") > 0
    assert value(series, "avmm_mmio_accesses_total", vm="irq", device="plic", path="bus") > 0
    assert (
        "avmm_mmio_accesses_total",
        frozenset({("vm", "irq"), ("device", "clint"), ("path", "fast")}),
    ) not in series
    assert value(series, "avmm_irq_injections_total", vm="irq", irq=str(DOORBELL_IRQ)) == 20
    for v in ("0", "1"):
        assert value(series, "avmm_vcpu_ipis_received_total", vm="irq", vcpu=v) == 20
        assert value(series, "avmm_vcpu_interrupts_total", vm="irq", vcpu=v, irq="msi") == 20


async def test_unknown_sbi_extensions_share_one_label() -> None:
    async with Host() as host:
        vm = host.create_vm("sbi")
        vm.add_memory_slot(RAM_BASE, 1 << 20)
        vcpu = vm.create_vcpu()
        sbi.prepare_direct_boot(vm, entry=RAM_BASE, dtb=RAM_BASE)
        rng = random.Random(7)
        eids = [sbi.EXT_BASE] * 3 + [rng.randrange(0x0A00_0000, 1 << 32) for _ in range(200)]
        for eid in eids:
            vcpu.set_reg(17, eid)
            vcpu.set_reg(16, 0)
            assert handle_exit(vcpu, _core.EXIT_ECALL) is None
        series = parse("".join(_exposition(AvmmCollector(host))))
    calls = {
        dict(labels)["ext"]: v for (n, labels), v in series.items() if n == "avmm_sbi_calls_total"
    }
    assert calls["base"] == 3
    assert calls["other"] == 200
    assert calls["hsm"] == 0  # known extensions have series before their first call
    assert len(calls) == 20  # 19 known extensions and "other", however many ids the guest tried
    assert value(series, "avmm_sbi_not_supported_total", vm="sbi", ext="other") == 200
    assert value(series, "avmm_vcpu_sbi_calls_total", vm="sbi", vcpu="0") == 203


async def test_a_device_provider_plugs_in_the_boards_devices() -> None:
    @attrs.define
    class UartStats:  # a board's own UART model: its METRICS make it a console
        METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
            "tx_bytes": (("avmm_console_bytes_total", ("out",)),),
        }
        tx_bytes: int = 0
        rx_bytes: int = 0
        rx_overruns: int = 0
        interrupts: int = 0
        guest_errors: int = 0

    uart = UartStats(tx_bytes=42, interrupts=3)
    async with Host() as host:
        host.create_vm("board")

        def provider() -> list[DeviceStats]:
            return [DeviceStats("board", "serial0", uart)]

        snap = take_snapshot(host, provider)
    series = parse("".join(_exposition_of(families(snap))))
    assert (
        value(series, "avmm_console_bytes_total", vm="board", device="serial0", direction="out")
        == 42
    )
    assert value(series, "avmm_device_interrupts_total", vm="board", device="serial0") == 3


def _exposition_of(fams: Iterator[object]) -> Iterator[str]:
    from prometheus_client import CollectorRegistry, generate_latest

    class Fixed:
        def collect(self) -> Iterator[object]:
            return fams

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    yield generate_latest(registry).decode()


# ---------------------------------------------------------------- promtool


async def test_promtool_check_metrics_finds_no_problems(busy: Busy) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is needed"
    await until(both_vcpus_ran, busy.exporter.url, "both vCPUs run")
    text = await asyncio.to_thread(get, busy.exporter.url)
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, "")


# ---------------------------------------------------------------- the listener


def test_defaults_are_localhost_9464() -> None:
    assert (DEFAULT_LISTEN, DEFAULT_PORT) == ("127.0.0.1", 9464)
    assert (MetricsConfig().listen, MetricsConfig().port) == (DEFAULT_LISTEN, DEFAULT_PORT)


async def test_port_zero_picks_a_free_port_and_close_frees_it() -> None:
    async with Host() as host:
        exporter = start_exporter(host, port=0)
        listen, port = exporter.address
        assert listen == "127.0.0.1" and port > 0
        assert exporter.url == f"http://127.0.0.1:{port}/metrics"
        assert "avmm_vmid_generation 1.0" in await asyncio.to_thread(get, exporter.url)
        second = parse(await asyncio.to_thread(get, exporter.url))
        assert value(second, "avmm_exporter_scrapes_total") == 2
        exporter.close()
        exporter.close()  # idempotent
        with pytest.raises(urllib.error.URLError):
            await asyncio.to_thread(get, exporter.url)
        with start_exporter(host, port=port) as again:  # the port is free again
            assert again.address == ("127.0.0.1", port)


async def test_a_taken_port_is_a_config_error() -> None:
    async with Host() as host:
        with start_exporter(host, port=0) as first:
            _, port = first.address
            with pytest.raises(ConfigError) as err:
                start_exporter(host, port=port)
    assert err.value.path == "metrics.port"
    assert f"127.0.0.1:{port}" in str(err.value)


async def test_the_config_file_switches_the_exporter_on() -> None:
    async with Host() as host:
        assert exporter_from_config(host, MetricsConfig()) is None  # off by default
        exporter = exporter_from_config(host, MetricsConfig(enabled=True, port=0))
        assert exporter is not None
        with exporter:
            assert "avmm_vmid_width 8.0" in await asyncio.to_thread(get, exporter.url)


def test_catalogue_names_follow_the_conventions() -> None:
    for info in METRICS:
        assert info.name.startswith("avmm_")
        assert info.name.endswith("_total") == (info.kind == "counter"), info.name
        assert set(info.labels) <= {
            "vm",
            "vcpu",
            "pcpu",
            "reason",
            "device",
            "irq",
            "ext",
            "path",
            "direction",
            "listener",
        }, info.name
        assert info.help.endswith("."), info.name
    assert BY_NAME["avmm_vcpu_slice_duration_seconds"].kind == "histogram"
