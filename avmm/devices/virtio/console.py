"""virtio-console (device id 3): a single port (no MULTIPORT), Linux's hvc console.

Queue 0 (receiveq) carries host input to the guest, queue 1 (transmitq) guest
output to the backend. Host input that finds no receive buffer waits in a
bounded backlog until the driver adds buffers; beyond that it is dropped and
counted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ..base import CharBackend, GuestErrors, Metric
from .device import DuplexDevice

DEVICE_ID = 3
RX = DuplexDevice.RX
TX = DuplexDevice.TX
CONFIG_SIZE = 12  # cols, rows, max_nr_ports, emerg_wr (none offered)
TX_CHUNK = 64 * 1024  # bytes handed to the backend at a time
TX_MAX = 1 << 20  # per buffer: a console line is small; a 4 GiB "line" must not stall the VMM


@attrs.define
class ConsoleStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "tx_bytes": (("avmm_console_bytes_total", ("out",)), ("avmm_virtio_bytes_total", ("out",))),
        "rx_bytes": (("avmm_console_bytes_total", ("in",)), ("avmm_virtio_bytes_total", ("in",))),
        "tx_dropped": (("avmm_console_dropped_bytes_total", ("out",)),),
        "rx_dropped": (("avmm_console_dropped_bytes_total", ("in",)),),
    }
    tx_bytes: int = 0
    tx_dropped: int = 0  # output beyond TX_MAX in one buffer
    rx_bytes: int = 0
    rx_dropped: int = 0  # host input lost because the backlog was full
    guest_errors: int = 0


class VirtioConsole(DuplexDevice):
    """One console port over a :class:`CharBackend`."""

    device_id = DEVICE_ID

    def __init__(
        self,
        backend: CharBackend,
        *,
        name: str = "virtio-console",
        queue_size: int = 128,
        rx_backlog: int = 64 * 1024,
    ) -> None:
        super().__init__(name, (queue_size, queue_size))
        self.stats = ConsoleStats()
        self._backend = backend
        self._backlog_limit = rx_backlog
        self._pending = bytearray()
        self._guest_error = GuestErrors(name, self.stats)
        backend.attach(self.receive)

    def config(self) -> bytes:
        return bytes(CONFIG_SIZE)

    def reset(self) -> None:
        # Input typed before the driver came back is kept for it.
        pass

    def receive(self, data: bytes) -> None:
        """Host input from the backend."""
        room = self._backlog_limit - len(self._pending)
        if len(data) > room:
            self.stats.rx_dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self._pending += data
        self._deliver()

    def _deliver(self) -> None:
        transport = self._transport
        if transport is None or not transport.driver_ok:
            return
        memory = transport.memory
        while self._pending:
            chain = transport.pop(RX)
            if chain is None:
                return
            n = chain.write(memory, bytes(self._pending[: chain.writable_len]))
            del self._pending[:n]
            self.stats.rx_bytes += n
            transport.push(RX, chain, n)

    def _transmit(self) -> None:
        transport = self.transport
        memory = transport.memory
        while (chain := transport.pop(TX)) is not None:
            total = chain.readable_len
            for _, addr, n in chain.readable_pieces(0, min(total, TX_MAX), TX_CHUNK):
                self._backend.write(memory.read(addr, n))
                self.stats.tx_bytes += n
            if total > TX_MAX:
                self.stats.tx_dropped += total - TX_MAX
                self._guest_error("tx-size", f"{total}-byte output buffer cut to {TX_MAX} bytes")
            transport.push(TX, chain, 0)

    def state(self) -> dict[str, Any]:
        return {"pending": bytes(self._pending)}

    def restore(self, state: dict[str, Any]) -> None:
        self._pending = bytearray(state["pending"])
