"""gdb remote serial protocol framing: ``$data#cs`` packets, acks, Ctrl-C.

:class:`PacketReader` turns a byte stream into :data:`Item` values and never
raises on bad input: a bad checksum is a :class:`BadPacket` (answer ``-``), a
packet longer than ``max_size`` is dropped as one, stray bytes between packets
are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

INTERRUPT = 0x03


@attrs.frozen
class Packet:
    data: bytes  # unescaped payload


@attrs.frozen
class BadPacket:
    reason: str


@attrs.frozen
class Ack:
    ok: bool  # '+' or '-'


@attrs.frozen
class Interrupt:
    """Ctrl-C (0x03) outside a packet."""


Item = Packet | BadPacket | Ack | Interrupt


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(data: bytes) -> bytes:
    """``$data#cs`` for a reply payload (already escaped where it must be)."""
    return b"$" + data + b"#" + b"%02x" % checksum(data)


def escape(data: bytes) -> bytes:
    """Binary data in a reply (qXfer): ``}`` then the byte xor 0x20 for ``$#}*``."""
    out = bytearray()
    for b in data:
        if b in b"$#}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Binary data of an ``X`` packet."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                break
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def _unrle(data: bytes) -> bytes:
    """Run-length encoding (``x*n``: repeat x n-29 more times); gdb may send it."""
    if b"*" not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x2A and out and i + 1 < len(data):
            out += bytes((out[-1],)) * max(data[i + 1] - 29, 0)
            i += 2
            continue
        out.append(b)
        i += 1
    return bytes(out)


class PacketReader:
    """Incremental parser of what a gdb client sends."""

    def __init__(self, max_size: int = 0x4000) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._in_packet = False
        self._overflow = False

    def feed(self, data: bytes) -> Iterator[Item]:
        for b in data:
            if not self._in_packet:
                if b == 0x24:  # '$'
                    self._in_packet = True
                    self._buf.clear()
                    self._overflow = False
                elif b == 0x2B:
                    yield Ack(True)
                elif b == 0x2D:
                    yield Ack(False)
                elif b == INTERRUPT:
                    yield Interrupt()
                continue  # anything else between packets is noise
            self._buf.append(b)
            if len(self._buf) > self.max_size + 3:
                self._overflow = True
                self._buf.clear()
                self._buf += b"\x00\x00\x00"  # keep scanning for the end of it
            n = len(self._buf)
            # the end: '#' and two checksum digits ('#' in binary data is escaped)
            if n >= 3 and self._buf[-3] == 0x23:
                self._in_packet = False
                if self._overflow:
                    yield BadPacket("packet too long")
                    continue
                body = bytes(self._buf[:-3])
                digits = bytes(self._buf[-2:])
                try:
                    want = int(digits, 16)
                except ValueError:
                    yield BadPacket("bad checksum digits")
                    continue
                if checksum(body) != want:
                    yield BadPacket("bad checksum")
                    continue
                yield Packet(_unrle(body))
