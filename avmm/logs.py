"""avmm's log lines: one ``logging`` set-up, every line ``avmm: VM: message``.

Everything avmm tells its user while it runs (notices, warnings, guest errors,
the end-of-run summary) goes through the standard :mod:`logging` module under
the ``avmm`` logger, configured once by the command line (:func:`configure`):
``-v`` shows debug lines, ``-q`` only warnings and errors, ``--log-file``
copies every line, with a timestamp, to a file. A library user who never
calls :func:`configure` keeps Python's defaults.

A line names its VM without each caller passing it: :meth:`avmm.runtime.vm.Vm.run`
sets :data:`VM_NAME` before it starts the vCPU tasks, asyncio copies the
context into every task they start (device work included), and the formatter
puts the name after ``avmm:``. This module imports only the standard library,
so ``avmm --help`` and ``avmm validate`` stay fast.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import queue
import sys
import threading
from pathlib import Path
from typing import TextIO

# The VM whose task logs a line (None outside a VM's tasks).
VM_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar("avmm_vm", default=None)

LOGGER = "avmm"
#: Lines waiting for the writer thread at most; past it new lines are dropped
#: (and counted) rather than block the event loop on a stderr nobody reads.
QUEUE_LINES = 4096
#: How long the end of a run waits for the lines still queued to be written.
DRAIN_SECONDS = 2.0
# -q -q .. -v -v: the level of the `avmm` logger; 0 is the default.
LEVELS = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class VmFilter(logging.Filter):
    """Puts ``record.vm`` (the VM name, or none) on every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "vm"):
            record.vm = VM_NAME.get()
        return True


class Formatter(logging.Formatter):
    """``avmm: VM: message`` (``avmm: warning: VM: ...`` for problems).

    A message that already starts with its VM's name (``vm: reboot 1``) gets
    no second one. Every line of a multi-line message carries the prefix, so
    a reader (or grep) never sees a line that does not say where it came from.
    """

    def __init__(self, stamp: bool = False) -> None:
        super().__init__()
        self._stamp = stamp

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        vm = getattr(record, "vm", None)
        prefix = "avmm: "
        if record.levelno >= logging.ERROR:
            prefix += "error: "
        elif record.levelno >= logging.WARNING:
            prefix += "warning: "
        if vm and not message.startswith(f"{vm}: "):
            prefix += f"{vm}: "
        if self._stamp:
            prefix = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + " " + prefix
        return "\n".join(prefix + line for line in message.splitlines() or [""])


class _Pump(logging.Handler):
    """The ``avmm`` logger's one handler: it takes a record on the caller's thread
    (the event loop's, mostly) into a bounded queue and returns at once; a writer
    thread hands the records to the real handlers (stderr, the log file), whose
    writes may block. A full queue drops the line and counts it; once the writer
    catches up it says how many were lost."""

    def __init__(self, handlers: list[logging.Handler]) -> None:
        super().__init__()
        self.addFilter(VmFilter())  # on the caller's thread: its context names the VM
        self.handlers = handlers
        self.dropped = 0
        self._told = 0
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(QUEUE_LINES)
        self._thread = threading.Thread(target=self._write, name="avmm-log", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()  # the arguments as they are now
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _write(self) -> None:
        while (record := self._queue.get()) is not None:
            if record.exc_text:
                record.msg = f"{record.msg}\n{record.exc_text}"
                record.exc_text = None
            for handler in self.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
            if self.dropped > self._told:
                lost, self._told = self.dropped - self._told, self.dropped
                note = logging.LogRecord(
                    LOGGER, logging.WARNING, __file__, 0,
                    f"{lost} log line(s) dropped: nobody read them in time", None, None,
                )  # fmt: skip
                note.vm = None
                for handler in self.handlers:
                    handler.handle(note)

    def close(self) -> None:
        """Write what is queued (for at most DRAIN_SECONDS), then close the handlers."""
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=DRAIN_SECONDS)
            self._thread.join(DRAIN_SECONDS)
        for handler in self.handlers:
            handler.close()
        super().close()


def configure(
    verbosity: int = 0, log_file: Path | None = None, stream: TextIO | None = None
) -> None:
    """Set up the ``avmm`` logger once: stderr at the level ``verbosity`` picks,
    and ``log_file`` (appended to) at the same level with timestamps. Lines are
    written by a thread of their own, so a stderr nobody reads never blocks the
    VMs (:class:`_Pump`); what is queued is written at exit.

    Idempotent: a second call replaces the handlers of the first.
    """
    logger = logging.getLogger(LOGGER)
    level = LEVELS[max(min(verbosity, 1), -2)]
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(Formatter())
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(Formatter(stamp=True))
        handlers.append(to_file)
    pump = _Pump(handlers)
    logger.addHandler(pump)
    atexit.register(pump.close)
    logger.setLevel(level)
    logger.propagate = False


def configured() -> bool:
    """Has :func:`configure` set up the ``avmm`` logger?"""
    return any(isinstance(h, _Pump) for h in logging.getLogger(LOGGER).handlers)


def dropped() -> int:
    """Log lines dropped so far because nobody read them in time."""
    return sum(h.dropped for h in logging.getLogger(LOGGER).handlers if isinstance(h, _Pump))


def get(name: str) -> logging.Logger:
    """The logger of one part of avmm (``avmm.NAME``)."""
    return logging.getLogger(f"{LOGGER}.{name}")
