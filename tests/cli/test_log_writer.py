"""Log lines reach stderr through a writer thread of their own: a stderr that
nobody reads costs dropped lines (counted), never a stalled VMM."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest

from avmm import logs


class _Stuck(io.StringIO):
    """A stderr whose reader went away: every write waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)


@pytest.fixture
def stuck() -> _Stuck:
    stream = _Stuck()
    logs.configure(0, stream=stream)
    yield stream
    stream.release.set()
    logs.configure(0)  # back to stderr for the rest of the session


def test_logging_never_waits_for_a_stderr_nobody_reads(stuck: _Stuck) -> None:
    log = logs.get("test")
    start = time.monotonic()
    for i in range(logs.QUEUE_LINES + 500):
        log.info("line %d", i)
    assert time.monotonic() - start < 30  # a hang guard: a blocking write never returns
    assert logs.dropped() >= 500 - 1  # the writer holds one line while it waits
    stuck.release.set()
    end = time.monotonic() + 30
    while "dropped: nobody read them in time" not in stuck.getvalue():
        assert time.monotonic() < end, "the writer never caught up"
        time.sleep(0.01)
    text = stuck.getvalue()
    assert text.startswith("avmm: line 0\n")
    assert "avmm: warning: " in text


def test_lines_keep_their_order_and_the_vm_they_came_from() -> None:
    stream = io.StringIO()
    logs.configure(0, stream=stream)
    try:
        token = logs.VM_NAME.set("web")
        try:
            logs.get("test").warning("disk %s is slow", "vda")
        finally:
            logs.VM_NAME.reset(token)
        logs.get("test").error("and then %d", 2)
        pump = next(h for h in logging.getLogger("avmm").handlers)
        pump.close()  # writes what is queued, as at exit
        assert stream.getvalue() == (
            "avmm: warning: web: disk vda is slow\navmm: error: and then 2\n"
        )
    finally:
        logs.configure(0)
