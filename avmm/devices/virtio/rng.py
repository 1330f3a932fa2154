"""virtio-rng (device id 4): fills the driver's buffers from a host entropy source."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import ClassVar

import attrs

from ..base import Metric
from .device import VirtioDevice

DEVICE_ID = 4
MAX_REQUEST = 64 * 1024  # the spec lets the device fill less than offered


@attrs.define
class RngStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "bytes": (("avmm_virtio_bytes_total", ("in",)),),
    }
    requests: int = 0
    bytes: int = 0
    guest_errors: int = 0


class VirtioRng(VirtioDevice):
    """One request queue; each buffer gets up to 64 KiB of entropy."""

    device_id = DEVICE_ID

    def __init__(
        self,
        source: Callable[[int], bytes] = os.urandom,
        *,
        name: str = "virtio-rng",
        queue_size: int = 64,
    ) -> None:
        super().__init__(name, (queue_size,))
        self.stats = RngStats()
        self._source = source

    def notify(self, queue: int) -> None:
        transport = self.transport
        while (chain := transport.pop(0)) is not None:
            want = min(chain.writable_len, MAX_REQUEST)
            data = self._source(want)[:want]
            n = chain.write(transport.memory, data)
            self.stats.requests += 1
            self.stats.bytes += n
            transport.push(0, chain, n)
