"""The UDP link between two avmm processes' NICs, on real sockets: frames cross as
datagrams, and when one end moves (a live migration to a process listening
elsewhere) the other end follows it from its first frame."""

from __future__ import annotations

import asyncio

import pytest

from avmm.devices.backends import UdpLink
from avmm.errors import DeviceError


async def _until(cond: object, what: str) -> None:
    for _ in range(500):
        if callable(cond) and cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"no {what}")


async def test_frames_cross_and_the_link_follows_a_moved_peer() -> None:
    a = UdpLink(("127.0.0.1", 0), ("127.0.0.1", 9))  # its peer is not known yet
    b = UdpLink(("127.0.0.1", 0), a.address)
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    a.attach(got_a.append)
    b.attach(got_b.append)
    try:
        b.send(b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00hello")
        await _until(lambda: got_a, "frame at a")
        assert a.peer == b.address  # learned from the datagram
        a.send(b"reply")
        await _until(lambda: got_b, "frame at b")
        assert got_b == [b"reply"]
        moved = UdpLink(("127.0.0.1", 0), a.address)  # b's VM now runs here
        moved.attach(got_b.append)
        moved.send(b"from the new place")
        await _until(lambda: len(got_a) == 2, "frame from the moved end")
        a.send(b"follows")
        await _until(lambda: got_b[-1] == b"follows", "the reply at the new place")
        assert a.stats.peer_moves == 2 and a.stats.received == 2
        moved.close()
    finally:
        a.close()
        b.close()


async def test_a_busy_address_is_named() -> None:
    a = UdpLink(("127.0.0.1", 0), ("127.0.0.1", 9))
    try:
        with pytest.raises(
            DeviceError, match=f"cannot listen for the link on 127.0.0.1:{a.address[1]}"
        ):
            UdpLink(a.address, ("127.0.0.1", 9))
    finally:
        a.close()
