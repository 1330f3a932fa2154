"""The gdb remote serial protocol server of one VM (all-stop mode).

One client at a time on TCP or a Unix socket; a second is refused (closed at
once). Every vCPU is a gdb thread (id = vCPU index + 1). A client that goes
away, detaches or stays silent past ``idle_timeout`` leaves the VM running
with no breakpoints; ``k`` stops the VM. Malformed packets get ``-`` (bad
checksum), an empty reply (unknown) or ``E..`` (bad arguments); nothing a
client sends stops the VM by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

import attrs

from avmm.devices.backends.listen import INTERACTIVE_MAX_CONNECTIONS, ConnectionGate, keepalive
from avmm.errors import ConfigError
from avmm.gdb import commands
from avmm.gdb.packets import (
    Ack,
    BadPacket,
    Interrupt,
    Item,
    Packet,
    PacketReader,
    escape,
    frame,
    unescape,
)
from avmm.gdb.target import (
    Action,
    DebugTarget,
    DebugTargetError,
    StopEvent,
    StopKind,
    WatchKind,
)
from avmm.gdb.tdesc import RegisterMap

_log = logging.getLogger("avmm.gdb")

PACKET_SIZE = 0x4000  # what we accept; advertised as PacketSize
MAX_READ = 0x1000  # bytes of memory per 'm' reply
MAX_QUEUED_PACKETS = 64  # parsed packets waiting for the session before reading pauses
DEFAULT_PORT = 1234
SUPPORTED = (
    f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;vContSupported+;"
    "swbreak+;hwbreak+;QStartNoAckMode+"
)
VCONT = b"vCont;c;C;s;S;t"
SIGINT, SIGTRAP = 2, 5


@attrs.frozen
class Listen:
    """Where the server listens: ``HOST:PORT``, ``:PORT``, ``PORT`` or ``unix:PATH``."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: Path | None = None  # a Unix socket

    @classmethod
    def parse(cls, spec: str, key: str = "gdb.listen") -> Listen:
        if spec.startswith("unix:"):
            if not spec[5:]:
                raise ConfigError(key, f'"{spec}" names no socket path')
            return cls(path=Path(spec[5:]))
        spec = spec.removeprefix("tcp:")
        host, sep, port = spec.rpartition(":")
        if not sep:
            host, port = "", spec
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(key, f'"{spec}" is not HOST:PORT, :PORT, PORT or unix:PATH')
        return cls(host=host.strip("[]") or "127.0.0.1", port=int(port))

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"{self.host}:{self.port}"


class _ClientGone(Exception):
    pass


class GdbServer:
    """Serves one :class:`DebugTarget` to gdb clients, one at a time."""

    def __init__(
        self,
        target: DebugTarget,
        listen: Listen,
        *,
        csrs: dict[str, int],
        idle_timeout: float | None = None,
        name: str = "vm",
    ) -> None:
        self.target = target
        self.listen = listen
        self.registers = RegisterMap(csrs)
        self.idle_timeout = idle_timeout
        self.name = name
        self.sessions = 0  # clients served so far
        self.refused = 0
        # One client at a time; its idle timeout (None: never) is the config's.
        self.gate = ConnectionGate(
            f"gdb:{name}", max_connections=INTERACTIVE_MAX_CONNECTIONS, idle_timeout=idle_timeout
        )
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.address = str(listen)

    async def start(self) -> None:
        listen = self.listen
        if listen.path is not None:
            with contextlib.suppress(FileNotFoundError):
                if listen.path.is_socket():
                    listen.path.unlink()
            self._server = await asyncio.start_unix_server(self._accept, path=str(listen.path))
        else:
            try:
                self._server = await asyncio.start_server(self._accept, listen.host, listen.port)
            except OSError as err:
                raise ConfigError("vm.gdb.listen", f"cannot listen on {listen}: {err}") from None
            sock = self._server.sockets[0].getsockname()
            self.address = f"{sock[0]}:{sock[1]}"

    async def close(self, grace: float = 1.0) -> None:
        """Stop listening; a session still open gets ``grace`` seconds to tell its
        client how the VM ended, then is dropped."""
        self.gate.close()
        if self._server is not None:
            self._server.close()
            self._server = None
            if self.listen.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.listen.path)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in self._tasks:
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.target.ended or not self.gate.enter():
            self.refused += 1
            _log.warning("%s: gdb: refused a second client (one at a time)", self.name)
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            keepalive(sock)
        self.sessions += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await Session(self, reader, writer).run()
        except asyncio.CancelledError:
            pass  # the server closed
        except Exception:  # a session must never take the VM down
            _log.exception("%s: gdb session failed; the VM goes on", self.name)
            with contextlib.suppress(Exception):
                self.target.detach()
        finally:
            self.gate.leave()
            if task is not None:
                self._tasks.discard(task)
            writer.close()


class Session:
    """One connected client."""

    def __init__(
        self, server: GdbServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.target = server.target
        self.regs = server.registers
        self.reader = reader
        self.writer = writer
        self.parser = PacketReader(PACKET_SIZE)
        # Bounded: a client that sends faster than the stub answers is not read
        # from until there is room (TCP flow control holds the rest).
        self.items: asyncio.Queue[Item | None] = asyncio.Queue(MAX_QUEUED_PACKETS)
        self.ack = True
        self.last_reply = b""
        self.swbreak = False
        self.hwbreak = False
        threads = self.target.threads
        self.g_thread = threads[0] if threads else 0  # Hg
        self.c_thread = -1  # Hc: -1 = all
        self.last_stop: StopEvent | None = None
        self.killed = False
        self.detached = False
        self._get: asyncio.Task[Item | None] | None = None

    # ------------------------------------------------------------ plumbing

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            await self.target.stop()  # all-stop: a client always finds the VM stopped
            threads = self.target.threads
            self.last_stop = StopEvent(threads[0] if threads else 0, StopKind.ATTACHED)
            await self._serve()
        except _ClientGone:
            pass
        finally:
            pump.cancel()
            if self._get is not None:
                self._get.cancel()
            if not self.killed and not self.detached:
                _log.info("%s: gdb client went away; the VM runs on", self.server.name)
                self.target.detach()

    async def _pump(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for item in self.parser.feed(data):
                    await self.items.put(item)
        except (ConnectionError, OSError):
            pass
        finally:
            while self.items.full():  # the end marker must fit; the session is over anyway
                self.items.get_nowait()
            self.items.put_nowait(None)

    def _next_task(self) -> asyncio.Task[Item | None]:
        if self._get is None or (self._get.done() and self._get.cancelled()):
            self._get = asyncio.create_task(self.items.get())
        return self._get

    async def _next(self, timeout: float | None) -> Item | None:
        task = self._next_task()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            _log.warning("%s: gdb client idle for %gs: dropped", self.server.name, timeout)
            self.server.gate.timed_out()
            raise _ClientGone
        self._get = None
        return task.result()

    def _write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise _ClientGone
        try:
            self.writer.write(data)
        except (ConnectionError, OSError) as err:
            raise _ClientGone from err

    async def _drain(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as err:
            raise _ClientGone from err

    def send(self, payload: bytes) -> None:
        self.last_reply = frame(payload)
        self._write(self.last_reply)

    async def _serve(self) -> None:
        while True:
            item = await self._next(self.server.idle_timeout)
            if item is None:
                raise _ClientGone
            if isinstance(item, Ack):
                if not item.ok and self.ack and self.last_reply:
                    self._write(self.last_reply)
                continue
            if isinstance(item, Interrupt):
                continue  # already stopped
            if isinstance(item, BadPacket):
                if self.ack:
                    self._write(b"-")
                continue
            if self.ack:
                self._write(b"+")
            reply = await self._dispatch(item.data)
            if reply is not None:
                self.send(reply)
            await self._drain()
            if self.killed or self.detached:
                return
            if self.last_stop is not None and self.last_stop.kind is StopKind.EXITED:
                return

    # ------------------------------------------------------------ dispatch

    async def _dispatch(self, data: bytes) -> bytes | None:
        try:
            if data[:1] in (b"c", b"s", b"C", b"S"):
                return await self._legacy_resume(data)
            if data.startswith(b"vCont;"):
                return await self._vcont(data[6:])
            return self._simple(data)
        except DebugTargetError:
            return b"E14"
        except (ValueError, IndexError, KeyError, UnicodeDecodeError, OverflowError):
            return b"E01"

    def _simple(self, data: bytes) -> bytes | None:
        head = data[:1]
        if head == b"?":
            return self._stop_reply(self.last_stop)
        if head == b"g":
            return b"".join(self._reg_hex(r.number) for r in self.regs.g_registers)
        if head == b"G":
            return self._write_g(data[1:])
        if head == b"p":
            return self._reg_hex(int(data[1:], 16))
        if head == b"P":
            num, _, val = data[1:].partition(b"=")
            return self._write_reg(int(num, 16), bytes.fromhex(val.decode()))
        if head == b"m":
            addr, length = _addr_len(data[1:])
            return (
                self.target.read_memory(self.g_thread, addr, min(length, MAX_READ)).hex().encode()
            )
        if head == b"M":
            spec, _, hexdata = data[1:].partition(b":")
            addr, length = _addr_len(spec)
            payload = bytes.fromhex(hexdata.decode())
            if len(payload) != length:
                return b"E01"
            self.target.write_memory(self.g_thread, addr, payload)
            return b"OK"
        if head == b"X":
            spec, _, raw = data[1:].partition(b":")
            addr, length = _addr_len(spec)
            payload = unescape(raw)
            if len(payload) != length:
                return b"E01"
            if length:
                self.target.write_memory(self.g_thread, addr, payload)
            return b"OK"
        if head in (b"Z", b"z"):
            return self._point(data)
        if head == b"H":
            return self._set_thread(data[1:2], data[2:])
        if head == b"T":
            return b"OK" if _tid(data[1:]) - 1 in self.target.threads else b"E01"
        if head == b"D":
            self.target.detach()
            self.detached = True
            return b"OK"
        if head == b"k":
            self.target.kill()
            self.killed = True
            return None
        if head == b"q":
            return self._query(data)
        if data == b"QStartNoAckMode":
            self.send(b"OK")  # the ack for this reply is the last one
            self.ack = False
            return None
        if data == b"vCont?":
            return VCONT
        if data.startswith(b"vKill"):
            self.target.kill()
            self.killed = True
            return b"OK"
        return b""  # unknown: the protocol's "not supported"

    def _query(self, data: bytes) -> bytes:
        if data.startswith(b"qSupported"):
            features = data.partition(b":")[2].split(b";")
            self.swbreak = b"swbreak+" in features
            self.hwbreak = b"hwbreak+" in features
            return SUPPORTED.encode()
        if data == b"qfThreadInfo":
            return b"m" + b",".join(b"%x" % (t + 1) for t in self.target.threads)
        if data == b"qsThreadInfo":
            return b"l"
        if data == b"qC":
            return b"QC%x" % (self.g_thread + 1)
        if data == b"qAttached" or data.startswith(b"qAttached:"):
            return b"1"
        if data == b"qOffsets":
            return b"Text=0;Data=0;Bss=0"
        if data.startswith(b"qThreadExtraInfo,"):
            thread = _tid(data[17:]) - 1
            if thread not in self.target.threads:
                return b"E01"
            return self.target.thread_info(thread).encode().hex().encode()
        if data.startswith(b"qXfer:features:read:"):
            annex, _, span = data[20:].rpartition(b":")
            if annex != b"target.xml":
                return b"E00"
            offset, length = _addr_len(span)
            xml = self.regs.xml()
            chunk = xml[offset : offset + length]
            return (b"l" if offset + length >= len(xml) else b"m") + escape(chunk)
        if data.startswith(b"qRcmd,"):
            line = bytes.fromhex(data[6:].decode()).decode(errors="replace")
            return commands.run_command(self.target, line).encode().hex().encode()
        if data.startswith(b"qSymbol"):
            return b"OK"
        return b""

    # ------------------------------------------------------------ registers

    def _reg_hex(self, number: int) -> bytes:
        reg = self.regs.by_number.get(number)
        if reg is None:
            return b"E45"
        try:
            value = self.target.read_register(self.g_thread, reg.name)
        except DebugTargetError:
            return b"x" * (2 * reg.size)  # unavailable
        return (value & ((1 << (8 * reg.size)) - 1)).to_bytes(reg.size, "little").hex().encode()

    def _write_reg(self, number: int, raw: bytes) -> bytes:
        reg = self.regs.by_number.get(number)
        if reg is None or len(raw) != reg.size:
            return b"E01"
        self.target.write_register(self.g_thread, reg.name, int.from_bytes(raw, "little"))
        return b"OK"

    def _write_g(self, hexdata: bytes) -> bytes:
        raw = bytes.fromhex(hexdata.decode())
        offset = 0
        for reg in self.regs.g_registers:
            if offset + reg.size > len(raw):
                break
            value = int.from_bytes(raw[offset : offset + reg.size], "little")
            self.target.write_register(self.g_thread, reg.name, value)
            offset += reg.size
        return b"OK"

    # ------------------------------------------------------------ threads

    def _set_thread(self, op: bytes, spec: bytes) -> bytes:
        tid = _tid(spec)
        if tid > 0 and tid - 1 not in self.target.threads:
            return b"E01"
        if op == b"g":
            if tid > 0:
                self.g_thread = tid - 1
        elif op == b"c":
            self.c_thread = tid - 1 if tid > 0 else -1
        else:
            return b"E01"
        return b"OK"

    # ------------------------------------------------------------ breakpoints

    def _point(self, data: bytes) -> bytes:
        fields = data[1:].split(b";")[0].split(b",")
        if len(fields) != 3:
            return b"E01"
        kind, addr, length = int(fields[0]), int(fields[1], 16), int(fields[2], 16)
        insert = data[:1] == b"Z"
        target = self.target
        if kind in (0, 1):
            if insert:
                target.insert_breakpoint(addr, hardware=kind == 1)
            else:
                target.remove_breakpoint(addr, hardware=kind == 1)
            return b"OK"
        if kind in (2, 3, 4):
            if not 0 < length <= 1 << 20:
                return b"E01"
            if insert:
                target.insert_watchpoint(addr, length, WatchKind(kind))
            else:
                target.remove_watchpoint(addr, length, WatchKind(kind))
            return b"OK"
        return b""

    # ------------------------------------------------------------ running

    async def _legacy_resume(self, data: bytes) -> bytes | None:
        op = data[:1].lower()
        rest = data[1:]
        if data[:1] in (b"C", b"S"):
            rest = rest.partition(b";")[2]  # the signal is not delivered
        if rest:
            self.target.write_register(self._resume_thread(), "pc", int(rest, 16))
        action = Action.STEP if op == b"s" else Action.CONTINUE
        if action is Action.STEP:
            return await self._run({self._resume_thread(): Action.STEP})
        if self.c_thread >= 0:
            return await self._run({self.c_thread: Action.CONTINUE})
        return await self._run({t: Action.CONTINUE for t in self.target.threads})

    def _resume_thread(self) -> int:
        return self.c_thread if self.c_thread >= 0 else self.g_thread

    async def _vcont(self, spec: bytes) -> bytes | None:
        actions: dict[int, Action] = {}
        handled: set[int] = set()  # the first action naming a thread is its action
        threads = self.target.threads
        for part in spec.split(b";"):
            what, _, tid_spec = part.partition(b":")
            op = what[:1]
            if op not in (b"c", b"C", b"s", b"S", b"t"):
                return b"E01"
            tid = _tid(tid_spec) if tid_spec else -1
            named = [tid - 1] if tid > 0 else list(threads)
            for t in named:
                if t not in threads:
                    return b"E01"
                if t in handled:
                    continue
                handled.add(t)
                if op != b"t":
                    actions[t] = Action.STEP if op in (b"s", b"S") else Action.CONTINUE
        if not actions:
            return b"OK"
        return await self._run(actions)

    async def _run(self, actions: dict[int, Action]) -> bytes | None:
        target = self.target
        target.resume(actions)
        stop = asyncio.create_task(target.wait_stop())
        try:
            while True:
                get = self._next_task()
                done, _ = await asyncio.wait({stop, get}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    self._get = None
                    item = get.result()
                    if item is None:  # the client went away while the VM ran
                        target.interrupt()
                        await stop
                        raise _ClientGone
                    if isinstance(item, Interrupt):
                        target.interrupt()
                    elif isinstance(item, BadPacket) and self.ack:
                        self._write(b"-")
                    elif isinstance(item, Packet) and self.ack:
                        self._write(b"+")  # nothing but Ctrl-C means anything now
                if stop in done:
                    break
        finally:
            if not stop.done():
                stop.cancel()
        event = stop.result()
        self.last_stop = event
        if event.kind is not StopKind.EXITED:
            self.g_thread = event.thread
        return self._stop_reply(event)

    def _stop_reply(self, event: StopEvent | None) -> bytes:
        if event is None:
            return b"S05"
        if event.kind is StopKind.EXITED:
            return b"W%02x" % (event.code & 0xFF)
        sig = SIGINT if event.kind is StopKind.INTERRUPT else SIGTRAP
        parts = []
        if event.kind is StopKind.WATCH and event.watch is not None:
            name = {WatchKind.WRITE: "watch", WatchKind.READ: "rwatch"}.get(event.watch, "awatch")
            parts.append(f"{name}:{event.addr:x}")
        elif event.kind is StopKind.BREAKPOINT:
            if event.hardware and self.hwbreak:
                parts.append("hwbreak:")
            elif not event.hardware and self.swbreak:
                parts.append("swbreak:")
        parts.append(f"thread:{event.thread + 1:x}")
        return f"T{sig:02x}".encode() + "".join(p + ";" for p in parts).encode()


def _addr_len(spec: bytes) -> tuple[int, int]:
    addr, _, length = spec.partition(b",")
    a, n = int(addr, 16), int(length, 16)
    if a < 0 or n < 0 or a >= 1 << 64:
        raise ValueError("address out of range")
    return a, n


def _tid(spec: bytes) -> int:
    """A thread id: hex, -1 (all) or 0 (any); ``p1.2`` is thread 2."""
    if spec.startswith(b"p"):
        spec = spec.partition(b".")[2] or b"-1"
    return int(spec, 16)
