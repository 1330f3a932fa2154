"""virtio-blk over a real raw image file, driven through real rings."""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import pytest
from devfakes import FakeIrq, FakeSpawner
from vdriver import (
    DESC_NEXT,
    DESC_WRITE,
    NEEDS_RESET,
    RAM_BASE,
    RAM_SIZE,
    Driver,
    DriverQueue,
    Ram,
)

from avmm.devices.backends import RawImage
from avmm.devices.virtio import VirtioBlk, VirtioMmio
from avmm.errors import DeviceError

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD = 0, 1, 4, 8, 11
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
F_SEG_MAX, F_RO, F_BLK_SIZE, F_FLUSH = 2, 5, 6, 9
SECTORS = 64


class Rig:
    def __init__(self, image: Path, *, read_only: bool = False, serial: str = "") -> None:
        self.image = image
        self.backend = RawImage(image, read_only=read_only)
        self.spawner = FakeSpawner()
        self.blk = VirtioBlk(self.backend, self.spawner, read_only=read_only, serial=serial)
        self.ram, self.irq = Ram(), FakeIrq()
        self.dev = VirtioMmio(self.blk, self.ram.memory, self.irq)
        self.drv = Driver(self.dev, self.ram, self.irq)
        (self.q,) = self.drv.start()

    def request(self, kind: int, sector: int, out: bytes = b"", in_len: int = 0) -> int:
        header = struct.pack("<IIQ", kind, 0, sector)
        outs = [header] + ([out] if out else [])
        return self.q.add(outs, ([in_len] if in_len else []) + [1])

    async def run(self) -> None:
        self.q.kick()
        await self.spawner.run_all()

    def status(self, head: int) -> int:
        return self.q.written(head)[-1]

    def data(self, head: int) -> bytes:
        return self.q.written(head)[:-1]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(b"".join(bytes([s]) * 512 for s in range(SECTORS)))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_config_reports_capacity_and_features(image: Path) -> None:
    rig = Rig(image)
    assert rig.dev.read(0x100, 8) == SECTORS
    assert rig.dev.read(0x100, 4) | rig.dev.read(0x104, 4) << 32 == SECTORS
    assert rig.dev.read(0x100 + 20, 4) == 512
    assert rig.dev.read(0x100 + 12, 4) > 0
    features = rig.drv.device_features()
    assert features >> F_FLUSH & 1 and features >> F_SEG_MAX & 1 and features >> F_BLK_SIZE & 1
    assert not features >> F_RO & 1


async def test_read_returns_the_image_contents(image: Path) -> None:
    rig = Rig(image)
    head = rig.request(T_IN, 3, in_len=1024)
    await rig.run()
    assert rig.q.used_entries() == [(head, 1025)]
    assert rig.status(head) == S_OK
    assert rig.data(head) == bytes([3]) * 512 + bytes([4]) * 512
    assert rig.irq.level


async def test_write_lands_on_the_image_file_and_flush_succeeds(image: Path) -> None:
    rig = Rig(image)
    w = rig.request(T_OUT, 10, out=b"\x5a" * 1024)
    f = rig.request(T_FLUSH, 0)
    await rig.run()
    assert [rig.status(h) for h in (w, f)] == [S_OK, S_OK]
    on_disk = image.read_bytes()
    assert on_disk[10 * 512 : 12 * 512] == b"\x5a" * 1024
    assert on_disk[12 * 512 : 13 * 512] == bytes([12]) * 512
    assert rig.blk.stats.write_bytes == 1024 and rig.blk.stats.flushes == 1


async def test_requests_complete_in_order_across_one_kick(image: Path) -> None:
    rig = Rig(image)
    heads = [rig.request(T_IN, s, in_len=512) for s in range(5)]
    await rig.run()
    assert [h for h, _ in rig.q.used_entries()] == heads
    assert [rig.data(h)[0] for h in heads] == [0, 1, 2, 3, 4]
    assert len(rig.spawner.names) == 1  # one I/O task drained the queue


async def test_large_read_spanning_chunks_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "big.img"
    blob = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)
    path.write_bytes(blob)
    rig = Rig(path)
    head = rig.request(T_IN, 1, in_len=len(blob) - 512)
    await rig.run()
    assert rig.status(head) == S_OK
    assert rig.data(head) == blob[512:]


async def test_get_id_returns_the_serial(image: Path) -> None:
    rig = Rig(image, serial="avmm-disk-0")
    head = rig.request(T_GET_ID, 0, in_len=20)
    await rig.run()
    assert rig.status(head) == S_OK
    assert rig.data(head) == b"avmm-disk-0".ljust(20, b"\0")


async def test_request_past_capacity_gets_ioerr(image: Path) -> None:
    rig = Rig(image)
    before = digest(image)
    r = rig.request(T_IN, SECTORS - 1, in_len=1024)
    w = rig.request(T_OUT, SECTORS, out=bytes(512))
    huge = rig.request(T_OUT, 2**60, out=bytes(512))
    await rig.run()
    assert [rig.status(h) for h in (r, w, huge)] == [S_IOERR] * 3
    assert digest(image) == before
    assert not rig.drv.status & NEEDS_RESET  # an I/O error, not a broken device


async def test_unknown_request_type_is_unsupported(image: Path) -> None:
    rig = Rig(image)
    head = rig.request(T_DISCARD, 0, out=bytes(16))
    await rig.run()
    assert rig.status(head) == S_UNSUPP


async def test_read_only_disk_offers_ro_and_answers_writes_with_ioerr(
    image: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(image, read_only=True)
    assert rig.drv.device_features() >> F_RO & 1
    rig.drv.start()
    rig.q = rig.drv.queues[-1]
    before = digest(image)
    write = rig.request(T_OUT, 0, out=b"\xff" * 512)
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        await rig.run()
    assert digest(image) == before
    assert rig.status(write) == S_IOERR
    assert not rig.drv.status & NEEDS_RESET
    assert "virtio-blk" in caplog.text and "read-only" in caplog.text
    # The disk still serves reads after the refused write, as on QEMU.
    read = rig.request(T_IN, 0, in_len=512)
    await rig.run()
    assert rig.status(read) == S_OK


async def test_short_header_needs_reset(image: Path) -> None:
    rig = Rig(image)
    rig.q.add([b"\x01\x00\x00\x00"], [1])
    await rig.run()
    assert rig.drv.status & NEEDS_RESET


async def test_missing_status_byte_needs_reset(image: Path) -> None:
    rig = Rig(image)
    before = digest(image)
    rig.q.add([struct.pack("<IIQ", T_OUT, 0, 0), bytes(512)], [])
    await rig.run()
    assert rig.drv.status & NEEDS_RESET
    assert digest(image) == before


async def test_write_with_data_outside_ram_never_touches_the_image(image: Path) -> None:
    rig = Rig(image)
    before = digest(image)
    q: DriverQueue = rig.q
    ram = rig.ram
    header = ram.put(struct.pack("<IIQ", T_OUT, 0, 0))
    status = ram.alloc(1)
    q.write_desc(q.desc, 0, header, 16, DESC_NEXT, 1)
    q.write_desc(q.desc, 1, RAM_BASE + RAM_SIZE - 256, 512, DESC_NEXT, 2)
    q.write_desc(q.desc, 2, status, 1, DESC_WRITE, 0)
    q.publish(0)
    await rig.run()
    assert rig.drv.status & NEEDS_RESET
    assert digest(image) == before
    assert rig.spawner.pending == []


async def test_reset_while_a_read_is_in_flight_drops_its_completion(image: Path) -> None:
    rig = Rig(image)
    head = rig.request(T_IN, 0, in_len=512)
    rig.q.kick()
    work = rig.spawner.pending.pop()
    rig.drv.write(0x70, 0)  # the guest resets before the I/O finishes
    await work
    assert rig.drv.mem.read_u16(rig.q.used + 2) == 0
    assert rig.q.written(head) == bytes(513)
    (q,) = rig.drv.start()  # and the device works again afterwards
    rig.q = q
    again = rig.request(T_IN, 2, in_len=512)
    await rig.run()
    assert rig.data(again) == bytes([2]) * 512


async def test_backend_failure_becomes_ioerr(image: Path) -> None:
    rig = Rig(image)
    rig.backend.close()  # the host side breaks
    head = rig.request(T_IN, 0, in_len=512)
    await rig.run()
    assert rig.status(head) == S_IOERR
    assert rig.blk.stats.io_errors == 1


def test_serial_longer_than_20_bytes_is_refused(image: Path) -> None:
    with pytest.raises(DeviceError, match="serial"):
        VirtioBlk(RawImage(image), FakeSpawner(), serial="x" * 21)


async def test_legacy_feature_set_still_works(image: Path) -> None:
    """A driver that leaves VERSION_1 out still gets FEATURES_OK and working I/O."""
    rig = Rig(image)
    (q,) = rig.drv.start(features=1 << F_FLUSH)
    rig.q = q
    head = rig.request(T_IN, 5, in_len=512)
    await rig.run()
    assert rig.data(head) == bytes([5]) * 512
    assert not rig.drv.status & NEEDS_RESET
