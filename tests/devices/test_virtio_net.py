"""virtio-net: two NICs on the in-process switch exchange frames through real rings."""

from __future__ import annotations

import struct

from devfakes import FakeIrq
from vdriver import F_VERSION_1, Driver, DriverQueue, Ram

from avmm.devices.backends import NullNet, Switch
from avmm.devices.virtio import VirtioMmio, VirtioNet

F_MAC, F_STATUS = 5, 16
MAC_A = bytes.fromhex("525400000001")
MAC_B = bytes.fromhex("525400000002")
BROADCAST = b"\xff" * 6


class Nic:
    def __init__(self, switch: Switch, mac: bytes, *, start: bool = True) -> None:
        self.ram, self.irq = Ram(), FakeIrq()
        self.net = VirtioNet(switch.port(), mac=mac)
        self.dev = VirtioMmio(self.net, self.ram.memory, self.irq)
        self.drv = Driver(self.dev, self.ram, self.irq)
        self.rx: DriverQueue | None = None
        self.tx: DriverQueue | None = None
        if start:
            self.start()

    def start(self, features: int | None = None) -> None:
        self.rx, self.tx = self.drv.start(features, nqueues=2)

    def send(self, frame: bytes, hdr: int = 12) -> int:
        assert self.tx is not None
        head = self.tx.add([bytes(hdr), frame], [])
        self.tx.kick()
        return head

    def give_buffers(self, n: int, size: int = 1526) -> list[int]:
        assert self.rx is not None
        heads = [self.rx.add([], [size]) for _ in range(n)]
        self.rx.kick()
        return heads


def frame(dst: bytes, src: bytes, payload: bytes) -> bytes:
    return dst + src + b"\x88\xb5" + payload


def test_config_space_has_the_mac_and_link_up() -> None:
    nic = Nic(Switch(), MAC_A, start=False)
    assert nic.drv.read(0x008) == 1
    features = nic.drv.device_features()
    assert features >> F_MAC & 1 and features >> F_STATUS & 1
    assert bytes(nic.dev.read(0x100 + i, 1) for i in range(6)) == MAC_A
    assert nic.dev.read(0x106, 2) & 1


def test_broadcast_from_one_nic_arrives_at_the_other_with_a_v1_header() -> None:
    switch = Switch()
    a, b = Nic(switch, MAC_A), Nic(switch, MAC_B)
    (buf,) = b.give_buffers(1)
    sent = frame(BROADCAST, MAC_A, b"hello")
    a.send(sent)
    assert b.rx is not None
    ((head, written),) = b.rx.used_entries()
    assert head == buf and written == 12 + len(sent)
    data = b.rx.written(head)
    assert struct.unpack_from("<H", data, 10)[0] == 1  # num_buffers
    assert data[12 : 12 + len(sent)] == sent
    assert b.irq.level
    assert a.tx is not None and a.tx.used_entries()
    assert a.net.stats.tx_packets == 1 and b.net.stats.rx_packets == 1


def test_unicast_goes_only_to_the_learned_port() -> None:
    switch = Switch()
    a, b, c = Nic(switch, MAC_A), Nic(switch, MAC_B), Nic(switch, bytes.fromhex("525400000003"))
    for nic in (a, b, c):
        nic.give_buffers(4)
    b.send(frame(BROADCAST, MAC_B, b"arp"))  # the switch learns where B is
    a.send(frame(MAC_B, MAC_A, b"to b"))
    assert b.net.stats.rx_packets == 1
    assert c.net.stats.rx_packets == 1  # only B's broadcast
    assert switch.stats.forwarded == 1


def test_frames_wait_for_receive_buffers() -> None:
    switch = Switch()
    a, b = Nic(switch, MAC_A), Nic(switch, MAC_B)
    a.send(frame(BROADCAST, MAC_A, b"one"))
    a.send(frame(BROADCAST, MAC_A, b"two"))
    (first, second) = b.give_buffers(2)
    assert b.rx is not None
    assert [h for h, _ in b.rx.used_entries()] == [first, second]
    assert b.rx.written(second)[12 + 14 : 12 + 17] == b"two"


def test_frame_larger_than_the_buffer_is_dropped_and_the_buffer_kept() -> None:
    switch = Switch()
    a, b = Nic(switch, MAC_A), Nic(switch, MAC_B)
    (small,) = b.give_buffers(1, size=64)
    a.send(frame(BROADCAST, MAC_A, bytes(100)))
    assert b.net.stats.rx_dropped == 1
    a.send(frame(BROADCAST, MAC_A, b"fits"))
    assert b.rx is not None
    assert b.rx.used_entries() == [(small, 12 + 18)]


def test_legacy_driver_gets_the_10_byte_header() -> None:
    switch = Switch()
    a = Nic(switch, MAC_A)
    b = Nic(switch, MAC_B, start=False)
    b.start(features=1 << F_MAC)  # no VERSION_1, no MRG_RXBUF
    b.give_buffers(1)
    sent = frame(BROADCAST, MAC_A, b"x")
    a.send(sent)
    assert b.rx is not None
    ((head, written),) = b.rx.used_entries()
    assert written == 10 + len(sent)
    assert b.rx.written(head)[10 : 10 + len(sent)] == sent


def test_runt_transmit_is_dropped_but_returned() -> None:
    nic = Nic(Switch(), MAC_A)
    head = nic.send(b"\x00" * 4)
    assert nic.tx is not None
    assert nic.tx.used_entries() == [(head, 0)]
    assert nic.net.stats.tx_dropped == 1


def test_null_backend_swallows_frames() -> None:
    ram, irq = Ram(), FakeIrq()
    port = NullNet()
    drv = Driver(VirtioMmio(VirtioNet(port, mac=MAC_A), ram.memory, irq), ram, irq)
    _, tx = drv.start(1 << F_VERSION_1, nqueues=2)
    tx.add([bytes(12), frame(BROADCAST, MAC_A, b"void")], [])
    tx.kick()
    assert port.sent == 1
