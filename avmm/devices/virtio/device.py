"""What a virtio device type is, and what it may ask of its transport.

A device type is thin: its id, feature bits, config space, queue sizes and
what to do when a queue is notified. Ring handling, feature negotiation,
interrupts and error containment live once, in the transport.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ..base import GuestRam
from .queue import Chain, Virtqueue

# Device status bits (virtio 1.x section 2.1).
STATUS_ACKNOWLEDGE = 1
STATUS_DRIVER = 2
STATUS_DRIVER_OK = 4
STATUS_FEATURES_OK = 8
STATUS_NEEDS_RESET = 0x40
STATUS_FAILED = 0x80

# Transport-level feature bits the transport offers for every device.
F_INDIRECT_DESC = 28
F_EVENT_IDX = 29
F_VERSION_1 = 32


class VirtioTransport(Protocol):
    """The services a device type uses; implemented by the MMIO transport."""

    @property
    def memory(self) -> GuestRam: ...

    @property
    def driver_ok(self) -> bool:
        """The driver set DRIVER_OK and the device has not been reset since."""

    def has_feature(self, bit: int) -> bool:
        """Whether feature ``bit`` was negotiated."""

    def queue(self, index: int) -> Virtqueue: ...

    def pop(self, index: int) -> Chain | None:
        """Next available chain of queue ``index``; None when empty or broken.

        A malformed ring fails the queue (DEVICE_NEEDS_RESET) and returns None.
        """

    def push(self, index: int, chain: Chain, written: int) -> None:
        """Return a finished chain to the driver (interrupt as the driver asked)."""

    def fail(self, index: int | None, problem: str) -> None:
        """The driver broke the protocol: log, set DEVICE_NEEDS_RESET, stop the queue."""

    def config_changed(self) -> None:
        """Bump the config generation and raise a config-change interrupt."""


class VirtioDevice:
    """Base of the virtio device types (blk, console, rng, net)."""

    device_id: ClassVar[int]
    name: str
    queue_sizes: tuple[int, ...]

    def __init__(self, name: str, queue_sizes: tuple[int, ...]) -> None:
        self.name = name
        self.queue_sizes = queue_sizes
        self._transport: VirtioTransport | None = None

    @property
    def transport(self) -> VirtioTransport:
        if self._transport is None:
            raise RuntimeError(f"{self.name} is not attached to a transport")
        return self._transport

    def attach(self, transport: VirtioTransport) -> None:
        """Called once by the transport that carries this device."""
        self._transport = transport

    def device_features(self) -> int:
        """Device-type feature bits offered (the transport adds its own)."""
        return 0

    def config(self) -> bytes:
        """The device-specific config space, as the driver reads it."""
        return b""

    def write_config(self, offset: int, data: bytes) -> bool:
        """Apply a driver write to config space; False if that field is read-only."""
        return False

    def activate(self) -> None:
        """The driver set DRIVER_OK: queues are set up and may be used."""

    def notify(self, queue: int) -> None:
        """The driver notified ``queue`` (it added buffers)."""

    def reset(self) -> None:
        """The driver reset the device: drop in-flight work and queued data."""

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


class DuplexDevice(VirtioDevice):
    """A device with a receive queue (0) and a transmit queue (1): console, net.

    A notify of the transmit queue sends what the driver queued; any other
    notify, or the driver becoming ready, delivers host input that waits."""

    RX: ClassVar[int] = 0
    TX: ClassVar[int] = 1

    def notify(self, queue: int) -> None:
        if queue == self.TX:
            self._transmit()
        else:
            self._deliver()

    def activate(self) -> None:
        self._deliver()

    def _transmit(self) -> None:
        raise NotImplementedError

    def _deliver(self) -> None:
        raise NotImplementedError
