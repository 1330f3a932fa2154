"""The control API's wire format: JSON objects, one per line, QMP-shaped.

Shared by the server (:mod:`avmm.api.server`) and the client
(:mod:`avmm.api.client`); imports nothing of the runtime, so ``avmm ctl``
starts without loading the core. README.md's "Control API" section is the
reference a user reads; the names here are what it documents.

A session: the server greets, the client negotiates capabilities, then
sends commands; replies carry the command's ``id``, events never do::

    S: {"greeting": {"avmm": "0.1.0", "protocol": 1, "capabilities": ["events"], "vms": ["vm"]}}
    C: {"execute": "capabilities", "arguments": {"enable": ["events"]}, "id": 1}
    S: {"return": {"enabled": ["events"]}, "id": 1}
    C: {"execute": "pause", "arguments": {"vm": "vm"}, "id": 2}
    S: {"event": "STOP", "data": {"vm": "vm"}, "timestamp": {"seconds": 1, "microseconds": 2}}
    S: {"return": {"vm": "paused"}, "id": 2}
"""

from __future__ import annotations

import json
import time
from typing import Any

from avmm.errors import AvmmError

PROTOCOL = 1
# The longest request line the server reads (newline included); a longer one is
# answered with LineTooLong and skipped up to its newline.
MAX_LINE = 64 * 1024
CAPABILITIES = ("events",)

# Error classes (the "class" of an error reply).
PARSE_ERROR = "ParseError"  # not UTF-8 JSON, not an object, no "execute"
LINE_TOO_LONG = "LineTooLong"
CAPABILITIES_NEEDED = "CapabilitiesNeeded"  # a command before "capabilities"
COMMAND_NOT_FOUND = "CommandNotFound"
INVALID_ARGUMENT = "InvalidArgument"  # unknown, missing or ill-typed argument
NOT_FOUND = "NotFound"  # no VM (or vCPU) of that name
INVALID_STATE = "InvalidState"  # e.g. resuming a VM that has ended
TOO_MANY_CLIENTS = "TooManyClients"  # sent once, then the connection closes
GENERIC_ERROR = "GenericError"  # the command failed; "desc" says why

ERROR_CLASSES = (
    PARSE_ERROR,
    LINE_TOO_LONG,
    CAPABILITIES_NEEDED,
    COMMAND_NOT_FOUND,
    INVALID_ARGUMENT,
    NOT_FOUND,
    INVALID_STATE,
    TOO_MANY_CLIENTS,
    GENERIC_ERROR,
)


class ApiError(AvmmError):
    """An error reply: ``cls`` is one of :data:`ERROR_CLASSES`, ``desc`` one line.

    Command handlers raise it to answer with an error; the client raises it
    when the server answered with one.
    """

    def __init__(self, cls: str, desc: str) -> None:
        self.cls = cls
        self.desc = desc
        super().__init__(desc)


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of compact JSON (non-ASCII escaped: the line is ASCII)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def error_reply(cls: str, desc: str, ident: Any = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"error": {"class": cls, "desc": desc}}
    if ident is not None:
        reply["id"] = ident
    return reply


def return_reply(value: Any, ident: Any = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"return": value}
    if ident is not None:
        reply["id"] = ident
    return reply


def event_message(name: str, data: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """An asynchronous event, stamped with the host's wall time as QMP does."""
    now = time.time() if now is None else now
    seconds = int(now)
    return {
        "event": name,
        "data": data,
        "timestamp": {"seconds": seconds, "microseconds": int((now - seconds) * 1e6)},
    }
