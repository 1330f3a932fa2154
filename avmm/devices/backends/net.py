"""Network backends for virtio-net: an in-process learning switch, a UDP link to a VM
in another avmm process, and a null sink.

The switch connects the NICs of VMs in one avmm process. It learns which port
each source MAC address lives behind and forwards unicast frames there;
broadcast, multicast and unknown destinations are flooded to every other port.
Delivery is synchronous: ``send`` on one port calls the receivers of the others
before it returns (the receiving NIC only copies into guest RAM).
"""

from __future__ import annotations

import asyncio
import socket
from collections import OrderedDict
from collections.abc import Callable

import attrs

from avmm.errors import DeviceError

ETH_HEADER = 14


@attrs.define
class SwitchStats:
    """Plain counters read by the metrics collector."""

    frames: int = 0
    forwarded: int = 0  # unicast to a learned port
    flooded: int = 0
    dropped: int = 0  # runts, and frames to the port they came from


def _ignore(frame: bytes) -> None:
    pass


class SwitchPort:
    """One port of a :class:`Switch` (a :class:`~avmm.devices.base.NetPort`)."""

    def __init__(self, switch: Switch, number: int) -> None:
        self.number = number
        self._switch: Switch | None = switch
        self._receive: Callable[[bytes], None] = _ignore

    def send(self, frame: bytes) -> None:
        if self._switch is not None:
            self._switch._forward(self, bytes(frame))

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive

    def deliver(self, frame: bytes) -> None:
        self._receive(frame)

    def close(self) -> None:
        if self._switch is not None:
            self._switch._remove(self)
            self._switch = None


class Switch:
    """A learning Ethernet switch with a bounded MAC table."""

    def __init__(self, *, table_size: int = 1024) -> None:
        self.stats = SwitchStats()
        self._ports: list[SwitchPort] = []
        self._next = 0
        self._table: OrderedDict[bytes, SwitchPort] = OrderedDict()
        self._table_size = table_size

    def port(self) -> SwitchPort:
        port = SwitchPort(self, self._next)
        self._next += 1
        self._ports.append(port)
        return port

    @property
    def ports(self) -> tuple[SwitchPort, ...]:
        return tuple(self._ports)

    def lookup(self, mac: bytes) -> SwitchPort | None:
        """The port ``mac`` was last seen on, if any."""
        return self._table.get(bytes(mac))

    def _forward(self, source: SwitchPort, frame: bytes) -> None:
        self.stats.frames += 1
        if len(frame) < ETH_HEADER:
            self.stats.dropped += 1
            return
        dst, src = frame[0:6], frame[6:12]
        if not src[0] & 1:
            self._learn(src, source)
        target = None if dst[0] & 1 else self._table.get(dst)
        if target is source:
            self.stats.dropped += 1
            return
        if target is not None:
            self.stats.forwarded += 1
            target.deliver(frame)
            return
        self.stats.flooded += 1
        for port in list(self._ports):
            if port is not source:
                port.deliver(frame)

    def _learn(self, mac: bytes, port: SwitchPort) -> None:
        self._table[mac] = port
        self._table.move_to_end(mac)
        while len(self._table) > self._table_size:
            self._table.popitem(last=False)

    def _remove(self, port: SwitchPort) -> None:
        self._ports.remove(port)
        for mac in [m for m, p in self._table.items() if p is port]:
            del self._table[mac]


class NullNet:
    """A port to nowhere: frames sent are counted and dropped; nothing arrives."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, frame: bytes) -> None:
        self.sent += 1

    def attach(self, receive: Callable[[bytes], None]) -> None:
        pass

    def close(self) -> None:
        pass


@attrs.define
class LinkStats:
    """Plain counters of a :class:`UdpLink`."""

    sent: int = 0
    received: int = 0
    dropped: int = 0  # a full socket buffer or an unreachable peer
    peer_moves: int = 0  # frames arrived from a new address: the peer moved (migrated)


class UdpLink:
    """One Ethernet link to a VM in another avmm process: each frame one UDP datagram.

    The link binds ``listen`` and sends to ``peer``; a datagram that arrives from
    another address makes that address the peer (the other VM moved, e.g. by a
    live migration to a process listening elsewhere). Frames are lost when
    nobody listens, as on a cable without a partner. Anything that can send to
    the listening address can talk to the guest: keep it on 127.0.0.1 (the
    default) unless the network between the hosts is trusted.
    """

    MAX_FRAME = 65535

    def __init__(self, listen: tuple[str, int], peer: tuple[str, int]) -> None:
        self.stats = LinkStats()
        self.peer = peer
        self._receive: Callable[[bytes], None] = _ignore
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            self._sock.bind(listen)
        except OSError as err:
            self._sock.close()
            raise DeviceError(
                f"cannot listen for the link on {listen[0]}:{listen[1]}: {err.strerror}"
            ) from None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def send(self, frame: bytes) -> None:
        if self._closed:
            return
        try:
            self._sock.sendto(frame, self.peer)
            self.stats.sent += 1
        except OSError:  # a full buffer, nobody at the peer's address (ICMP), ...
            self.stats.dropped += 1

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive

    def _readable(self) -> None:
        for _ in range(64):  # a bounded batch: the loop's other work goes on
            try:
                frame, source = self._sock.recvfrom(self.MAX_FRAME)
            except BlockingIOError:
                return
            except OSError:  # e.g. ECONNREFUSED reported for an earlier send
                self.stats.dropped += 1
                continue
            peer = (source[0], source[1])
            if peer != self.peer:
                self.peer = peer
                self.stats.peer_moves += 1
            self.stats.received += 1
            self._receive(frame)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
