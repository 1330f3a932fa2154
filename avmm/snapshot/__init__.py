"""Snapshots of a VM to a file and back (and, in :mod:`avmm.snapshot.migrate`,
live migration between two avmm processes).

:func:`save_snapshot` brings every vCPU of the host to a slice boundary (the
scheduler holds its next grant), waits for device work in flight, writes the
VM's state and RAM (:mod:`avmm.snapshot.fileformat`) and lets the VM go on as
it was, running or paused. :func:`restore_snapshot` reads and checks a whole
file first (format, checksum, the machine's shape, the disks) and only then
replaces the VM's state. Every failure is a :class:`~avmm.errors.SnapshotError`
with one line naming what is wrong.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from avmm.errors import SnapshotError
from avmm.snapshot import fileformat, vmstate

if TYPE_CHECKING:
    from avmm.runtime.vm import Vm

__all__ = ["SnapshotError", "SnapshotInfo", "restore_snapshot", "save_snapshot"]


@attrs.frozen
class SnapshotInfo:
    """What a save or a restore did."""

    path: Path
    vm: str
    file_bytes: int  # the snapshot file's size
    ram_bytes: int  # RAM in the file: the pages that were not all zeros
    seconds: float  # wall time from the request to the VM going on


async def save_snapshot(vm: Vm, path: Path) -> SnapshotInfo:
    """Write a snapshot of ``vm`` to ``path`` (atomically: a temporary file renamed)
    at a slice boundary; the VM then goes on in the run state it had."""
    t0 = time.perf_counter()
    path = Path(path)
    sched = vm.host.scheduler
    was_held = sched.held
    await sched.quiesce()
    try:
        await vm.spawner.drain()
        await sched.quiesce()  # completions may have woken vCPUs: their picks are held
        state = vmstate.capture(vm)
        ram = [(slot.base, slot.view()) for slot in vm.memory_slots]
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(temp, "wb") as f:
                written = fileformat.write(f, state, ram)
            os.replace(temp, path)
        except OSError as err:
            temp.unlink(missing_ok=True)
            raise SnapshotError(f"{path}: cannot write snapshot: {err.strerror}") from None
    finally:
        if not was_held:
            sched.unhold()
    return SnapshotInfo(
        path, vm.name, written.file_bytes, written.ram_bytes, time.perf_counter() - t0
    )


def load(path: Path) -> fileformat.Snapshot:
    """Read and check a snapshot file (format, version, structure, checksum)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer. A device or a FIFO
        # (/dev/zero, a pipe) may never end: only a regular file is read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SnapshotError(f"{path}: not a snapshot file (not a regular file)")
            data = f.read()
    except OSError as err:
        raise SnapshotError(f"{path}: cannot read snapshot: {err.strerror}") from None
    return fileformat.read(data, str(path))


async def restore_snapshot(vm: Vm, path: Path) -> SnapshotInfo:
    """Replace ``vm``'s state with the snapshot at ``path``; the VM must have the
    snapshot's shape (vCPUs, RAM, devices) and disks. Paused or running, it stays so."""
    t0 = time.perf_counter()
    path = Path(path)
    snapshot = load(path)
    return await restore_loaded(vm, snapshot, str(path), path, t0)


async def restore_loaded(
    vm: Vm, snapshot: fileformat.Snapshot, where: str, path: Path, t0: float
) -> SnapshotInfo:
    """:func:`restore_snapshot` of a snapshot already read (a migration's stream)."""
    vmstate.check(snapshot.state, vm, where)
    sched = vm.host.scheduler
    was_held = sched.held
    await sched.quiesce()
    try:
        await vm.spawner.drain()
        await sched.quiesce()
        vmstate.write_ram(vm, snapshot.pages, where)
        vmstate.apply(snapshot.state, vm, where)
    finally:
        if not was_held:
            sched.unhold()
    return SnapshotInfo(
        path, vm.name, snapshot.file_bytes, snapshot.ram_bytes, time.perf_counter() - t0
    )
