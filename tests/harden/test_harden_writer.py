"""The bounded writer every blocking-capable console output goes through."""

from __future__ import annotations

import errno
import os
import threading

from avmm.devices.backends.writer import HostWriter

KiB = 1 << 10


def test_a_pipe_nobody_reads_keeps_at_most_the_limit_and_counts_the_rest() -> None:
    r, w = os.pipe()
    writer = HostWriter(w, name="t", limit=256 * KiB, close_fd=True)
    taken = sum(writer.write(b"a" * (64 * KiB)) for _ in range(64))  # 4 MiB offered
    # The pipe holds ~64 KiB, the buffer 256 KiB: the rest was dropped, at once.
    assert taken <= 256 * KiB + 64 * KiB + 64 * KiB
    assert writer.dropped == 4096 * KiB - taken
    assert not writer.flush(0.2)  # nobody reads: the buffer cannot drain
    got = bytearray()
    reader = threading.Thread(target=lambda: _drain(r, got))
    reader.start()  # someone reads at last: everything taken arrives
    assert writer.flush(30)
    writer.close()
    reader.join(30)
    os.close(r)
    assert len(got) == writer.written == taken


def _drain(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 1 << 16):
        into += chunk


def test_a_write_error_is_reported_once_and_later_output_is_counted() -> None:
    errors: list[OSError] = []
    seen = threading.Event()

    def failed(err: OSError) -> None:
        errors.append(err)
        seen.set()

    fd = os.open("/dev/full", os.O_WRONLY)
    writer = HostWriter(fd, name="full", on_error=failed, close_fd=True)
    writer.write(b"first")
    assert seen.wait(10)
    for _ in range(100):
        writer.write(b"more")
    writer.close()
    assert [e.errno for e in errors] == [errno.ENOSPC]
    assert writer.written == 0
    assert writer.dropped == 5 + 400


def test_close_writes_what_is_queued() -> None:
    r, w = os.pipe()
    writer = HostWriter(w, name="t", close_fd=True)
    writer.write(b"last words\n")
    writer.close()
    assert os.read(r, 100) == b"last words\n"
    assert os.read(r, 100) == b""  # the writer closed its fd
    os.close(r)
