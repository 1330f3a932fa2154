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

import contextvars
import logging
import sys
from pathlib import Path
from typing import TextIO

# The VM whose task logs a line (None outside a VM's tasks).
VM_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar("avmm_vm", default=None)

LOGGER = "avmm"
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


def configure(
    verbosity: int = 0, log_file: Path | None = None, stream: TextIO | None = None
) -> None:
    """Set up the ``avmm`` logger once: stderr at the level ``verbosity`` picks,
    and ``log_file`` (appended to) at the same level with timestamps.

    Idempotent: a second call replaces the handlers of the first.
    """
    logger = logging.getLogger(LOGGER)
    level = LEVELS[max(min(verbosity, 1), -2)]
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(Formatter())
    console.addFilter(VmFilter())
    logger.addHandler(console)
    if log_file is not None:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(Formatter(stamp=True))
        to_file.addFilter(VmFilter())
        logger.addHandler(to_file)
    logger.setLevel(level)
    logger.propagate = False


def get(name: str) -> logging.Logger:
    """The logger of one part of avmm (``avmm.NAME``)."""
    return logging.getLogger(f"{LOGGER}.{name}")
