"""Limits every avmm listener applies to its peers: how many at once, how long idle.

A listener (the metrics HTTP server, a TCP console, the gdb stub, and any
later one such as a control API) takes a :class:`ConnectionGate`: ``enter()``
before serving a peer (False: refuse it, counted), ``leave()`` when done. The
gate also holds the idle timeout the listener applies to a peer that sends
nothing: a thread-per-connection server sets it as the socket timeout
(:func:`bound_socket`), an asyncio one re-arms an :class:`IdleTimer` at each
byte. Every live gate is listed by :func:`gates`, so the metrics exporter
reports them all without knowing who owns them.

This module sits under ``avmm/devices/backends`` because the TCP console
lives there and may import nothing from above; the exporter and the gdb stub,
higher up, import it from here.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import weakref
from collections.abc import Callable

import attrs

# Defaults (README "Limits and guarantees").
METRICS_MAX_CONNECTIONS = 8  # concurrent scrapes; Prometheus sends one at a time
METRICS_IDLE_SECONDS = 10.0  # a request must arrive (and each read progress) within this
INTERACTIVE_MAX_CONNECTIONS = 1  # a console or a gdb stub serves one peer at a time
INTERACTIVE_IDLE_SECONDS = 3600.0  # a console or gdb peer silent both ways this long is closed
KEEPALIVE_IDLE = 60  # TCP keepalive: a dead peer (cable, crash) is found in ~2 minutes
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 6


@attrs.define
class GateStats:
    """Plain counters of one listener, read by the metrics exporter."""

    active: int = 0
    accepted: int = 0
    refused: int = 0  # past the connection limit
    idle_closed: int = 0  # closed for sending nothing within the idle timeout


class ConnectionGate:
    """One listener's connection limit and idle timeout (thread-safe)."""

    def __init__(self, name: str, *, max_connections: int, idle_timeout: float | None) -> None:
        if max_connections < 1:
            raise ValueError(f"{name}: max_connections must be at least 1")
        self.name = name
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.stats = GateStats()
        self._lock = threading.Lock()
        _GATES.add(self)

    def enter(self) -> bool:
        """Admit one more peer (True) or refuse it past the limit (False, counted)."""
        with self._lock:
            if self.stats.active >= self.max_connections:
                self.stats.refused += 1
                return False
            self.stats.active += 1
            self.stats.accepted += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.stats.active = max(0, self.stats.active - 1)

    def timed_out(self) -> None:
        with self._lock:
            self.stats.idle_closed += 1

    def close(self) -> None:
        """The listener closed: no longer listed by :func:`gates`."""
        _GATES.discard(self)


_GATES: weakref.WeakSet[ConnectionGate] = weakref.WeakSet()


def gates() -> list[ConnectionGate]:
    """Every live gate, by name."""
    return sorted(_GATES, key=lambda g: g.name)


def keepalive(sock: socket.socket) -> None:
    """TCP keepalive on an accepted socket, so a peer that vanished (no FIN, no
    RST: a crash, a pulled cable) is found and its connection freed."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)
    except OSError:
        pass  # not TCP (a Unix socket): nothing to probe


def bound_socket(sock: socket.socket, gate: ConnectionGate) -> None:
    """A blocking (thread-served) peer: keepalive, and the idle timeout as the
    socket's timeout, so a half-sent request cannot hold its thread."""
    keepalive(sock)
    sock.settimeout(gate.idle_timeout)


class IdleTimer:
    """Closes an asyncio peer that stays silent for the gate's idle timeout.

    The owner calls :meth:`touch` whenever the peer shows life (bytes either
    way) and :meth:`cancel` when the connection ends.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, gate: ConnectionGate, close: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._gate = gate
        self._close = close
        self._handle: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self.touch()

    def touch(self) -> None:
        timeout = self._gate.idle_timeout
        if timeout is None:
            return
        self._deadline = self._loop.time() + timeout
        if self._handle is None:
            self._handle = self._loop.call_at(self._deadline, self._check)

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        if now < self._deadline:  # touched meanwhile: wait for the new deadline
            self._handle = self._loop.call_at(self._deadline, self._check)
            return
        self._gate.timed_out()
        self._close()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
