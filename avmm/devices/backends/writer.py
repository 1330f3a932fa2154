"""A bounded, non-blocking writer for host file descriptors that may block.

Guest output to stdout, a file or a pipe must never stop the event loop: a
pipe nobody reads fills in 64 KiB, a full filesystem raises ENOSPC, a
suspended terminal blocks. :class:`HostWriter` takes bytes on the loop
without ever blocking: they go into a buffer of at most ``limit`` bytes, and a
thread of its own does the blocking writes. What does not fit is dropped and
counted (as a UART drops what an absent reader never takes). The first write
error (EPIPE: the reader went away; ENOSPC; EIO: the terminal hung up) is
reported once through ``on_error``; every later byte is dropped and counted.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable

MAX_HOST_OUTPUT = 1 << 20  # bytes waiting for a slow host fd before output is dropped
CLOSE_SECONDS = 2.0  # how long close() waits for the buffer to drain


class HostWriter:
    """Guest output to one host fd, through a bounded buffer and a writer thread.

    ``write`` never blocks; ``flush`` and ``close`` wait at most their timeout.
    ``on_error`` is called once, from the writer thread, with the first
    ``OSError`` (the owner hops to its event loop if it must).
    """

    def __init__(
        self,
        fd: int,
        *,
        name: str,
        limit: int = MAX_HOST_OUTPUT,
        on_error: Callable[[OSError], None] | None = None,
        close_fd: bool = False,
    ) -> None:
        self.fd = fd
        self.name = name
        self.limit = limit
        self.written = 0  # bytes the fd took
        self.dropped = 0  # bytes lost: buffer full, a write error, closed
        self.error: OSError | None = None
        self._on_error = on_error
        self._close_fd = close_fd
        self._buf = bytearray()
        self._busy = False  # the thread holds bytes taken from _buf
        self._closed = False
        self._done = False  # the writer thread has ended (or never started)
        self._fd_closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def write(self, data: bytes) -> int:
        """Queue ``data``; returns how many bytes were taken (the rest is dropped)."""
        with self._cond:
            if self._closed or self.error is not None:
                self.dropped += len(data)
                return 0
            room = self.limit - len(self._buf)
            if room < len(data):
                self.dropped += len(data) - max(room, 0)
                data = data[: max(room, 0)]
            if not data:
                return 0
            self._buf += data
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"avmm-writer-{self.name}", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return len(data)

    @property
    def pending(self) -> int:
        """Bytes queued and not yet written."""
        with self._cond:
            return len(self._buf)

    def flush(self, timeout: float = CLOSE_SECONDS) -> bool:
        """Wait until the buffer is written (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._buf or self._busy:
                if self.error is not None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Write what is queued (waiting at most ``timeout``), then stop; bytes the
        fd did not take in time are counted as dropped."""
        self.flush(timeout)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self.dropped += len(self._buf)
            self._buf.clear()
            self._cond.notify()
            if self._thread is None or self._done:
                self._release_fd()
            # else the thread closes the fd when its last write returns

    def _release_fd(self) -> None:
        if self._close_fd and not self._fd_closed:
            self._fd_closed = True
            os.close(self.fd)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            with self._cond:
                self._done = True
                if self._closed:
                    self._release_fd()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._buf and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                data = bytes(self._buf)
                self._buf.clear()
                self._busy = True
            done = self._write_all(data)
            with self._cond:
                self._busy = False
                self.written += done
                self.dropped += len(data) - done
                self._cond.notify_all()
                if self.error is not None:
                    self._buf.clear()
                    return

    def _write_all(self, data: bytes) -> int:
        view = memoryview(data)
        done = 0
        while done < len(data):
            try:
                done += os.write(self.fd, view[done:])
            except BlockingIOError:
                time.sleep(0.01)  # an fd someone else made non-blocking: try again
            except InterruptedError:
                continue
            except OSError as err:
                with self._cond:
                    self.error = err
                if self._on_error is not None:
                    self._on_error(err)
                return done
        return done


def describe(err: OSError) -> str:
    """A write error in a few words, for the one line the user sees."""
    if err.errno == errno.EPIPE:
        return "broken pipe (the reader went away)"
    return err.strerror or str(err)
