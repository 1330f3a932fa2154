"""Live migration of a VM between two avmm processes over a socket.

The source (:func:`migrate_out`) turns on its RAM slots' dirty logs and
copies RAM while the VM runs: first every page that is not all zeros, then,
round after round, the pages dirtied meanwhile, until a round leaves at most
``dirty_pages`` pages dirty or ``max_rounds`` rounds have run. Then it stops
every vCPU at a slice boundary (the scheduler holds, device work drains),
sends the last dirty pages and the VM's state (as a snapshot's, overlay
blocks included), and waits for the target's word: on ``OK`` the source VM
stops and the target runs on; on an error reply, a closed connection or a
timeout the dirty logs are put back and the source VM goes on as if nothing
happened. The downtime is the time from that stop to the target's ``OK``.

The target (:func:`receive_migration`, ``avmm run --incoming ADDR``) is built
from its own config, as QEMU's ``-incoming`` is: it checks the machine's
shape against the source's first message, answers, takes pages as they come
and the state at the end, replies ``OK`` and runs. A stream that breaks off
leaves it waiting for the next one (its RAM is cleared at each start).

Disks: the state references them by size and fingerprint as a snapshot does,
so both processes see the same image file; a plain image is locked by the
process that has it open, so on one host give a migrated VM's disks an
overlay (``disks[].overlay``, base shared read-only; its blocks travel in the
state).

The stream: ``b"AVMMMIG" + version`` and a msgpack'd machine shape (answered
``OK`` or ``NO`` + message), then records of a kind byte: 1 pages (address
u64, count u32, the pages), 2 the end of a round (u32), 3 the state (length
u64, msgpack), answered like the shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import msgpack

from avmm.constants import PAGE_SIZE
from avmm.errors import ConfigError, SnapshotError
from avmm.snapshot import fileformat, vmstate

if TYPE_CHECKING:
    from avmm.runtime.memory import MemorySlot
    from avmm.runtime.vm import Vm

MAGIC = b"AVMMMIG"
VERSION = 1
_PAGES = 1
_ROUND = 2
_STATE = 3
_RUN = struct.Struct("<QI")
_MAX_RUN = 256  # pages per record (1 MiB)
_MAX_SHAPE = 1 << 20  # bytes of the machine description (vCPUs, slots, devices)
REPLY_TIMEOUT = 60.0  # seconds the source waits for the target to check or restore

_log = logging.getLogger("avmm.migrate")


@attrs.frozen
class MigrationInfo:
    """How a migration went (the source's view)."""

    address: str
    vm: str
    rounds: int  # pre-copy rounds, the first full pass included
    bytes_sent: int  # everything written to the socket
    ram_bytes: int  # RAM pages sent, over all rounds
    downtime: float  # seconds from stopping the vCPUs to the target's OK
    seconds: float  # the whole migration


def parse_address(spec: str, key: str = "address") -> tuple[str, int] | Path:
    """``HOST:PORT``, ``:PORT``, ``PORT`` (host 127.0.0.1) or ``unix:PATH``."""
    if spec.startswith("unix:"):
        if not spec[5:]:
            raise ConfigError(key, f'"{spec}" names no socket path')
        return Path(spec[5:])
    host, sep, port = spec.removeprefix("tcp:").rpartition(":")
    if not sep:
        host, port = "", spec
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(key, f'"{spec}" is not HOST:PORT, :PORT, PORT or unix:PATH')
    return host.strip("[]") or "127.0.0.1", int(port)


# ------------------------------------------------------------------- source


class _Sender:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.bytes = 0
        self.ram = 0

    async def send(self, *parts: bytes | memoryview) -> None:
        for part in parts:
            self.writer.write(part)
            self.bytes += len(part)
        await self.writer.drain()

    async def pages(self, slot: MemorySlot, first: int, count: int) -> None:
        """Pages [first, first + count) of ``slot``, read now (between slices)."""
        view = slot.view()
        while count:
            n = min(count, _MAX_RUN)
            offset = first * PAGE_SIZE
            data = bytes(view[offset : offset + n * PAGE_SIZE])
            await self.send(bytes([_PAGES]), _RUN.pack(slot.base + offset, n), data)
            self.ram += len(data)
            first += n
            count -= n


def _dirty_runs(log: bytes) -> list[tuple[int, int]]:
    """(first page, count) of each run of set bits in a dirty bitmap."""
    runs: list[tuple[int, int]] = []
    start = -1
    for i, byte in enumerate(log):
        if not byte and start < 0:
            continue
        for bit in range(8):
            page = i * 8 + bit
            if byte >> bit & 1:
                if start < 0:
                    start = page
            elif start >= 0:
                runs.append((start, page - start))
                start = -1
    if start >= 0:
        runs.append((start, len(log) * 8 - start))
    return runs


async def _reply(reader: asyncio.StreamReader, what: str) -> None:
    word = await asyncio.wait_for(reader.readexactly(2), REPLY_TIMEOUT)
    if word == b"OK":
        return
    if word != b"NO":
        raise SnapshotError(f"the target answered {what} with {word!r}, not OK")
    (length,) = struct.unpack("<H", await reader.readexactly(2))
    message = (await reader.readexactly(length)).decode(errors="replace")
    raise SnapshotError(f"the target refused the {what}: {message}")


async def _connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    where = parse_address(address)
    try:
        if isinstance(where, Path):
            return await asyncio.open_unix_connection(where)
        return await asyncio.open_connection(*where)
    except OSError as err:
        raise SnapshotError(f"cannot connect to {address}: {err.strerror or err}") from None


async def migrate_out(
    vm: Vm,
    address: str,
    *,
    max_rounds: int = 30,
    dirty_pages: int = 256,
    on_round: Callable[[int, int], None] | None = None,
) -> MigrationInfo:
    """Move ``vm`` to the avmm listening at ``address`` (``avmm run --incoming``).

    Returns when the target runs the VM and this one is stopped. On failure the
    VM here goes on running (or paused, as it was) and SnapshotError says why.
    ``on_round(round, dirty)`` is told the pages left dirty after each round.
    """
    if max_rounds < 1:
        raise SnapshotError(f"max_rounds {max_rounds} must be at least 1")
    t0 = time.perf_counter()
    reader, writer = await _connect(address)
    slots = vm.memory_slots
    logging_was = [s.dirty_logging for s in slots]
    sched = vm.host.scheduler
    held_by_us = False
    downtime_start = 0.0
    sender = _Sender(writer)
    try:
        shape = msgpack.packb(vmstate.shape(vm), use_bin_type=True)
        await sender.send(MAGIC, bytes([VERSION]), struct.pack("<Q", len(shape)), shape)
        await _reply(reader, "machine")
        for slot in slots:
            slot.dirty_logging = True
            slot.get_dirty_log(clear=True)
        # round 1: every page that holds something, while the VM runs
        rounds = 1
        for slot in slots:
            for addr, pages in fileformat.nonzero_runs(slot.view(), slot.base):
                await sender.pages(slot, (addr - slot.base) // PAGE_SIZE, pages)
        await sender.send(bytes([_ROUND]), struct.pack("<I", rounds))
        # further rounds: what the guest dirtied meanwhile
        while True:
            dirty = sum(bin(b).count("1") for s in slots for b in s.get_dirty_log(clear=False))
            if on_round is not None:
                on_round(rounds, dirty)
            if dirty <= dirty_pages or rounds >= max_rounds:
                break
            rounds += 1
            for slot in slots:
                for first, count in _dirty_runs(slot.get_dirty_log(clear=True)):
                    await sender.pages(slot, first, count)
            await sender.send(bytes([_ROUND]), struct.pack("<I", rounds))
        # stop and copy
        downtime_start = time.perf_counter()
        held_by_us = not sched.held
        await sched.quiesce()
        await vm.spawner.drain()
        await sched.quiesce()
        for slot in slots:
            for first, count in _dirty_runs(slot.get_dirty_log(clear=True)):
                await sender.pages(slot, first, count)
        state = msgpack.packb(vmstate.capture(vm), use_bin_type=True)
        await sender.send(bytes([_STATE]), struct.pack("<Q", len(state)), state)
        await _reply(reader, "state")
        downtime = time.perf_counter() - downtime_start
    except BaseException as err:
        for slot, was in zip(slots, logging_was, strict=True):
            slot.dirty_logging = was
        if held_by_us:
            sched.unhold()
        writer.close()
        if isinstance(err, asyncio.IncompleteReadError | ConnectionError | TimeoutError):
            raise SnapshotError(
                f"migration to {address} failed: the connection was lost; the VM runs on here"
            ) from None
        if isinstance(err, OSError):
            raise SnapshotError(
                f"migration to {address} failed: {err.strerror or err}; the VM runs on here"
            ) from None
        raise
    # the target runs the VM now: this one stops (no instruction after the state)
    for slot, was in zip(slots, logging_was, strict=True):
        slot.dirty_logging = was
    vm.stop()
    if held_by_us:
        sched.unhold()
    with contextlib.suppress(Exception):
        writer.close()
    info = MigrationInfo(
        address=address,
        vm=vm.name,
        rounds=rounds,
        bytes_sent=sender.bytes,
        ram_bytes=sender.ram,
        downtime=downtime,
        seconds=time.perf_counter() - t0,
    )
    vm.migrations.record(info.downtime, info.bytes_sent, info.rounds)
    return info


# ------------------------------------------------------------------- target


async def _refuse(writer: asyncio.StreamWriter, message: str) -> None:
    data = message.encode()[:65535]
    writer.write(b"NO" + struct.pack("<H", len(data)) + data)
    with contextlib.suppress(Exception):
        await writer.drain()


async def _bounded(
    writer: asyncio.StreamWriter, where: str, what: str, size: int, limit: int, unit: str = "bytes"
) -> None:
    """Refuse a record the stream says is larger than any a source sends, before
    buffering it: a peer cannot make the target hold what it likes."""
    if size > limit:
        message = f"{what} of {size} {unit} is more than {limit}"
        await _refuse(writer, message)
        raise SnapshotError(f"{where}: {message}")


async def _receive(
    vm: Vm, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str
) -> None:
    """One incoming stream; returns once the VM holds the source's state."""
    head = await reader.readexactly(len(MAGIC) + 1 + 8)
    if head[: len(MAGIC)] != MAGIC:
        raise SnapshotError(f"{where}: not an avmm migration stream")
    if head[len(MAGIC)] != VERSION:
        await _refuse(
            writer, f"migration stream version {head[len(MAGIC)]}, target reads {VERSION}"
        )
        raise SnapshotError(f"{where}: migration stream version {head[len(MAGIC)]}")
    (length,) = struct.unpack_from("<Q", head, len(MAGIC) + 1)
    await _bounded(writer, where, "machine description", length, _MAX_SHAPE)
    shape = msgpack.unpackb(await reader.readexactly(length), raw=False, strict_map_key=False)
    try:
        vmstate.check_shape(shape, vm, where)
    except SnapshotError as err:
        await _refuse(writer, str(err))
        raise
    writer.write(b"OK")
    await writer.drain()
    vmstate.clear_ram(vm)
    views = vmstate.ram_views(vm)
    while True:
        kind = (await reader.readexactly(1))[0]
        if kind == _PAGES:
            addr, count = _RUN.unpack(await reader.readexactly(_RUN.size))
            await _bounded(writer, where, "page run", count, _MAX_RUN, unit="pages")
            data = await reader.readexactly(count * PAGE_SIZE)
            target = vmstate.ram_at(views, addr, len(data))
            if target is None:
                await _refuse(writer, f"pages at {addr:#x} are outside the VM")
                raise SnapshotError(f"{where}: pages at {addr:#x} are outside the VM")
            target[:] = data
        elif kind == _ROUND:
            await reader.readexactly(4)
        elif kind == _STATE:
            (length,) = struct.unpack("<Q", await reader.readexactly(8))
            await _bounded(writer, where, "state", length, vmstate.state_limit(vm))
            state: dict[str, Any] = msgpack.unpackb(
                await reader.readexactly(length), raw=False, strict_map_key=False
            )
            try:
                vmstate.check(state, vm, where)
                vmstate.apply(state, vm, where)
            except SnapshotError as err:
                await _refuse(writer, str(err))
                raise
            writer.write(b"OK")
            await writer.drain()
            return
        else:
            raise SnapshotError(f"{where}: bad record kind {kind} in the migration stream")


async def receive_migration(
    vm: Vm, address: str, *, on_listening: Callable[[str], None] | None = None
) -> float:
    """Listen on ``address`` until a source has handed ``vm`` over (the VM must not be
    running); returns the seconds from the stream's start to the state restored.
    A stream that breaks off or is refused leaves it listening for the next."""
    where = parse_address(address, "--incoming")
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    busy = False

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        if busy or done.done():
            writer.close()
            return
        busy = True
        t0 = time.perf_counter()
        try:
            await _receive(vm, reader, writer, f"migration from {address}")
            if not done.done():
                done.set_result(time.perf_counter() - t0)
        except (SnapshotError, asyncio.IncompleteReadError, ConnectionError, ValueError) as err:
            _log.warning("incoming migration on %s failed: %s", address, err)
        finally:
            busy = False
            writer.close()

    try:
        if isinstance(where, Path):
            server = await asyncio.start_unix_server(serve, where)
        else:
            server = await asyncio.start_server(serve, *where)
    except OSError as err:
        raise ConfigError("--incoming", f"cannot listen on {address}: {err.strerror}") from None
    try:
        if on_listening is not None:
            sockets = server.sockets
            shown = address
            if sockets and not isinstance(where, Path):
                host, port = sockets[0].getsockname()[:2]
                shown = f"{host}:{port}"
            on_listening(shown)
        return await done
    finally:
        server.close()
