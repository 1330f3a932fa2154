"""A console sink that keeps what the guest printed (and can pass it on).

Console output reaches a VM's :class:`~avmm.devices.base.CharBackend` from
HTIF, SBI DBCN / legacy putchar and the UART model. :class:`CaptureConsole`
is the default: it records the bytes (tests, summaries, reproducibility
checks) and forwards them to another backend when given one.
"""

from __future__ import annotations

from collections.abc import Callable

from avmm.constants import MAX_CONSOLE_INPUT
from avmm.devices.base import CharBackend


class CaptureConsole:
    """A CharBackend that records output; ``feed`` plays host input."""

    def __init__(self, forward: CharBackend | None = None, *, limit: int = 16 << 20) -> None:
        self._buf = bytearray()
        self._forward = forward
        self._receive: Callable[[bytes], None] | None = None
        self._limit = limit
        self.dropped = 0  # bytes not kept once ``limit`` was reached

    def write(self, data: bytes) -> None:
        room = self._limit - len(self._buf)
        if room >= len(data):
            self._buf += data
        else:
            self._buf += data[: max(room, 0)]
            self.dropped += len(data) - max(room, 0)
        if self._forward is not None:
            self._forward.write(data)

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive
        if self._forward is not None:
            self._forward.attach(receive)

    def feed(self, data: bytes) -> None:
        """Deliver ``data`` as if typed on the host."""
        if self._receive is not None:
            self._receive(data)

    def close(self) -> None:
        if self._forward is not None:
            self._forward.close()

    @property
    def host_stats(self) -> object:
        """The forwarded-to backend's counters (``CharStats``), None without one."""
        forward = self._forward
        if forward is None:
            return None
        if hasattr(forward, "host_stats"):
            return forward.host_stats
        return getattr(forward, "stats", None)

    @property
    def output(self) -> bytes:
        return bytes(self._buf)

    def text(self) -> str:
        return self._buf.decode(errors="replace")


class VmmConsole:
    """The console the VMM itself serves a guest through (SBI DBCN and legacy
    putchar/getchar, HTIF): writes go to the VM's backend, host input waits in
    a buffer until the guest reads it; bytes both ways are counted.

    The input buffer holds at most ``limit`` bytes (MAX_CONSOLE_INPUT): a guest
    that asked once and never reads again, or a peer that pastes without end,
    costs no more; what does not fit is dropped and counted, as a UART's full
    FIFO overruns."""

    def __init__(self, backend: CharBackend, *, limit: int = MAX_CONSOLE_INPUT) -> None:
        self.backend = backend
        self._input = bytearray()
        self._limit = limit
        self._attached = False
        self.tx_bytes = 0  # written by the guest
        self.rx_bytes = 0  # read by the guest
        self.rx_dropped = 0  # host input that found the buffer full

    def write(self, data: bytes) -> None:
        self.tx_bytes += len(data)
        self.backend.write(data)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of host input."""
        if not self._attached:
            # Attached on first use: with a UART console, the UART model owns input.
            self.backend.attach(self._receive)
            self._attached = True
        data = bytes(self._input[:n])
        del self._input[:n]
        self.rx_bytes += len(data)
        return data

    def _receive(self, data: bytes) -> None:
        room = self._limit - len(self._input)
        if room < len(data):
            self.rx_dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self._input += data
