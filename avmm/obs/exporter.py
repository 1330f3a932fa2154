"""Prometheus metrics of a running avmm: a custom collector and its HTTP exporter.

    exporter = start_exporter(host, listen="127.0.0.1", port=0)
    print(f"metrics: {exporter.url}")
    ...
    exporter.close()

Counting costs the hot path nothing beyond plain integers: the core keeps its
counters in C, the runtime and the device models in ``int`` fields. Labels,
names and samples only exist when Prometheus scrapes, built by
:class:`AvmmCollector` from a :class:`Snapshot` of those integers.

Threads. The HTTP server answers scrapes on its own threads while the vCPUs
run on the event loop's thread, and ``Hart.run`` releases the GIL for a
whole slice, during which the C counters change under any other thread's
feet (``_core.pyi``: a Machine is used from one thread). So a scrape does
not read them itself: it asks the loop (``call_soon_threadsafe``) to take
the snapshot and waits for it. The loop runs that callback between two
slices (every slice passes through the event loop), where it is the only
thread touching the runtime: the snapshot is consistent as of one slice
boundary and needs no lock anywhere. It copies plain data (``statistics()``
records, ``int`` fields of the device stats); the exporter thread then
builds the metric families from that copy while the guest runs on. When
the loop is not running, nothing steps a hart and the scrape reads
directly; when the loop does not answer within ``timeout`` (something
blocks it), the previous snapshot is served and counted as stale.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from avmm.devices.backends.listen import (
    METRICS_IDLE_SECONDS,
    METRICS_MAX_CONNECTIONS,
    ConnectionGate,
    gates,
    keepalive,
)
from avmm.errors import ConfigError
from avmm.obs.families import (
    BY_NAME,
    METRICS,
    PROCESS_METRICS,
    DeviceReading,
    ListenerReading,
    MetricInfo,
    Snapshot,
    VmExtras,
    families,
    new_family,
    sbi_extension_name,
)

if TYPE_CHECKING:
    from avmm.config import MetricsConfig
    from avmm.runtime.host import Host

DEFAULT_LISTEN = "127.0.0.1"
DEFAULT_PORT = 9464


__all__ = [
    "BY_NAME",
    "DEFAULT_LISTEN",
    "DEFAULT_PORT",
    "METRICS",
    "PROCESS_METRICS",
    "AvmmCollector",
    "DeviceProvider",
    "DeviceReading",
    "DeviceStats",
    "Exporter",
    "MetricInfo",
    "Snapshot",
    "VmExtras",
    "bus_devices",
    "exporter_from_config",
    "families",
    "make_registry",
    "sbi_extension_name",
    "start_exporter",
    "take_snapshot",
]


# ---------------------------------------------------------------- snapshots


@attrs.frozen
class DeviceStats:
    """One device model's counters, as a provider hands them to the exporter.

    ``stats`` is the model's plain-int stats record (``UartStats``,
    ``BlkStats``, ``VirtioMmioStats``, ...); its type's ``METRICS`` says which
    families its fields feed. A virtio device gives two: its transport's and
    its own.
    """

    vm: str
    device: str
    stats: object


DeviceProvider = Callable[[], Iterable[DeviceStats]]


def bus_devices(host: Host) -> Iterator[DeviceStats]:
    """The default provider: every device model on every VM's MMIO bus (and the
    device behind a virtio-mmio transport) that keeps a ``stats`` record."""
    for vm in host.vms.values():
        for _base, device, name in vm.bus.devices:
            stats = getattr(device, "stats", None)
            if stats is not None:
                yield DeviceStats(vm.name, name, stats)
            inner = getattr(getattr(device, "device", None), "stats", None)
            if inner is not None:
                yield DeviceStats(vm.name, name, inner)


def _int_fields(stats: object) -> dict[str, int]:
    if attrs.has(type(stats)):
        items: Iterable[tuple[str, Any]] = attrs.asdict(cast(Any, stats), recurse=False).items()
    else:
        items = vars(stats).items()
    return {k: v for k, v in items if type(v) is int}


def take_snapshot(host: Host, devices: DeviceProvider | None = None) -> Snapshot:
    """Copy every counter of ``host`` (call where no slice runs: the loop thread)."""
    t0 = time.perf_counter()
    stats = host.statistics()
    vms = []
    for vm in host.vms.values():
        dirty = 0
        for slot in vm.memory_slots:
            if slot.dirty_logging:
                dirty += int.from_bytes(slot.get_dirty_log(clear=False), "little").bit_count()
        vms.append(
            VmExtras(
                name=vm.name,
                memory_bytes=sum(s.size for s in vm.memory_slots),
                dirty_pages=dirty,
                timebase_hz=vm.machine.timebase_hz,
                halted=tuple(v.halted for v in vm.vcpus),
            )
        )
    provider = devices if devices is not None else (lambda: bus_devices(host))
    readings = tuple(
        DeviceReading(d.vm, d.device, _int_fields(d.stats), getattr(type(d.stats), "METRICS", {}))
        for d in provider()
    )
    listeners = tuple(
        ListenerReading(
            g.name, g.stats.active, g.stats.accepted, g.stats.refused, g.stats.idle_closed
        )
        for g in gates()
    )
    return Snapshot(stats, tuple(vms), readings, time.perf_counter() - t0, listeners)


# ---------------------------------------------------------------- collector


class AvmmCollector(Collector):
    """Reads a :class:`~avmm.runtime.host.Host`'s counters when Prometheus scrapes.

    ``loop`` is the event loop the host's vCPUs run on: snapshots are taken
    there (see the module's docstring). None: taken on the calling thread,
    which must be that loop's own thread or one of a host with no vCPU in
    ``run()`` (otherwise the scrape fails rather than read a running core).
    """

    def __init__(
        self,
        host: Host,
        *,
        devices: DeviceProvider | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.devices = devices
        self.loop = loop
        self.timeout = timeout
        self.scrapes = 0
        self.stale_scrapes = 0
        self._count = threading.Lock()  # scrapes may run on several server threads
        self._last: Snapshot | None = None

    @property
    def last(self) -> Snapshot | None:
        """The snapshot the latest scrape reported."""
        return self._last

    def describe(self) -> Iterator[Metric]:
        # Names only, so registering never takes a snapshot.
        for info in METRICS:
            yield new_family(info)

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        with self._count:
            self.scrapes += 1
            scrapes, stale = self.scrapes, self.stale_scrapes
        return families(snap, scrapes=scrapes, stale_scrapes=stale)

    def snapshot(self) -> Snapshot:
        """A snapshot taken where it is safe (the loop thread, or here when idle)."""
        loop = self.loop
        if loop is None:
            if not _in_a_loop() and _running_vcpus(self.host):
                raise RuntimeError(
                    "vCPUs are running on an event loop this collector does not know: "
                    "give it that loop (start_exporter() from the loop does)"
                )
            snap = take_snapshot(self.host, self.devices)
        elif loop.is_closed() or not loop.is_running() or _on_loop(loop):
            snap = take_snapshot(self.host, self.devices)
        else:
            fut: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()
            loop.call_soon_threadsafe(self._fill, fut)
            try:
                snap = fut.result(self.timeout)
            except concurrent.futures.TimeoutError:
                fut.cancel()
                if self._last is None:
                    raise
                with self._count:
                    self.stale_scrapes += 1
                return self._last
        self._last = snap
        return snap

    def _fill(self, fut: concurrent.futures.Future[Snapshot]) -> None:
        if not fut.set_running_or_notify_cancel():
            return  # the scrape gave up waiting
        try:
            fut.set_result(take_snapshot(self.host, self.devices))
        except BaseException as err:
            fut.set_exception(err)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _in_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _running_vcpus(host: Host) -> bool:
    return any(v.in_run for vm in host.vms.values() for v in vm.vcpus)


# ---------------------------------------------------------------- exporter


class Exporter:
    """A running metrics endpoint; :attr:`url` says where, :meth:`close` stops it."""

    def __init__(
        self,
        server: Any,
        thread: threading.Thread,
        registry: CollectorRegistry,
        collector: AvmmCollector,
    ) -> None:
        self._server = server
        self._thread = thread
        self.registry = registry
        self.collector = collector
        self.closed = False

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when 0 was asked for."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._server.gate.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_registry(collector: AvmmCollector, *, process: bool = True) -> CollectorRegistry:
    """A registry of its own (not the global one) with ``collector`` and the process
    metrics (CPU seconds, memory, file descriptors of this process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if process:
        ProcessCollector(registry=registry)
    return registry


def start_exporter(
    host: Host,
    *,
    listen: str = DEFAULT_LISTEN,
    port: int = DEFAULT_PORT,
    devices: DeviceProvider | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    timeout: float = 2.0,
    max_connections: int = METRICS_MAX_CONNECTIONS,
    idle_timeout: float = METRICS_IDLE_SECONDS,
) -> Exporter:
    """Serve ``host``'s metrics over HTTP at ``listen``:``port`` (0 = a free port).

    Call it from the event loop the host runs on (or pass that ``loop``).
    ``devices`` provides the device models' counters; by default every VM's
    MMIO bus is walked (:func:`bus_devices`). At most ``max_connections``
    peers are served at once, each for at most ``idle_timeout`` seconds.
    """
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
    collector = AvmmCollector(host, devices=devices, loop=loop, timeout=timeout)
    registry = make_registry(collector)
    gate = ConnectionGate("metrics", max_connections=max_connections, idle_timeout=idle_timeout)
    try:
        server, thread = _serve(listen, port, registry, gate)
    except OSError as err:
        raise ConfigError(
            "metrics.port", f"cannot listen on {listen}:{port}: {err.strerror or err}"
        ) from err
    return Exporter(server, thread, registry, collector)


class _Handler(WSGIRequestHandler):
    """One scrape; silent (no access log on stderr); a peer that stalls past the
    socket timeout is dropped and counted, not reported as a server error."""

    server: _GatedServer

    def setup(self) -> None:  # the socket timeout: the class's ``timeout``, set per server
        super().setup()
        keepalive(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except TimeoutError:
            self.server.cut(self.request)
        except ConnectionError:
            pass  # the peer left, or the deadline shut the socket

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _GatedServer(ThreadingMixIn, WSGIServer):
    """prometheus_client's threading WSGI server with the listener limits: at
    most ``gate.max_connections`` peers at once (more are closed at once, and
    counted), and each must finish its request within ``gate.idle_timeout``
    (a slowloris that drips a byte at a time is cut at the deadline by the
    serving loop's ``service_actions``, so it cannot hold a thread)."""

    daemon_threads = True
    gate: ConnectionGate

    def server_activate(self) -> None:
        super().server_activate()
        self._started: dict[socket.socket, float] = {}
        self._lock = threading.Lock()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.gate.enter()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._started[request] = time.monotonic()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._started.pop(request, None)
            self.gate.leave()

    def service_actions(self) -> None:
        deadline = self.gate.idle_timeout
        if deadline is None:
            return
        now = time.monotonic()
        with self._lock:
            late = [s for s, t0 in self._started.items() if now - t0 > deadline]
        for sock in late:
            if self.cut(sock):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self, sock: socket.socket) -> bool:
        """Count a peer cut for its deadline, once (False: already cut or done)."""
        with self._lock:
            if self._started.pop(sock, None) is None:
                return False
        self.gate.timed_out()
        return True


def _serve(
    listen: str, port: int, registry: CollectorRegistry, gate: ConnectionGate
) -> tuple[_GatedServer, threading.Thread]:
    """The metrics endpoint on its own thread (scrapes are served while the loop
    runs guest code; each scrape has a thread of its own, up to the limit)."""
    family, _, _, _, sockaddr = socket.getaddrinfo(
        listen, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]

    class Server(_GatedServer):
        address_family = family

    class Handler(_Handler):
        timeout = gate.idle_timeout

    Server.gate = gate
    httpd = make_server(str(sockaddr[0]), port, make_wsgi_app(registry), Server, Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="avmm-metrics", daemon=True)
    thread.start()
    return httpd, thread


def exporter_from_config(
    host: Host, config: MetricsConfig, *, devices: DeviceProvider | None = None
) -> Exporter | None:
    """The exporter a config file's ``[metrics]`` table asks for, or None when off."""
    if not config.enabled:
        return None
    return start_exporter(host, listen=config.listen, port=config.port, devices=devices)
