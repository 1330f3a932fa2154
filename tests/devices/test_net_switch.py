"""The in-process learning switch."""

from __future__ import annotations

from avmm.devices.backends import Switch, SwitchPort

A = bytes.fromhex("020000000001")
B = bytes.fromhex("020000000002")
C = bytes.fromhex("020000000003")
BCAST = b"\xff" * 6


def frame(dst: bytes, src: bytes) -> bytes:
    return dst + src + b"\x08\x00" + b"payload"


def wire(switch: Switch, n: int) -> tuple[list[list[bytes]], list[SwitchPort]]:
    inboxes: list[list[bytes]] = [[] for _ in range(n)]
    ports: list[SwitchPort] = []
    for box in inboxes:
        port = switch.port()
        port.attach(box.append)
        ports.append(port)
    return inboxes, ports


def test_unknown_destination_floods_to_every_other_port() -> None:
    switch = Switch()
    inboxes, ports = wire(switch, 3)
    ports[0].send(frame(B, A))
    assert [len(b) for b in inboxes] == [0, 1, 1]
    assert switch.lookup(A) is ports[0]


def test_learned_destination_gets_the_frame_alone() -> None:
    switch = Switch()
    inboxes, ports = wire(switch, 3)
    ports[1].send(frame(BCAST, B))
    ports[0].send(frame(B, A))
    assert [len(b) for b in inboxes] == [1, 1, 1]
    assert inboxes[1][-1] == frame(B, A)
    assert switch.stats.forwarded == 1 and switch.stats.flooded == 1


def test_station_moving_ports_is_relearned() -> None:
    switch = Switch()
    inboxes, ports = wire(switch, 3)
    ports[1].send(frame(BCAST, B))
    ports[2].send(frame(BCAST, B))
    ports[0].send(frame(B, A))
    assert inboxes[2][-1] == frame(B, A)


def test_closed_port_is_forgotten() -> None:
    switch = Switch()
    inboxes, ports = wire(switch, 3)
    ports[1].send(frame(BCAST, B))
    ports[1].close()
    ports[0].send(frame(B, A))
    assert inboxes[1] == [] and len(inboxes[2]) == 2
    assert switch.lookup(B) is None


def test_runts_are_dropped() -> None:
    switch = Switch()
    inboxes, ports = wire(switch, 2)
    ports[0].send(b"\x00" * 10)
    assert inboxes[1] == [] and switch.stats.dropped == 1


def test_mac_table_is_bounded() -> None:
    switch = Switch(table_size=2)
    _, ports = wire(switch, 2)
    for mac in (A, B, C):
        ports[0].send(frame(BCAST, mac))
    assert switch.lookup(A) is None and switch.lookup(C) is ports[0]
