"""virtio-net (device id 1): one rx/tx queue pair over a :class:`NetPort`.

Offers VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS (link always up), no
offloads, so frames travel whole and checksummed. Every buffer starts with a
``virtio_net_hdr_v1`` (12 bytes, num_buffers = 1) when VERSION_1 is
negotiated, the 10-byte legacy header otherwise. Frames arriving with no
receive buffer wait in a short backlog; a frame that does not fit the
driver's buffer, or finds the backlog full, is dropped and counted, as a NIC
would.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any, ClassVar

import attrs

from avmm.errors import DeviceError

from ..base import GuestErrors, Metric, NetPort
from .device import F_VERSION_1, DuplexDevice

DEVICE_ID = 1
RX = DuplexDevice.RX
TX = DuplexDevice.TX

F_MAC = 5
F_MRG_RXBUF = 15
F_STATUS = 16
S_LINK_UP = 1

HDR_V1 = 12
HDR_LEGACY = 10
MAX_FRAME = 1514 + 4  # Ethernet with one VLAN tag, no FCS; no GSO offered
MIN_FRAME = 14


@attrs.define
class NetStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "rx_bytes": (("avmm_virtio_bytes_total", ("in",)),),
        "tx_bytes": (("avmm_virtio_bytes_total", ("out",)),),
        "rx_packets": (("avmm_virtio_net_packets_total", ("in",)),),
        "tx_packets": (("avmm_virtio_net_packets_total", ("out",)),),
        "rx_dropped": (("avmm_virtio_net_dropped_packets_total", ("in",)),),
        "tx_dropped": (("avmm_virtio_net_dropped_packets_total", ("out",)),),
    }
    tx_packets: int = 0
    tx_bytes: int = 0
    tx_dropped: int = 0
    rx_packets: int = 0
    rx_bytes: int = 0
    rx_dropped: int = 0
    guest_errors: int = 0


class VirtioNet(DuplexDevice):
    """A NIC with a fixed MAC address."""

    device_id = DEVICE_ID

    def __init__(
        self,
        port: NetPort,
        *,
        mac: bytes,
        name: str = "virtio-net",
        queue_size: int = 256,
        rx_backlog: int = 256,
    ) -> None:
        if len(mac) != 6:
            raise DeviceError(f"{name}: a MAC address has 6 bytes, not {len(mac)}")
        if mac[0] & 1:
            raise DeviceError(f"{name}: {mac.hex(':')} is a multicast address")
        super().__init__(name, (queue_size, queue_size))
        self.mac = bytes(mac)
        self.stats = NetStats()
        self._port = port
        self._guest_error = GuestErrors(name, self.stats)
        self._backlog: deque[bytes] = deque()
        self._backlog_limit = rx_backlog
        port.attach(self.receive)

    def device_features(self) -> int:
        return (1 << F_MAC) | (1 << F_STATUS)

    def config(self) -> bytes:
        # mac[6], status, max_virtqueue_pairs (read only with MQ, which is not offered)
        return self.mac + struct.pack("<HH", S_LINK_UP, 1)

    def _header_len(self) -> int:
        t = self.transport
        return HDR_V1 if t.has_feature(F_VERSION_1) or t.has_feature(F_MRG_RXBUF) else HDR_LEGACY

    def reset(self) -> None:
        self._backlog.clear()

    # ------------------------------------------------------------------ guest -> port

    def _transmit(self) -> None:
        transport = self.transport
        hdr = self._header_len()
        while (chain := transport.pop(TX)) is not None:
            total = chain.readable_len
            if total < hdr + MIN_FRAME or total > hdr + MAX_FRAME:
                self.stats.tx_dropped += 1
                self._guest_error("tx-size", f"transmit buffer of {total} bytes dropped")
            else:
                frame = chain.read(transport.memory, hdr)
                self.stats.tx_packets += 1
                self.stats.tx_bytes += len(frame)
                self._port.send(frame)
            transport.push(TX, chain, 0)

    # ------------------------------------------------------------------ port -> guest

    def receive(self, frame: bytes) -> None:
        """A frame from the port for this guest."""
        transport = self._transport
        if transport is None or not transport.driver_ok or len(frame) > MAX_FRAME:
            self.stats.rx_dropped += 1
            return
        if len(self._backlog) >= self._backlog_limit:
            self.stats.rx_dropped += 1
            return
        self._backlog.append(bytes(frame))
        self._deliver()

    def _deliver(self) -> None:
        transport = self._transport
        if transport is None or not transport.driver_ok:
            return
        hdr = self._header_len()
        header = bytearray(hdr)
        if hdr == HDR_V1:
            struct.pack_into("<H", header, 10, 1)  # num_buffers
        while self._backlog:
            chain = transport.pop(RX)
            if chain is None:
                return
            frame = self._backlog.popleft()
            if chain.writable_len < hdr + len(frame):
                # The buffer stays with the driver for a frame that fits.
                transport.queue(RX).unpop()
                self.stats.rx_dropped += 1
                continue
            n = chain.write(transport.memory, bytes(header) + frame)
            self.stats.rx_packets += 1
            self.stats.rx_bytes += len(frame)
            transport.push(RX, chain, n)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        return {"backlog": list(self._backlog)}

    def restore(self, state: dict[str, Any]) -> None:
        self._backlog = deque(bytes(f) for f in state["backlog"])
