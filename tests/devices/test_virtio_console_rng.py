"""virtio-console (single port) and virtio-rng through real rings."""

from __future__ import annotations

from devfakes import FakeChar, FakeIrq
from vdriver import F_VERSION_1, Driver, Ram

from avmm.devices.virtio import VirtioConsole, VirtioMmio, VirtioRng

RX, TX = 0, 1


def console() -> tuple[Driver, FakeChar]:
    ram, irq, backend = Ram(), FakeIrq(), FakeChar()
    dev = VirtioMmio(VirtioConsole(backend), ram.memory, irq)
    drv = Driver(dev, ram, irq)
    assert drv.read(0x008) == 3
    return drv, backend


def test_console_output_reaches_the_backend() -> None:
    drv, backend = console()
    _, tx = drv.start(1 << F_VERSION_1, nqueues=2)
    head = tx.add([b"hello ", b"world\n"], [])
    tx.kick()
    assert backend.output == b"hello world\n"
    assert tx.used_entries() == [(head, 0)]


def test_console_input_fills_receive_buffers() -> None:
    drv, backend = console()
    rx, _ = drv.start(1 << F_VERSION_1, nqueues=2)
    first = rx.add([], [4])
    second = rx.add([], [16])
    rx.kick()
    backend.type(b"ls -l\r")
    assert rx.used_entries() == [(first, 4), (second, 2)]
    assert rx.written(first) == b"ls -"
    assert rx.written(second)[:2] == b"l\r"
    assert drv.irq.level


def test_console_input_waits_for_buffers() -> None:
    drv, backend = console()
    backend.type(b"early")  # before the driver is even up
    rx, _ = drv.start(1 << F_VERSION_1, nqueues=2)
    assert rx.used_entries() == []
    head = rx.add([], [64])
    rx.kick()
    assert rx.used_entries() == [(head, 5)]
    assert rx.written(head)[:5] == b"early"


def test_console_output_buffer_is_capped() -> None:
    drv, backend = console()
    _, tx = drv.start(1 << F_VERSION_1, nqueues=2)
    head = tx.add([b"y" * ((1 << 20) + 10)], [])
    tx.kick()
    assert len(backend.output) == 1 << 20
    assert tx.used_entries() == [(head, 0)]


def test_rng_fills_buffers_from_the_source() -> None:
    ram, irq = Ram(), FakeIrq()
    asked: list[int] = []

    def source(n: int) -> bytes:
        asked.append(n)
        return bytes(range(n % 256)) * (n // 256) + bytes(range(n % 256))

    rng = VirtioRng(source)
    drv = Driver(VirtioMmio(rng, ram.memory, irq), ram, irq)
    (q,) = drv.start(1 << F_VERSION_1)
    head = q.add([], [32])
    q.kick()
    assert q.used_entries() == [(head, 32)]
    assert q.written(head) == bytes(range(32))
    assert asked == [32]
    assert rng.stats.bytes == 32


def test_rng_caps_a_huge_request() -> None:
    ram, irq = Ram(), FakeIrq()
    drv = Driver(VirtioMmio(VirtioRng(lambda n: b"\x01" * n), ram.memory, irq), ram, irq)
    (q,) = drv.start(1 << F_VERSION_1)
    head = q.add([], [1 << 20])
    q.kick()
    assert q.used_entries() == [(head, 64 * 1024)]
