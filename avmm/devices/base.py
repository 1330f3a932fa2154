"""The seams between device models and the rest of avmm.

Small Protocols, so a model can be driven alone in a test with simple fakes,
and a rate-limited guest-error log in the spirit of QEMU's LOG_GUEST_ERROR.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Protocol, runtime_checkable

# A stats field's metric: (Prometheus family, label values after vm and device).
Metric = tuple[str, tuple[str, ...]]


class IrqLine(Protocol):
    """An interrupt line into an interrupt controller.

    ``set_level(True)`` while the line is already high is a new assertion (a
    request), as ``qemu_set_irq`` is on QEMU; ``set_level(False)`` withdraws.
    """

    def set_level(self, level: bool) -> None: ...


class Edge:
    """A line's level, remembered: the one edge detector of device outputs
    (:class:`IrqOutput`) and the runtime's interrupt lines.

    :meth:`to` says whether a new level is a change (level lines into a hart);
    :meth:`rising` takes a level and says whether it is a rising edge (lines
    where a repeated assertion is a new request, QEMU's ``qemu_set_irq``);
    :meth:`idle` is a low that changes nothing.
    """

    def __init__(self) -> None:
        self.level = False

    def to(self, level: bool) -> bool:
        """Take ``level``; True when it differs from the last one."""
        if level == self.level:
            return False
        self.level = level
        return True

    def rising(self, level: bool) -> bool:
        """Take ``level``; True on a rising edge."""
        rising = level and not self.level
        self.level = level
        return rising

    def idle(self, level: bool) -> bool:
        """A low on a line that is already low: nothing to drive."""
        return not level and not self.level


class IrqOutput(Edge):
    """A device's interrupt output, driven the way QEMU's devices drive theirs.

    ``set(True)`` asserts the line every time it is called, also when it is
    already high: a device evaluates its interrupt condition when something
    happened (a byte sent, a buffer used), and each such assertion is a new
    request to the interrupt controller (QEMU's ``qemu_set_irq``; see the PLIC
    model's gateway). ``set(False)`` lowers the line only when it is high.
    ``set`` returns True on a rising edge, which devices count as an interrupt
    raised; ``restore`` drives the line unconditionally (after a state restore
    the line's holder may not know the level).
    """

    def __init__(self, line: IrqLine) -> None:
        super().__init__()
        self._line = line

    def set(self, level: bool) -> bool:
        if self.idle(level):
            return False
        rising = self.rising(level)
        self._line.set_level(level)
        return rising

    def restore(self, level: bool) -> None:
        self.level = level
        self._line.set_level(level)


class GuestRam(Protocol):
    """Guest-physical RAM as a device reaches it (DMA): every access bounds-checked;
    a range outside RAM raises :class:`~avmm.errors.GuestMemoryError`."""

    def contains(self, addr: int, length: int) -> bool: ...

    def read(self, addr: int, length: int) -> bytes: ...

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...

    def read_u16(self, addr: int) -> int: ...

    def write_u16(self, addr: int, value: int) -> None: ...


class TimerLine(Protocol):
    """A hart's timer comparator: interrupt pending while time >= deadline."""

    def set_deadline(self, ticks: int | None) -> None: ...


class Clock(Protocol):
    """Guest time in timebase ticks (10 MHz on the virt board)."""

    def now(self) -> int: ...


class Spawner(Protocol):
    """Runs a device's background work (disk I/O, network delivery).

    The runtime decides when the work completes relative to the guest: in the
    deterministic scheduling policy, a vCPU waits for the work it started
    before its next slice, so completions land at reproducible points.
    """

    def submit(self, work: Coroutine[Any, Any, None], *, name: str) -> None: ...


class CharBackend(Protocol):
    """Host side of a console: stdio, pty, TCP, file or null."""

    def write(self, data: bytes) -> None: ...

    def attach(self, receive: Callable[[bytes], None]) -> None:
        """Deliver host input to ``receive`` from now on."""

    def close(self) -> None: ...


class PowerControl(Protocol):
    """What a poweroff/reboot device (SiFive test, syscon) asks of the VM."""

    def poweroff(self, exit_code: int) -> None: ...

    def reboot(self) -> None: ...


class WallClock(Protocol):
    """Real-time clock source in nanoseconds since the Unix epoch.

    The runtime derives it from guest time plus a boot epoch, so runs on the
    virtual clock stay reproducible.
    """

    def now_ns(self) -> int: ...


class BlockBackend(Protocol):
    """Host side of a disk: ``size`` in bytes, I/O as coroutines (never blocking the loop)."""

    @property
    def size(self) -> int: ...

    @property
    def read_only(self) -> bool: ...

    async def read(self, offset: int, n: int) -> bytes: ...

    async def write(self, offset: int, data: bytes) -> None: ...

    async def flush(self) -> None: ...

    def close(self) -> None: ...


class NetPort(Protocol):
    """One Ethernet port of a host network backend (a switch port, a null sink)."""

    def send(self, frame: bytes) -> None:
        """Transmit one Ethernet frame (no FCS) from the guest."""

    def attach(self, receive: Callable[[bytes], None]) -> None:
        """Deliver frames for the guest to ``receive`` from now on."""

    def close(self) -> None: ...


@runtime_checkable
class MmioDevice(Protocol):
    """What the MMIO bus needs of a device model."""

    name: str
    size: int

    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


class GuestErrorLog:
    """Counts guest programming errors and logs them, rate-limited per message key.

    A guest can hammer a register it should not touch; the VMM must keep running
    and the log must stay readable. At most ``burst`` lines per key every
    ``period`` seconds are emitted; every occurrence is counted. Keys name a
    kind of mistake, never a guest-chosen value, and at most MAX_ERROR_KEYS
    windows are kept: past that, expired windows are forgotten and, if the
    table is still full, new keys share one window (a guest cannot grow the
    table or the log by varying what it does wrong).
    """

    def __init__(self, device: str, *, burst: int = 5, period: float = 10.0) -> None:
        self.device = device
        self.count = 0
        self._burst = burst
        self._period = period
        self._windows: dict[str, tuple[float, int]] = {}
        self._log = logging.getLogger("avmm.guest")

    def __call__(self, key: str, message: str) -> None:
        self.count += 1
        now = time.monotonic()
        windows = self._windows
        if key not in windows and len(windows) >= MAX_ERROR_KEYS:
            for old in [k for k, (start, _) in windows.items() if now - start >= self._period]:
                del windows[old]
            if len(windows) >= MAX_ERROR_KEYS:
                key = _OVERFLOW_KEY
        start, emitted = windows.get(key, (now, 0))
        if now - start >= self._period:
            start, emitted = now, 0
        if emitted < self._burst:
            # "DEVICE: guest error: ...": the log's prefix adds the VM's name
            # (once: a VM's own errors have the VM as their device).
            self._log.warning("%s: guest error: %s", self.device, message)
        windows[key] = (start, emitted + 1)


MAX_ERROR_KEYS = 256  # rate-limit windows one guest-error log keeps
_OVERFLOW_KEY = "\0overflow"  # the window new keys share once the table is full


class DeviceStats(Protocol):
    """A device's plain-int counters (Firecracker's per-device metrics structs).

    ``METRICS`` names the metric families each field feeds; the exporter walks
    it and knows no device types. Every record's ``interrupts`` and
    ``guest_errors`` fields, when it has them, feed the common device families.
    """

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]]
    guest_errors: int


class GuestErrors:
    """A device's guest-error reporter: counts on its stats and logs rate-limited."""

    def __init__(self, device: str, stats: DeviceStats) -> None:
        self._stats = stats
        self._log = GuestErrorLog(device)

    def __call__(self, key: str, message: str) -> None:
        self._stats.guest_errors += 1
        self._log(key, message)
