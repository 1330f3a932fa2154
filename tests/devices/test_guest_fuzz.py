"""Whatever the guest writes, the device models neither raise nor write a disk they must not."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from devfakes import FakeChar, FakeClock, FakeIrq, FakePower, FakeSpawner, FakeTimer, FakeWall
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vdriver import RAM_BASE, Driver, Ram

from avmm.devices.backends import RawImage
from avmm.devices.base import MmioDevice
from avmm.devices.clint import Clint
from avmm.devices.plic import Plic
from avmm.devices.rtc import GoldfishRtc
from avmm.devices.syscon import SifiveTest
from avmm.devices.uart import Ns16550a
from avmm.devices.virtio import VirtioBlk, VirtioConsole, VirtioMmio, VirtioRng

# AVMM_FUZZ_EXAMPLES: a longer campaign (README gives its figures); CI runs 1000.
EXAMPLES = int(os.environ.get("AVMM_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

access = st.tuples(
    st.booleans(),  # write?
    st.integers(0, 0xFFFF),  # offset (scaled into the device below)
    st.sampled_from([1, 2, 4, 8]),
    st.integers(0, 2**64 - 1),
)


def models() -> list[Callable[[], MmioDevice]]:
    ram = Ram(1 << 16)
    return [
        lambda: Ns16550a(FakeChar(), FakeIrq()),
        lambda: Clint([FakeIrq()] * 2, [FakeTimer()] * 2, FakeClock(5)),
        lambda: Plic(0x60, [FakeIrq() for _ in range(4)]),
        lambda: GoldfishRtc(FakeIrq(), FakeWall(10**18)),
        lambda: SifiveTest(FakePower()),
        lambda: VirtioMmio(VirtioRng(), ram.memory, FakeIrq()),
        lambda: VirtioMmio(VirtioConsole(FakeChar()), ram.memory, FakeIrq()),
    ]


@FUZZ
@given(st.integers(0, 6), st.lists(access, max_size=60))
def test_random_register_traffic_never_raises(
    which: int, accesses: list[tuple[bool, int, int, int]]
) -> None:
    device = models()[which]()
    for is_write, offset, size, value in accesses:
        offset = offset * device.size // 0x10000
        if is_write:
            device.write(offset, size, value & ((1 << (8 * size)) - 1))
        else:
            assert 0 <= device.read(offset, size) < 1 << (8 * size)
    device.restore(device.state())


@FUZZ
@given(
    descriptors=st.binary(min_size=16 * 8, max_size=16 * 8),
    ring=st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8),
    avail_idx=st.one_of(st.integers(0, 8), st.integers(0, 0xFFFF)),
    indirect=st.booleans(),
)
def test_random_rings_never_raise_or_write_a_read_only_disk(
    descriptors: bytes, ring: list[int], avail_idx: int, indirect: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disk.img"
        path.write_bytes(bytes(range(256)) * 64)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        backend = RawImage(path, read_only=True)
        spawner = FakeSpawner()
        ram = Ram(1 << 16)
        irq = FakeIrq()
        dev = VirtioMmio(VirtioBlk(backend, spawner, read_only=True), ram.memory, irq)
        drv = Driver(dev, ram, irq)
        (q,) = drv.start((1 << 32) | (int(indirect) << 28), size=8)
        # Point some descriptors at RAM so walks get somewhere interesting.
        table = bytearray(descriptors)
        for i in range(0, 8, 2):
            table[16 * i : 16 * i + 8] = (RAM_BASE + 0x100 * i).to_bytes(8, "little")
        drv.mem.write(q.desc, bytes(table))
        for i, head in enumerate(ring):
            drv.mem.write_u16(q.avail + 4 + 2 * i, head)
        drv.mem.write_u16(q.avail + 2, avail_idx)
        q.kick()
        asyncio.run(spawner.run_all())
        backend.close()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
