"""Hostile guests cannot grow what the VMM keeps for them (issue 15, items 1, 4, 5).

Each guest repeats one thing without end; the VMM must keep a bounded queue
or buffer for it, count what it merged or dropped, and keep running."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from avmm.constants import MAX_CONSOLE_INPUT, MAX_PENDING_FENCES
from avmm.devices.backends.char import TcpChar
from avmm.devices.base import MAX_ERROR_KEYS, GuestErrorLog
from avmm.obs.exporter import AvmmCollector, make_registry
from tests.harden.rig import run_for, vm_config

MiB = 1 << 20


def _sample(registry: object, name: str, **labels: str) -> float:
    from prometheus_client import CollectorRegistry

    assert isinstance(registry, CollectorRegistry)
    value = registry.get_sample_value(name, labels)
    assert value is not None, f"no sample {name}{labels}"
    return value


@pytest.mark.slow
async def test_remote_fences_on_a_stopped_hart_stay_bounded(hostile: Path) -> None:
    # Item 1: hart 1 never starts, so it never applies a fence; hart 0 asks for
    # fences on it ~10 every 60 instructions. Before the bound, each stayed
    # queued: RSS grew ~12 MB/s.
    config = vm_config(
        {
            "vcpus": 2,
            "memory": "64MiB",
            "boot": {"mode": "direct", "kernel": str(hostile / "rfence-stopped.elf")},
        }
    )
    ran = await run_for(config, 3_000_000)
    stats = ran.board.vm.statistics() if ran.board.vm else None
    assert stats is not None
    target = stats.vcpus[1]
    assert target.hsm_state == "stopped"
    assert target.remote_tlb_flushes > 50_000  # the attack really ran
    assert target.remote_fences_merged >= target.remote_tlb_flushes - MAX_PENDING_FENCES
    # Memory: flat. 100k queued fences took ~10 MB before the bound.
    growth = max(ran.samples.rss) - ran.samples.rss[0]
    assert growth < 8 * MiB, f"RSS grew {growth / MiB:.1f} MiB"
    registry = make_registry(AvmmCollector(ran.host), process=False)
    merged = _sample(registry, "avmm_vcpu_remote_fences_merged_total", vm="vm", vcpu="1")
    assert merged == target.remote_fences_merged


@pytest.mark.slow
async def test_an_htif_request_flood_logs_a_bounded_number_of_lines(
    hostile: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Item 4: every request differs, and the message used to be the rate-limit
    # key, so each logged a line and kept a window for ever.
    config = vm_config(
        {
            "memory": "16MiB",
            "boot": {"mode": "firmware", "firmware": str(hostile / "htif-flood.elf")},
        }
    )
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        ran = await run_for(config, 400_000)
    vm = ran.board.vm
    assert vm is not None
    errors = vm.statistics().guest_errors
    assert errors > 50_000  # one per request: all counted
    lines = [r for r in caplog.records if "htif: unsupported request" in r.getMessage()]
    assert 1 <= len(lines) <= 5  # one key, one burst


def test_a_guest_error_log_keeps_a_bounded_table_of_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The structural half of item 4: even a caller that passed guest values as
    # keys gets a bounded table and log.
    log = GuestErrorLog("dev", burst=2)
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        for i in range(20_000):
            log(f"key {i}", f"mistake {i}")
    assert log.count == 20_000
    assert len(caplog.records) <= (MAX_ERROR_KEYS + 1) * 2


@pytest.mark.slow
async def test_console_input_nobody_reads_is_bounded_and_counted(hostile: Path) -> None:
    # Item 5: the guest reads one byte through SBI legacy getchar, then never
    # again; a TCP peer sends 4 MiB. Only MAX_CONSOLE_INPUT bytes wait.
    tcp = TcpChar()
    await tcp.start()
    config = vm_config(
        {"memory": "16MiB", "boot": {"mode": "direct", "kernel": str(hostile / "getchar.elf")}}
    )
    sent = 0
    writer: asyncio.StreamWriter | None = None

    async def peer() -> None:
        nonlocal sent, writer
        _reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
        chunk = b"y" * 65536
        for _ in range(64):
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)

    task = asyncio.ensure_future(peer())
    ran = await run_for(config, 1_000_000, backend=tcp, until=task.done)
    await task
    assert writer is not None
    writer.close()
    vm = ran.board.vm
    assert vm is not None
    stats = vm.statistics()
    assert sent == 4 * MiB
    assert stats.console_rx_bytes == 0  # the one getchar came before any input
    assert stats.console_rx_dropped > 0
    assert tcp.stats.in_bytes - stats.console_rx_dropped <= MAX_CONSOLE_INPUT
