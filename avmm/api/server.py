"""The control API's server: a Unix socket (and optionally TCP on 127.0.0.1).

It runs on the event loop the vCPUs run on, so a command always lands
between two slices. Nothing a client does can hold the VMs up: every read
and write is non-blocking with bounded buffers, request lines are bounded
(:data:`~avmm.api.protocol.MAX_LINE`), a client that sends nothing for
``idle_timeout`` seconds is dropped, one that does not take its replies
within :data:`SEND_TIMEOUT` or lets :data:`EVENT_BACKLOG` bytes of events pile
up is dropped, and at most ``max_clients`` are connected at once (one more
gets a TooManyClients error and is closed). Garbage gets an error reply and
the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avmm.api.commands import Controller, run_command
from avmm.api.protocol import (
    CAPABILITIES,
    CAPABILITIES_NEEDED,
    GENERIC_ERROR,
    INVALID_ARGUMENT,
    LINE_TOO_LONG,
    MAX_LINE,
    PARSE_ERROR,
    PROTOCOL,
    TOO_MANY_CLIENTS,
    ApiError,
    encode,
    error_reply,
    event_message,
    return_reply,
)
from avmm.errors import ConfigError
from avmm.runtime.events import VmExitEvent
from avmm.version import __version__

if TYPE_CHECKING:
    from avmm.board.virt import Board
    from avmm.config import ApiConfig
    from avmm.runtime.events import Subscription
    from avmm.runtime.host import Host

_log = logging.getLogger("avmm.api")

READ_CHUNK = 64 * 1024
SEND_TIMEOUT = 10.0  # seconds a client may take to accept a reply
EVENT_BACKLOG = 1 << 20  # bytes of unsent events before a client is dropped


class ApiServer:
    """Serves the commands of :mod:`avmm.api.commands` to line-JSON clients."""

    def __init__(
        self,
        host: Host,
        boards: Mapping[str, Board],
        *,
        path: Path | None = None,
        listen: str = "",
        max_clients: int = 8,
        idle_timeout: float | None = 600.0,
    ) -> None:
        self.host = host
        self.controller = Controller(host, boards, self.publish)
        self.path = path
        self.listen = listen
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout or None
        self.addresses: list[str] = []
        self.sessions: set[_Session] = set()
        self.refused = 0
        self.served = 0
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._events: Subscription | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen (the socket file is the owner's only: mode 0600)."""
        try:
            if self.path is not None:
                await self._start_unix(self.path)
            if self.listen:
                await self._start_tcp(self.listen)
        except BaseException:
            await self.close()
            raise
        self._events = self.host.events.subscribe([VmExitEvent], maxsize=256)
        self._watch = asyncio.get_running_loop().create_task(self._watch_vms())

    async def _start_unix(self, path: Path) -> None:
        try:
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()  # left by an avmm that did not exit cleanly
            else:
                raise ConfigError("api.path", f"{path} exists and is not a socket")
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self._accept, path=str(path))
        except OSError as err:
            raise ConfigError(
                "api.path", f"cannot listen on {path}: {err.strerror or err}"
            ) from None
        finally:
            os.umask(old)
        self._servers.append(server)
        self.addresses.append(str(path))

    async def _start_tcp(self, spec: str) -> None:
        host, _, port = spec.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        try:
            server = await asyncio.start_server(self._accept, host, int(port))
        except OSError as err:
            raise ConfigError(
                "api.listen", f"cannot listen on {host}:{port}: {err.strerror or err}"
            ) from None
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        self.addresses.append(f"tcp:{bound[0]}:{bound[1]}")

    async def close(self) -> None:
        """Stop listening, drop every client, remove the socket file."""
        for server in self._servers:
            server.close()
        self._servers.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._events is not None:
            self.host.events.unsubscribe(self._events)
            self._events = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
        if self.path is not None and self.addresses:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(self.path.lstat().st_mode):
                    self.path.unlink()
        self.addresses.clear()

    # ------------------------------------------------------------ events

    def publish(self, name: str, data: dict[str, Any]) -> None:
        """Send an event to every client that enabled events (never blocks)."""
        line = encode(event_message(name, data))
        for session in list(self.sessions):
            if session.events:
                session.send_event(line)

    async def _watch_vms(self) -> None:
        """SHUTDOWN when a VM ends, RESET when it reboots (by the guest or by us)."""
        assert self._events is not None
        while True:
            event = await self._events.get()
            if isinstance(event, VmExitEvent):
                if event.reboot:
                    self.publish("RESET", {"vm": event.vm})
                else:
                    self.publish(
                        "SHUTDOWN", {"vm": event.vm, "exit": event.exit, "code": event.code}
                    )

    # ------------------------------------------------------------ clients

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if len(self.sessions) >= self.max_clients:
                self.refused += 1
                writer.write(
                    encode(
                        error_reply(
                            TOO_MANY_CLIENTS, f"{self.max_clients} clients are connected already"
                        )
                    )
                )
                return
            session = _Session(self, reader, writer)
            self.sessions.add(session)
            self.served += 1
            try:
                await session.run()
            finally:
                self.sessions.discard(session)
        except asyncio.CancelledError:
            pass  # the server is closing
        except Exception:  # a session must never take the VMM down
            _log.exception("control API session failed; the VMs go on")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()


class _Gone(Exception):
    """The client went away, stayed idle or did not take what it was sent."""


class _Session:
    """One connected client: the greeting, negotiation, then one command per line."""

    def __init__(
        self, server: ApiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.negotiated = False
        self.events = False

    async def run(self) -> None:
        greeting = {
            "avmm": __version__,
            "protocol": PROTOCOL,
            "capabilities": list(CAPABILITIES),
            "vms": list(self.server.host.vms),
        }
        try:
            await self._reply({"greeting": greeting})
            async for line in self._lines():
                if line is None:
                    await self._reply(
                        error_reply(
                            LINE_TOO_LONG, f"a request line is longer than {MAX_LINE} bytes"
                        )
                    )
                    continue
                if line.strip():
                    await self._reply(await self._handle(line))
        except _Gone:
            pass

    async def _lines(self) -> AsyncIterator[bytes | None]:
        """Complete lines; None once for each line too long (skipped to its newline)."""
        buf = bytearray()
        skipping = False
        while True:
            try:
                chunk = await asyncio.wait_for(
                    self.reader.read(READ_CHUNK), self.server.idle_timeout
                )
            except TimeoutError:
                _log.info("control API client idle for %gs: dropped", self.server.idle_timeout)
                raise _Gone from None
            except (ConnectionError, OSError):
                raise _Gone from None
            if not chunk:
                raise _Gone
            buf += chunk
            while True:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > MAX_LINE:
                        if not skipping:
                            skipping = True
                            yield None
                        buf.clear()
                    break
                line = bytes(buf[:end])
                del buf[: end + 1]
                if skipping or len(line) >= MAX_LINE:
                    if not skipping:
                        yield None
                    skipping = False
                    continue
                yield line

    async def _handle(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return error_reply(PARSE_ERROR, "not a JSON object (one per line)")
        if not isinstance(request, dict):
            return error_reply(PARSE_ERROR, "not a JSON object (one per line)")
        ident = request.get("id")
        command = request.get("execute")
        extra = set(request) - {"execute", "arguments", "id"}
        if not isinstance(command, str) or extra:
            what = f'unknown key "{sorted(extra)[0]}"' if extra else 'no "execute" string'
            return error_reply(PARSE_ERROR, f"{what} in the request", ident)
        try:
            if command == "capabilities":
                return return_reply(self._negotiate(request.get("arguments")), ident)
            if not self.negotiated:
                raise ApiError(CAPABILITIES_NEEDED, 'send "capabilities" first')
            value = await run_command(self.server.controller, command, request.get("arguments"))
            return return_reply(value, ident)
        except ApiError as err:
            return error_reply(err.cls, err.desc, ident)
        except Exception as err:  # a bug in a command: an error reply, never a crash
            _log.exception("control API command %s failed", command)
            return error_reply(GENERIC_ERROR, f"{command}: internal error: {err}", ident)

    def _negotiate(self, arguments: object) -> dict[str, Any]:
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict) or set(arguments) - {"enable"}:
            raise ApiError(INVALID_ARGUMENT, 'capabilities takes only "enable"')
        enable = arguments.get("enable", [])
        if not isinstance(enable, list) or any(c not in CAPABILITIES for c in enable):
            raise ApiError(
                INVALID_ARGUMENT, f'"enable" must be a list of: {", ".join(CAPABILITIES)}'
            )
        self.negotiated = True
        self.events = "events" in enable
        return {"enabled": sorted(set(enable))}

    async def _reply(self, message: dict[str, Any]) -> None:
        if self.writer.is_closing():
            raise _Gone
        self.writer.write(encode(message))
        try:
            await asyncio.wait_for(self.writer.drain(), SEND_TIMEOUT)
        except TimeoutError:
            _log.info("control API client did not read its reply in %gs: dropped", SEND_TIMEOUT)
            self.writer.transport.abort()
            raise _Gone from None
        except (ConnectionError, OSError):
            raise _Gone from None

    def send_event(self, line: bytes) -> None:
        transport = self.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > EVENT_BACKLOG:
            _log.info("control API client does not read its events: dropped")
            transport.abort()
            return
        self.writer.write(line)


async def start_api(host: Host, boards: Any, config: ApiConfig) -> ApiServer | None:
    """The control API ``[api]`` asks for, listening, or None when it is off; it
    closes with the host (its shutdown hooks), however the run ends."""
    if not config.enabled:
        return None
    server = ApiServer(
        host,
        {b.config.name: b for b in boards},
        path=config.path,
        listen=config.listen,
        max_clients=config.max_clients,
        idle_timeout=config.idle_timeout,
    )
    await server.start()
    host.on_shutdown(server.close)
    return server
