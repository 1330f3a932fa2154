"""Console backends: null, file, stdio (raw mode and Ctrl-A keys), pty and TCP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avmm.devices.backends import FileChar, NullChar, PtyChar, StdioChar, TcpChar
from avmm.errors import DeviceError

GUARD = 10.0  # seconds before a hung test gives up (not a measurement)


class Inbox:
    """Collects input a backend delivers; ``wait_for`` blocks until enough arrived."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._event = asyncio.Event()

    def __call__(self, data: bytes) -> None:
        self.data += data
        self._event.set()

    async def wait_for(self, n: int) -> bytes:
        while len(self.data) < n:
            self._event.clear()
            await asyncio.wait_for(self._event.wait(), GUARD)
        return bytes(self.data)


def test_null_backend_drops_output() -> None:
    null = NullChar()
    null.write(b"abc")
    null.attach(lambda data: None)
    assert null.stats.dropped == 3


def test_file_backend_writes_output_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    path.write_bytes(b"old run")
    out = FileChar(path)
    out.write(b"Linux version 6.1\n")
    out.write(b"login: ")
    assert out.flush()  # the writes happen on a thread: the loop never waits for the disk
    assert path.read_bytes() == b"Linux version 6.1\nlogin: "
    out.close()


def test_file_backend_in_a_missing_directory_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="cannot open console output"):
        FileChar(tmp_path / "nope" / "console.log")


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """A pty pair standing in for the user's terminal: (master, slave)."""
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def lflag(fd: int) -> int:
    return int(termios.tcgetattr(fd)[3])


async def test_stdio_enters_raw_mode_and_restores_the_terminal(
    terminal: tuple[int, int],
) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    stdio = StdioChar(stdin=slave, stdout=slave)
    inbox = Inbox()
    stdio.attach(inbox)
    assert stdio.raw
    assert not lflag(slave) & (termios.ICANON | termios.ECHO | termios.ISIG)
    os.write(master, b"\x03ab")  # Ctrl-C reaches the guest instead of killing the VMM
    assert await inbox.wait_for(3) == b"\x03ab"
    stdio.close()
    assert termios.tcgetattr(slave) == before


async def test_stdio_ctrl_a_x_quits_and_ctrl_a_ctrl_a_sends_ctrl_a(
    terminal: tuple[int, int],
) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    quits: list[bool] = []
    stdio = StdioChar(on_quit=lambda: quits.append(True), stdin=slave, stdout=slave)
    inbox = Inbox()
    stdio.attach(inbox)
    os.write(master, b"a\x01\x01b\x01")
    await inbox.wait_for(3)
    os.write(master, b"x")  # the escape spans two reads
    for _ in range(100):
        if quits:
            break
        await asyncio.sleep(0.01)
    assert quits == [True]
    assert bytes(inbox.data) == b"a\x01b"
    assert termios.tcgetattr(slave) == before  # restored before quitting
    stdio.close()


async def test_stdio_restores_the_terminal_when_input_handling_fails(
    terminal: tuple[int, int],
) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    failed = asyncio.Event()

    def broken(data: bytes) -> None:
        failed.set()
        raise RuntimeError("guest side exploded")

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)
    stdio = StdioChar(stdin=slave, stdout=slave)
    stdio.attach(broken)
    os.write(master, b"z")
    await asyncio.wait_for(failed.wait(), GUARD)
    await asyncio.sleep(0)
    assert termios.tcgetattr(slave) == before
    stdio.close()


async def test_stdio_output_reaches_the_terminal(terminal: tuple[int, int]) -> None:
    master, slave = terminal
    stdio = StdioChar(stdin=slave, stdout=slave)
    stdio.write(b"OpenSBI v1.1")
    assert os.read(master, 100).startswith(b"OpenSBI v1.1")
    stdio.close()


async def test_stdio_on_a_pipe_reads_without_raw_mode() -> None:
    rfd, wfd = os.pipe()
    out_r, out_w = os.pipe()
    try:
        stdio = StdioChar(stdin=rfd, stdout=out_w)
        inbox = Inbox()
        stdio.attach(inbox)
        assert not stdio.raw
        os.write(wfd, b"echo hi\n")
        assert await inbox.wait_for(8) == b"echo hi\n"
        os.close(wfd)
        wfd = -1
        await asyncio.sleep(0.05)  # EOF is noticed; reading stops without errors
        stdio.close()
    finally:
        for fd in (rfd, wfd, out_r, out_w):
            if fd >= 0:
                os.close(fd)


async def test_pty_exposes_a_slave_path_that_carries_both_directions() -> None:
    pty = PtyChar()
    inbox = Inbox()
    pty.attach(inbox)
    assert pty.path.startswith("/dev/pts/")
    client = os.open(pty.path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(client, b"root\r")
        assert await inbox.wait_for(5) == b"root\r"
        pty.write(b"# ")
        assert os.read(client, 10) == b"# "
    finally:
        os.close(client)
        pty.close()


def test_closing_the_pty_gives_a_slow_reader_the_last_output() -> None:
    # Closing the master discards what the slave side has not read: the guest's
    # poweroff message was lost when the reader lagged (a loaded machine).
    pty = PtyChar()
    client = os.open(pty.path, os.O_RDWR | os.O_NOCTTY)
    got = bytearray()

    def read_later() -> None:
        time.sleep(0.3)
        while True:
            try:
                chunk = os.read(client, 4096)
            except OSError:  # EIO once the master is gone
                return
            if not chunk:
                return
            got.extend(chunk)

    reader = threading.Thread(target=read_later)
    reader.start()
    try:
        pty.write(b"reboot: Power down\n")
        pty.close()
        reader.join(5)
    finally:
        os.close(client)
    assert bytes(got) == b"reboot: Power down\n"


async def test_pty_drops_output_nobody_reads_instead_of_blocking() -> None:
    pty = PtyChar()
    chunk = b"x" * 4096
    for _ in range(256):  # 1 MiB, far more than a pty buffers
        pty.write(chunk)
    assert pty.stats.dropped > 0
    assert pty.stats.out_bytes + pty.stats.dropped == 256 * 4096
    pty.close()


async def test_tcp_serves_one_client_at_a_time() -> None:
    tcp = TcpChar(port=0)
    inbox = Inbox()
    tcp.attach(inbox)
    await tcp.start()
    tcp.write(b"lost")  # nobody connected yet
    assert tcp.stats.dropped == 4
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
    for _ in range(100):
        if tcp.connected:
            break
        await asyncio.sleep(0.01)
    writer.write(b"uname\n")
    await writer.drain()
    assert await inbox.wait_for(6) == b"uname\n"
    tcp.write(b"Linux\n")
    assert await asyncio.wait_for(reader.readexactly(6), GUARD) == b"Linux\n"

    reader2, writer2 = await asyncio.open_connection("127.0.0.1", tcp.port)
    refusal = await asyncio.wait_for(reader2.read(), GUARD)
    assert b"already has a client" in refusal
    writer2.close()
    await writer2.wait_closed()

    writer.close()
    await writer.wait_closed()
    tcp.close()


async def test_tcp_port_in_use_is_a_device_error() -> None:
    first = TcpChar(port=0)
    await first.start()
    second = TcpChar(port=first.port)
    with pytest.raises(DeviceError, match="cannot listen"):
        await second.start()
    first.close()
