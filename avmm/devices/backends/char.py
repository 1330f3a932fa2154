"""Character backends for consoles (UART, virtio-console): null, file, stdio, pty, TCP.

All of them satisfy :class:`~avmm.devices.base.CharBackend`: ``write`` takes
guest output and never blocks the event loop for long, ``attach`` names the
callback that receives host input, ``close`` releases what the backend holds.
Backends that read host input need the running asyncio loop; they start
reading when ``attach`` is called inside it, or at ``start()``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import attrs

from avmm.devices.backends.listen import (
    INTERACTIVE_IDLE_SECONDS,
    INTERACTIVE_MAX_CONNECTIONS,
    ConnectionGate,
    IdleTimer,
    keepalive,
)
from avmm.devices.backends.writer import HostWriter, describe
from avmm.errors import DeviceError

_log = logging.getLogger("avmm.devices")

CTRL_A = 0x01
MAX_TCP_BUFFER = 1 << 20  # bytes queued for a slow TCP client before output is dropped


@attrs.define
class CharStats:
    """Plain counters read by the metrics collector."""

    out_bytes: int = 0
    in_bytes: int = 0
    dropped: int = 0  # output that no one could take


def _ignore(data: bytes) -> None:
    pass


class NullChar:
    """Discards output; never produces input."""

    def __init__(self) -> None:
        self.stats = CharStats()

    def write(self, data: bytes) -> None:
        self.stats.dropped += len(data)

    def attach(self, receive: Callable[[bytes], None]) -> None:
        pass

    def close(self) -> None:
        pass


class FileChar:
    """Writes output to a file (truncated when opened); never produces input.

    The writes happen on a :class:`HostWriter` thread: a slow or full disk
    never stops the event loop, and a write error (ENOSPC, EIO) is logged once;
    the output after it is dropped and counted, and the guest goes on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.stats = CharStats()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise DeviceError(f"{self.path}: cannot open console output: {err.strerror}") from err
        self._writer = HostWriter(fd, name="console-file", on_error=self._failed, close_fd=True)

    def _failed(self, err: OSError) -> None:
        _log.warning(
            "console output to %s failed: %s; further output is dropped",
            self.path,
            describe(err),
        )

    def write(self, data: bytes) -> None:
        self.stats.out_bytes += self._writer.write(data)
        self.stats.dropped = self._writer.dropped

    def attach(self, receive: Callable[[bytes], None]) -> None:
        pass

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until queued output reached the file (False: not within ``timeout``)."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        self._writer.close()
        self.stats.dropped = self._writer.dropped


class _FdReader:
    """Shared plumbing: read a file descriptor from the event loop into a callback."""

    def __init__(self) -> None:
        self.stats = CharStats()
        self._receive: Callable[[bytes], None] = _ignore
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading_fd: int | None = None

    def _input_fd(self) -> int | None:
        raise NotImplementedError

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive
        with contextlib.suppress(RuntimeError):  # no running loop yet: start() later
            self.start(asyncio.get_running_loop())

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Begin reading host input on ``loop`` (default: the running loop)."""
        if self._reading_fd is not None:
            return
        fd = self._input_fd()
        if fd is None:
            return
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(fd, self._on_readable)
        self._reading_fd = fd

    def _stop_reading(self) -> None:
        if self._reading_fd is not None and self._loop is not None:
            with contextlib.suppress(Exception):  # the loop may already be closed
                self._loop.remove_reader(self._reading_fd)
        self._reading_fd = None

    def _on_readable(self) -> None:
        assert self._reading_fd is not None
        try:
            data = os.read(self._reading_fd, 4096)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: a pty's other side went away
                _log.warning("console input failed: %s", err)
            data = b""
        if not data:
            self._on_eof()
            return
        self.stats.in_bytes += len(data)
        self._handle_input(data)

    def _on_eof(self) -> None:
        self._stop_reading()

    def _handle_input(self, data: bytes) -> None:
        self._receive(data)


class StdioChar(_FdReader):
    """The terminal the VMM runs in, interactive as QEMU's ``-nographic``.

    On a tty, input is switched to raw mode (Ctrl-C goes to the guest) and
    restored on ``close()``, at interpreter exit and when reading fails. A
    SIGTSTP (``kill -TSTP``; Ctrl-Z itself goes to the guest) gives the terminal
    back cooked and stops avmm; SIGCONT (``fg``) puts it in raw mode again,
    whatever the shell did to it meanwhile.
    ``Ctrl-A x`` calls ``on_quit``; ``Ctrl-A Ctrl-A`` sends one Ctrl-A;
    ``Ctrl-A h`` prints the keys; other ``Ctrl-A`` sequences are ignored.
    """

    HELP = b"\r\nC-a x    quit\r\nC-a C-a  send C-a\r\nC-a h    this help\r\n"

    def __init__(
        self,
        *,
        on_quit: Callable[[], None] | None = None,
        stdin: int | None = None,
        stdout: int | None = None,
    ) -> None:
        super().__init__()
        self._on_quit = on_quit
        self._in = sys.stdin.fileno() if stdin is None else stdin
        self._out = sys.stdout.fileno() if stdout is None else stdout
        self._saved: list[Any] | None = None
        self._escape = False
        self._eof = False
        self._writer = HostWriter(self._out, name="stdout", on_error=self._output_failed)
        self._out_loop: asyncio.AbstractEventLoop | None = None
        self._job_loop: asyncio.AbstractEventLoop | None = None  # TSTP/CONT handlers on it
        self._raw_after_stop = False

    def _input_fd(self) -> int | None:
        return None if self._eof else self._in

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if self._reading_fd is not None:
            return
        self._enter_raw()
        if self._saved is not None:
            self._watch_job_control(loop or asyncio.get_running_loop())
        try:
            super().start(loop)
        except PermissionError:
            # stdin that cannot be polled (/dev/null, a regular file: CI, scripts)
            # gives no interactive input; the guest's output still goes to stdout.
            self.restore_terminal()
            self._eof = True
        except BaseException:
            self.restore_terminal()
            raise

    def _enter_raw(self) -> None:
        if self._saved is not None or not os.isatty(self._in):
            return
        saved = termios.tcgetattr(self._in)
        raw = termios.tcgetattr(self._in)
        raw[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        raw[6][termios.VMIN] = 1
        raw[6][termios.VTIME] = 0
        # Output post-processing stays on, so "\n" from the guest still returns the carriage.
        self._saved = saved
        atexit.register(self.restore_terminal)
        try:
            termios.tcsetattr(self._in, termios.TCSANOW, raw)
        except BaseException:
            self.restore_terminal()
            raise

    def _watch_job_control(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._job_loop is not None:
            return
        try:
            loop.add_signal_handler(signal.SIGTSTP, self._suspend)
            loop.add_signal_handler(signal.SIGCONT, self._continued)
        except (RuntimeError, ValueError):  # not the main thread: no job control here
            return
        self._job_loop = loop

    def _unwatch_job_control(self) -> None:
        loop, self._job_loop = self._job_loop, None
        if loop is not None and not loop.is_closed():
            for signum in (signal.SIGTSTP, signal.SIGCONT):
                loop.remove_signal_handler(signum)

    def _suspend(self) -> None:
        """SIGTSTP: the terminal back as the shell knows it, then stop for real."""
        if self._saved is not None:
            self._raw_after_stop = True
            self.restore_terminal()
        os.kill(os.getpid(), signal.SIGSTOP)

    def _continued(self) -> None:
        """SIGCONT: raw mode again if a stop took it away (the shell sets the
        terminal to its own mode while a job is stopped)."""
        if self._raw_after_stop and not self._eof:
            self._raw_after_stop = False
            self._enter_raw()

    def restore_terminal(self) -> None:
        """Put the terminal back as it was (idempotent)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        atexit.unregister(self.restore_terminal)
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self._in, termios.TCSADRAIN, saved)

    @property
    def raw(self) -> bool:
        return self._saved is not None

    def _on_readable(self) -> None:
        try:
            super()._on_readable()
        except BaseException:
            self.restore_terminal()
            raise

    def _on_eof(self) -> None:
        self._eof = True
        self._stop_reading()

    def _handle_input(self, data: bytes) -> None:
        out = bytearray()
        for byte in data:
            if self._escape:
                self._escape = False
                if byte == ord("x"):
                    if out:
                        self._receive(bytes(out))
                    out.clear()
                    self._quit()
                    return
                if byte == CTRL_A:
                    out.append(CTRL_A)
                elif byte == ord("h"):
                    self._write_all(self.HELP)
            elif byte == CTRL_A:
                self._escape = True
            else:
                out.append(byte)
        if out:
            self._receive(bytes(out))

    def _quit(self) -> None:
        self.restore_terminal()
        if self._on_quit is not None:
            self._on_quit()

    def write(self, data: bytes) -> None:
        if self._out_loop is None:
            with contextlib.suppress(RuntimeError):
                self._out_loop = asyncio.get_running_loop()
        self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        """Queue output for the writer thread: never blocks (a pipe nobody reads,
        a suspended terminal); what does not fit is dropped and counted."""
        self.stats.out_bytes += self._writer.write(data)
        self.stats.dropped = self._writer.dropped

    def _output_failed(self, err: OSError) -> None:
        # On the writer thread: the rest happens on the loop, when there is one.
        loop = self._out_loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._output_lost, err)
                return
        self._output_lost(err)

    def _output_lost(self, err: OSError) -> None:
        """Stdout failed for good. A broken pipe (``avmm run ... | head -1``) means
        nobody reads the console any more: the run stops, as by ``Ctrl-A x``, so
        disks are flushed and the report written. Other errors are logged once and
        the output dropped from then on."""
        if err.errno == errno.EPIPE and self._on_quit is not None:
            _log.warning("console output: %s; stopping", describe(err))
            self._quit()
            return
        _log.warning("console output failed: %s; further output is dropped", describe(err))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until queued output reached stdout (False: not within ``timeout``)."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        self._stop_reading()
        self._unwatch_job_control()
        self._raw_after_stop = False
        self.restore_terminal()
        self._writer.close()
        self.stats.dropped = self._writer.dropped

    def __enter__(self) -> StdioChar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PtyChar(_FdReader):
    """A pseudo-terminal: the guest console appears at ``path`` (e.g. /dev/pts/3).

    Output is dropped (and counted) while no one drains the terminal, rather
    than ever blocking the event loop.
    """

    def __init__(self) -> None:
        super().__init__()
        try:
            self._master, self._slave = os.openpty()
        except OSError as err:
            raise DeviceError(f"cannot open a pty: {err.strerror}") from err
        self.path = os.ttyname(self._slave)
        # Raw on the slave side: the client sees the guest's bytes untouched.
        mode = termios.tcgetattr(self._slave)
        mode[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        mode[1] &= ~termios.OPOST
        mode[2] = (mode[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        termios.tcsetattr(self._slave, termios.TCSANOW, mode)
        os.set_blocking(self._master, False)
        self._closed = False

    def _input_fd(self) -> int | None:
        return None if self._closed else self._master

    def write(self, data: bytes) -> None:
        if self._closed:
            self.stats.dropped += len(data)
            return
        try:
            written = os.write(self._master, data)
        except (BlockingIOError, OSError):
            written = 0
        self.stats.out_bytes += written
        self.stats.dropped += len(data) - written

    def close(self) -> None:
        if self._closed:
            return
        self._stop_reading()
        self._closed = True
        os.close(self._slave)
        self._drain()
        os.close(self._master)

    def _drain(self) -> None:
        """Give a reader the guest's last words: closing the master discards what
        the slave side has not read yet (a poweroff message, a report). With our
        own slave fd closed, a hang-up on the master means nobody else has the
        terminal open; otherwise wait, at most DRAIN_SECONDS, while bytes are queued.
        Bytes written to the master reach the slave's queue through the kernel's
        flip buffer a moment later, so an empty queue counts only after DRAIN_SETTLE."""
        poller = select.poll()
        poller.register(self._master, select.POLLHUP)
        if any(ev & select.POLLHUP for _, ev in poller.poll(0)):
            return
        try:
            probe = os.open(self.path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            start = time.monotonic()
            while time.monotonic() - start < DRAIN_SECONDS:
                if not _queued(probe) and time.monotonic() - start >= DRAIN_SETTLE:
                    break
                time.sleep(0.01)
        finally:
            os.close(probe)


# PtyChar.close: the longest a connected reader gets to take what was written last.
DRAIN_SECONDS = 2.0
DRAIN_SETTLE = 0.1


def _queued(fd: int) -> int:
    """Bytes waiting to be read on a terminal fd."""
    try:
        buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(buf, sys.byteorder)


class _TcpClient(asyncio.Protocol):
    def __init__(self, owner: TcpChar) -> None:
        self._owner = owner
        self.transport: asyncio.WriteTransport | None = None
        self.idle: IdleTimer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.WriteTransport, transport)
        gate = self._owner.gate
        if not gate.enter():
            transport.write(b"avmm: this console already has a client\r\n")
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            keepalive(sock)
        self.transport = transport
        self.idle = IdleTimer(asyncio.get_running_loop(), gate, transport.close)
        self._owner._client = self

    def data_received(self, data: bytes) -> None:
        if self._owner._client is self:
            if self.idle is not None:
                self.idle.touch()
            self._owner.stats.in_bytes += len(data)
            self._owner._receive(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle is not None:
            self.idle.cancel()
        if self._owner._client is self:
            self._owner._client = None
        if self.transport is not None:
            self.transport = None
            self._owner.gate.leave()


class TcpChar:
    """A TCP server for the console, one client at a time (raw bytes, no telnet).

    ``await start()`` binds it; ``port`` is then the bound port (useful with
    port 0). Output while no client is connected is dropped and counted, as is
    output beyond MAX_TCP_BUFFER queued for a slow client. A second client is
    told the console is taken and closed; a client silent both ways for
    INTERACTIVE_IDLE_SECONDS is closed (the listener limits, :mod:`listen`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "console",
        idle_timeout: float | None = INTERACTIVE_IDLE_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.stats = CharStats()
        self.gate = ConnectionGate(
            name, max_connections=INTERACTIVE_MAX_CONNECTIONS, idle_timeout=idle_timeout
        )
        self._receive: Callable[[bytes], None] = _ignore
        self._server: asyncio.AbstractServer | None = None
        self._client: _TcpClient | None = None

    async def start(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _TcpClient(self), self.host, self.port)
        except OSError as err:
            raise DeviceError(
                f"cannot listen for the console on {self.host}:{self.port}: {err.strerror}"
            ) from err
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def connected(self) -> bool:
        return self._client is not None

    def write(self, data: bytes) -> None:
        client = self._client
        if client is None or client.transport is None:
            self.stats.dropped += len(data)
            return
        if client.transport.get_write_buffer_size() > MAX_TCP_BUFFER:
            self.stats.dropped += len(data)
            return
        if client.idle is not None:
            client.idle.touch()
        client.transport.write(data)
        self.stats.out_bytes += len(data)

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive

    def close(self) -> None:
        if self._client is not None and self._client.transport is not None:
            self._client.transport.close()
        self._client = None
        self.gate.close()
        if self._server is not None:
            self._server.close()
            self._server = None
