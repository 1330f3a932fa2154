"""virtio-blk (device id 2): one request queue over a :class:`BlockBackend`.

Requests are IN (read), OUT (write), FLUSH and GET_ID. Every request is
checked completely before the backend is touched, so a malformed request can
never reach the image. Requests past the end of the disk, writes to a
read-only disk (as QEMU answers them: the guest gets EIO and goes on) and
backend failures complete with VIRTIO_BLK_S_IOERR; unknown types with
VIRTIO_BLK_S_UNSUPP; protocol violations (a short header, no status byte,
data in the wrong direction) fail the queue (DEVICE_NEEDS_RESET).

I/O runs as one coroutine per queue, handed to the :class:`Spawner`, which
takes requests in order until the queue is empty; large transfers go to the
backend in chunks so neither host memory nor the event loop is held long. A
device reset abandons work in flight: nothing it finishes afterwards touches
guest memory.
"""

from __future__ import annotations

import logging
import struct
from typing import Any, ClassVar

import attrs

from avmm.errors import DeviceError

from ..base import BlockBackend, GuestErrors, Metric, Spawner
from .device import VirtioDevice
from .queue import Chain

DEVICE_ID = 2

F_SIZE_MAX = 1
F_SEG_MAX = 2
F_RO = 5
F_BLK_SIZE = 6
F_FLUSH = 9

T_IN = 0
T_OUT = 1
T_FLUSH = 4
T_GET_ID = 8

S_OK = 0
S_IOERR = 1
S_UNSUPP = 2

SECTOR = 512
ID_BYTES = 20
HEADER = struct.Struct("<IIQ")
CHUNK = 1 << 20  # bytes per backend call
CONFIG_SIZE = 60  # through write_zeroes_may_unmap and its padding

_log = logging.getLogger("avmm.devices")


@attrs.define
class BlkStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "read_bytes": (("avmm_virtio_bytes_total", ("in",)),),
        "write_bytes": (("avmm_virtio_bytes_total", ("out",)),),
        "flushes": (("avmm_virtio_blk_flushes_total", ()),),
        "io_errors": (("avmm_virtio_blk_errors_total", ("io",)),),
        "unsupported": (("avmm_virtio_blk_errors_total", ("unsupported",)),),
    }
    requests: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    flushes: int = 0
    io_errors: int = 0  # requests completed with IOERR
    unsupported: int = 0
    guest_errors: int = 0


class VirtioBlk(VirtioDevice):
    """A disk: capacity in 512-byte sectors, optionally read-only."""

    device_id = DEVICE_ID

    def __init__(
        self,
        backend: BlockBackend,
        spawner: Spawner,
        *,
        read_only: bool = False,
        serial: str = "",
        name: str = "virtio-blk",
        queue_size: int = 256,
    ) -> None:
        super().__init__(name, (queue_size,))
        encoded = serial.encode()
        if len(encoded) > ID_BYTES:
            raise DeviceError(f"{name}: serial {serial!r} is longer than {ID_BYTES} bytes")
        self.stats = BlkStats()
        self.backend = backend
        self.read_only = read_only or backend.read_only
        self.serial = encoded
        self.capacity = backend.size // SECTOR
        self._spawner = spawner
        self._guest_error = GuestErrors(name, self.stats)
        self._queue_size = queue_size
        self._epoch = 0  # bumped by reset: stale work must not touch the guest
        self._running = False

    def device_features(self) -> int:
        features = (1 << F_SEG_MAX) | (1 << F_BLK_SIZE) | (1 << F_FLUSH)
        if self.read_only:
            features |= 1 << F_RO
        return features

    def config(self) -> bytes:
        data = bytearray(CONFIG_SIZE)
        struct.pack_into("<Q", data, 0, self.capacity)
        # A chain holds the header and status too, so data gets size - 2 segments.
        struct.pack_into("<I", data, 12, self._queue_size - 2)
        struct.pack_into("<I", data, 20, SECTOR)
        return bytes(data)

    def notify(self, queue: int) -> None:
        if self._running:
            return  # the running drain will see the new requests
        chain = self.transport.pop(0)
        if chain is None:
            return
        self._running = True
        self._spawner.submit(self._drain(self._epoch, chain), name=f"{self.name}-io")

    def reset(self) -> None:
        self._epoch += 1
        self._running = False

    # ------------------------------------------------------------------ requests

    async def _drain(self, epoch: int, chain: Chain | None) -> None:
        try:
            while chain is not None and epoch == self._epoch:
                self.stats.requests += 1
                done = await self._handle(chain, epoch)
                if done is None or epoch != self._epoch:
                    return
                status, written = done
                self.transport.memory.write(_status_addr(chain), bytes((status,)))
                self.transport.push(0, chain, written + 1)
                chain = self.transport.pop(0)
        finally:
            if epoch == self._epoch:
                self._running = False

    async def _handle(self, chain: Chain, epoch: int) -> tuple[int, int] | None:
        """(status, data bytes written) of one request; None if the queue failed."""
        memory = self.transport.memory
        if chain.readable_len < HEADER.size:
            return self._fail(f"request header is {chain.readable_len} bytes, not 16")
        if chain.writable_len < 1:
            return self._fail("request has no device-writable status byte")
        kind, _, sector = HEADER.unpack(chain.read(memory, 0, HEADER.size))
        data_in = chain.writable_len - 1  # device -> driver data bytes
        data_out = chain.readable_len - HEADER.size  # driver -> device data bytes
        if kind == T_IN:
            if data_out:
                return self._fail("read request carries device-readable data")
            return await self._read(chain, sector, data_in, epoch)
        if kind == T_OUT:
            if self.read_only:
                return self._guest_io_error("ro", f"write to read-only disk at sector {sector}")
            return await self._write(chain, sector, data_out, epoch)
        if kind == T_FLUSH:
            self.stats.flushes += 1
            try:
                await self.backend.flush()
            except (OSError, DeviceError) as err:
                return self._io_error(f"flush failed: {err}")
            return S_OK, 0
        if kind == T_GET_ID:
            n = min(ID_BYTES, data_in)
            ident = self.serial.ljust(ID_BYTES, b"\0")[:n]
            return S_OK, chain.write(memory, ident)
        self.stats.unsupported += 1
        return S_UNSUPP, 0

    def _range_ok(self, sector: int, length: int) -> bool:
        return length % SECTOR == 0 and sector * SECTOR + length <= self.capacity * SECTOR

    async def _read(
        self, chain: Chain, sector: int, length: int, epoch: int
    ) -> tuple[int, int] | None:
        if not self._range_ok(sector, length):
            return self._out_of_range(f"read of {length} bytes at sector {sector} is out of range")
        memory = self.transport.memory
        base = sector * SECTOR
        for position, addr, n in chain.writable_pieces(0, length, CHUNK):
            try:
                data = await self.backend.read(base + position, n)
            except (OSError, DeviceError) as err:
                return self._io_error(f"read at byte {base + position} failed: {err}")
            if epoch != self._epoch:
                return None
            memory.write(addr, data)
            self.stats.read_bytes += n
        return S_OK, length

    async def _write(
        self, chain: Chain, sector: int, length: int, epoch: int
    ) -> tuple[int, int] | None:
        if not self._range_ok(sector, length):
            return self._out_of_range(f"write of {length} bytes at sector {sector} is out of range")
        memory = self.transport.memory
        base = sector * SECTOR
        for position, addr, n in chain.readable_pieces(HEADER.size, length, CHUNK):
            if epoch != self._epoch:
                return None
            data = memory.read(addr, n)
            try:
                await self.backend.write(base + position, data)
            except (OSError, DeviceError) as err:
                return self._io_error(f"write at byte {base + position} failed: {err}")
            self.stats.write_bytes += n
        return S_OK, 0

    def _fail(self, problem: str) -> tuple[int, int] | None:
        self.transport.fail(0, problem)
        return None

    def _io_error(self, problem: str) -> tuple[int, int]:
        """A backend failure: the host's problem, reported to the guest as IOERR."""
        self.stats.io_errors += 1
        _log.warning("%s: I/O error: %s", self.name, problem)
        return S_IOERR, 0

    def _out_of_range(self, problem: str) -> tuple[int, int]:
        """A request past the end of the disk: the guest's mistake, IOERR as the spec says."""
        return self._guest_io_error("range", problem)

    def _guest_io_error(self, key: str, problem: str) -> tuple[int, int]:
        """A well-formed request the disk refuses: a logged guest error, IOERR to the guest."""
        self.stats.io_errors += 1
        self._guest_error(key, problem)
        return S_IOERR, 0

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        # Work in flight is not part of the state: the runtime snapshots a
        # device only after the spawner has drained.
        return {"capacity": self.capacity}

    def restore(self, state: dict[str, Any]) -> None:
        if int(state["capacity"]) != self.capacity:
            raise DeviceError(
                f"{self.name}: snapshot disk has {state['capacity']} sectors, "
                f"the image has {self.capacity}"
            )
        self._epoch += 1
        self._running = False


def _status_addr(chain: Chain) -> int:
    addr, length = chain.writable[-1]
    return addr + length - 1
