"""Listeners bound their peers (issue 15, item 9; README "Limits and guarantees").

Half-open HTTP requests (a slowloris) used to hold one thread each on the
metrics endpoint, for ever; a TCP console and the gdb stub take one peer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request

import pytest

from avmm.devices.backends.char import TcpChar
from avmm.obs.exporter import start_exporter
from avmm.runtime.host import Host
from tests.harden.proc import GUARD

LIMIT = 4
IDLE = 1.0


def _closed_by_peer(sock: socket.socket) -> bool:
    """Wait (at most GUARD) for the server to close ``sock``."""
    sock.settimeout(GUARD)
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=GUARD) as reply:
        assert reply.status == 200
        return str(reply.read().decode())


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    raise AssertionError(f"no {series}")


async def test_a_slowloris_on_the_metrics_endpoint_is_cut_and_bounded() -> None:
    async with Host() as host:
        before = threading.active_count()
        with start_exporter(host, port=0, max_connections=LIMIT, idle_timeout=IDLE) as exporter:
            addr = exporter.address
            peers = []
            for _ in range(20):
                sock = socket.create_connection(addr)
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never the blank line
                peers.append(sock)
            await asyncio.sleep(0.2)
            # One thread per admitted peer at most, plus the server's own.
            assert threading.active_count() <= before + LIMIT + 1
            closed = await asyncio.to_thread(lambda: [_closed_by_peer(s) for s in peers])
            for sock in peers:
                sock.close()
            assert all(closed)
            text = await asyncio.to_thread(_scrape, exporter.url)
    refused = _value(text, 'avmm_listener_refused_total{listener="metrics"}')
    cut = _value(text, 'avmm_listener_idle_closed_total{listener="metrics"}')
    # Every peer was either refused at once or admitted (as slots freed) and cut.
    assert refused >= 1
    assert cut >= LIMIT
    assert refused + cut == 20
    assert _value(text, 'avmm_listener_connections{listener="metrics"}') == 1  # this scrape


async def test_a_byte_drip_cannot_hold_a_scrape_thread_past_the_deadline() -> None:
    # Each byte resets a per-read timeout; the request as a whole has a deadline.
    async with Host() as host:
        with start_exporter(host, port=0, max_connections=LIMIT, idle_timeout=IDLE) as exporter:
            sock = socket.create_connection(exporter.address)
            start = time.monotonic()
            cut = False
            for byte in b"GET /metrics HTTP/1.1\r\nHost: slowloris.example\r\n":
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    cut = True
                    break
                await asyncio.sleep(IDLE / 4)
                if time.monotonic() - start > GUARD:
                    break
            if not cut:
                cut = await asyncio.to_thread(_closed_by_peer, sock)
            sock.close()
    assert cut


async def test_a_tcp_console_takes_one_peer_and_drops_a_silent_one() -> None:
    console = TcpChar(name="console:t", idle_timeout=IDLE)
    await console.start()
    try:
        first_r, first_w = await asyncio.open_connection("127.0.0.1", console.port)
        await asyncio.sleep(0.05)
        second_r, second_w = await asyncio.open_connection("127.0.0.1", console.port)
        refusal = await asyncio.wait_for(second_r.read(), GUARD)
        assert refusal == b"avmm: this console already has a client\r\n"
        second_w.close()
        # The first peer says nothing, and the guest prints nothing: dropped.
        assert await asyncio.wait_for(first_r.read(), GUARD) == b""
        first_w.close()
        assert console.gate.stats.refused == 1
        assert console.gate.stats.idle_closed == 1
        assert console.gate.stats.active == 0
    finally:
        console.close()


@pytest.mark.parametrize("activity", ["input", "output"])
async def test_a_tcp_console_peer_that_shows_life_stays(activity: str) -> None:
    idle = 2.0  # life every 0.1 s: a loaded machine would have to stall 20 times longer
    console = TcpChar(name="console:t", idle_timeout=idle)
    await console.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
        for _ in range(50):  # 2.5 idle timeouts
            await asyncio.sleep(0.1)
            if activity == "input":
                writer.write(b"k")
            else:
                console.write(b"o")
        assert console.connected
        assert console.gate.stats.idle_closed == 0
        writer.close()
    finally:
        console.close()
