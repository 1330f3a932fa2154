"""A blocking client of the control API, shared by ``avmm ctl`` and the tests.

    with ApiClient("/tmp/avmm.sock") as api:
        api.execute("pause", vm="vm")
        print(api.execute("info", vm="vm")["state"])      # "paused"

Blocking sockets with a timeout keep it small and usable from any script;
the server is the asyncio side. Events that arrive while the client waits
for a reply are kept in :attr:`ApiClient.events` (when it asked for them).
"""

from __future__ import annotations

import json
import socket
from collections import deque
from types import TracebackType
from typing import Any

from avmm.api.protocol import PARSE_ERROR, ApiError
from avmm.errors import AvmmError

DEFAULT_TIMEOUT = 10.0


class ApiConnectionError(AvmmError):
    """The server cannot be reached, or closed the connection."""


def parse_address(spec: str) -> tuple[str, int] | str:
    """``tcp:[HOST:]PORT`` -> (host, port) (host 127.0.0.1 by default); else a
    Unix socket path."""
    if not spec.startswith("tcp:"):
        if not spec:
            raise ApiConnectionError("an empty socket path")
        return spec
    rest = spec[4:]
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = "", rest
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ApiConnectionError(f'"{spec}" is not tcp:PORT or tcp:HOST:PORT')
    return host.strip("[]") or "127.0.0.1", int(port)


class ApiClient:
    """One connection: the greeting read, capabilities negotiated, then commands."""

    def __init__(
        self, address: str, *, timeout: float = DEFAULT_TIMEOUT, events: bool = False
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.events: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._next_id = 0
        where = parse_address(address)
        try:
            if isinstance(where, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            else:
                sock = socket.socket(socket.AF_INET6 if ":" in where[0] else socket.AF_INET)
            sock.settimeout(timeout)
            sock.connect(where)
        except OSError as err:
            sock.close()
            raise ApiConnectionError(
                f"cannot connect to {address}: {err.strerror or err}"
            ) from None
        self._sock = sock
        self._file = sock.makefile("rb")
        try:
            first = self._read()
            if "error" in first:  # e.g. TooManyClients, then the server closes
                raise _error_of(first)
            greeting = first.get("greeting")
            if not isinstance(greeting, dict):
                raise ApiConnectionError(f"{address} did not greet as an avmm control API")
            self.greeting: dict[str, Any] = greeting
            self.execute("capabilities", enable=["events"] if events else [])
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ commands

    def request(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command; the raw reply (``return`` or ``error``), events kept aside."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"execute": command, "id": ident}
        if arguments:
            message["arguments"] = arguments
        self._send(json.dumps(message).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") == ident or "id" not in reply:
                return reply

    def execute(self, command: str, **arguments: Any) -> Any:
        """Run ``command``; its ``return`` value, or :class:`ApiError` for an error reply."""
        reply = self.request(command, arguments)
        if "error" in reply:
            raise _error_of(reply)
        return reply.get("return")

    def wait_event(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        """The first event called ``name`` (already received or next to come)."""
        for event in list(self.events):
            if event.get("event") == name:
                self.events.remove(event)
                return event
        self._sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            while True:
                message = self._read()
                if message.get("event") == name:
                    return message
                if "event" in message:
                    self.events.append(message)
        finally:
            self._sock.settimeout(self.timeout)

    # ------------------------------------------------------------ plumbing

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as err:
            raise ApiConnectionError(f"{self.address}: {err.strerror or err}") from None

    def _read(self) -> dict[str, Any]:
        try:
            line = self._file.readline()
        except TimeoutError:
            raise ApiConnectionError(
                f"{self.address}: no answer within {self._sock.gettimeout():g} s"
            ) from None
        except OSError as err:
            raise ApiConnectionError(f"{self.address}: {err.strerror or err}") from None
        if not line:
            raise ApiConnectionError(f"{self.address} closed the connection")
        try:
            message = json.loads(line)
        except ValueError:
            raise ApiError(
                PARSE_ERROR, f"the server sent a line that is not JSON: {line[:80]!r}"
            ) from None
        if not isinstance(message, dict):
            raise ApiError(PARSE_ERROR, "the server sent JSON that is not an object")
        return message

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _error_of(reply: dict[str, Any]) -> ApiError:
    error = reply.get("error")
    if not isinstance(error, dict):
        return ApiError(PARSE_ERROR, f"a malformed error reply: {reply!r:.80}")
    return ApiError(str(error.get("class", "")), str(error.get("desc", "")))
