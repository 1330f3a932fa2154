"""The library interface: save_snapshot / restore_snapshot on running and paused VMs.

A real bare-metal SMP guest (the demo: 4 harts with locks, atomics and IPIs)
under the deterministic policy, so that "the VM goes on as before" can be
checked exactly: the console and the per-vCPU counts equal an uninterrupted
run's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from avmm import config as avmm_config
from avmm.board.virt import Board
from avmm.errors import SnapshotError
from avmm.runtime.console import CaptureConsole
from avmm.runtime.host import Host
from avmm.snapshot import SnapshotInfo, fileformat, restore_snapshot, save_snapshot

GUARD = 120.0  # a hung guest fails the test instead of hanging CI (not a measurement)


def _config(demo: Path, vcpus: int = 4) -> avmm_config.Config:
    return avmm_config.from_dict(
        {
            "version": 1,
            "sched": {"policy": "deterministic", "clock": "virtual", "seed": 3},
            "vm": {
                "name": "det",
                "vcpus": vcpus,
                "memory": "64MiB",
                "boot": {"mode": "firmware", "firmware": str(demo / "smp-demo.elf")},
            },
        },
        base=Path.cwd(),
    )


def _counts(host: Host) -> list[tuple[Any, ...]]:
    vm = host.statistics().vms[0]
    return [(v.instret, v.exits, v.slices, v.directed_yields) for v in vm.vcpus]


async def _whole(demo: Path) -> tuple[bytes, list[tuple[Any, ...]]]:
    console = CaptureConsole()
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        result = await asyncio.wait_for(board.run(), GUARD)
        assert result.code == 0
        return console.output, _counts(host)


async def test_saving_a_running_vm_leaves_it_running_as_if_nothing_happened(
    demo: Path, tmp_path: Path
) -> None:
    output, counts = await _whole(demo)
    console = CaptureConsole()
    snap = tmp_path / "mid.snap"
    infos: list[SnapshotInfo] = []
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        assert board.vm is not None
        vm = board.vm

        async def save() -> None:
            infos.append(await save_snapshot(vm, snap))
            host.scheduler.unhold()  # the hold was ours (hold_at), not save_snapshot's

        tasks = []
        host.scheduler.on_hold = lambda: tasks.append(asyncio.create_task(save()))
        host.scheduler.hold_at = 2_000_000
        result = await asyncio.wait_for(board.run(), GUARD)
        assert result.code == 0
        assert console.output == output
        assert _counts(host) == counts
    (info,) = infos
    assert info.path == snap and info.vm == "det"
    assert info.file_bytes == snap.stat().st_size
    assert 0 < info.ram_bytes < info.file_bytes < 64 << 20


async def test_restoring_into_a_running_vm_rewinds_it(demo: Path, tmp_path: Path) -> None:
    """Run past the snapshot's point, restore the snapshot into the same running
    VM: what it prints from then on is what followed the snapshot the first time."""
    output, counts = await _whole(demo)
    snap = tmp_path / "early.snap"
    printed_at_snapshot: list[int] = []
    console = CaptureConsole()
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        assert board.vm is not None
        vm = board.vm
        sched = host.scheduler
        step: list[str] = []

        async def on_hold() -> None:
            if not step:  # first hold: save
                await save_snapshot(vm, snap)
                printed_at_snapshot.append(len(console.output))
                step.append("saved")
                sched.hold_at = sched.instructions + 1_500_000
            else:  # second hold, later: back to the snapshot
                await restore_snapshot(vm, snap)
                step.append("restored")
                mark.append(len(console.output))
            sched.unhold()

        mark: list[int] = []
        tasks = []
        sched.on_hold = lambda: tasks.append(asyncio.create_task(on_hold()))
        sched.hold_at = 1_500_000
        result = await asyncio.wait_for(board.run(), GUARD)
        assert result.code == 0
        assert step == ["saved", "restored"]
        assert console.output[mark[0] :] == output[printed_at_snapshot[0] :]
        assert _counts(host) == counts


async def test_a_paused_vm_stays_paused_through_save_and_restore(
    demo: Path, tmp_path: Path
) -> None:
    console = CaptureConsole()
    snap = tmp_path / "paused.snap"
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        assert board.vm is not None
        vm = board.vm
        run = asyncio.create_task(board.run())
        while vm.machine.instret < 500_000:
            await asyncio.sleep(0.001)
        vm.pause()
        await save_snapshot(vm, snap)
        before = vm.machine.instret
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert vm.paused and vm.machine.instret == before
        await restore_snapshot(vm, snap)
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert vm.paused and vm.machine.instret == before
        vm.resume()
        result = await asyncio.wait_for(run, GUARD)
        assert result.code == 0
        assert console.output != b""


async def _ram_outside(demo: Path, tmp_path: Path) -> Path:
    """A snapshot of the demo machine, well-formed and checksummed, whose first run of
    RAM claims to be at 0x1000, where the VM has no RAM."""
    good, bad = tmp_path / "good.snap", tmp_path / "outside.snap"
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=CaptureConsole())
        assert board.vm is not None
        await save_snapshot(board.vm, good)
    snapshot = fileformat.read(good.read_bytes(), str(good))
    (_addr, data), *rest = snapshot.pages
    with bad.open("wb") as f:
        fileformat.write(f, snapshot.state, [(0x1000, data), *rest])
    return bad


async def test_a_failed_restore_changes_nothing(demo: Path, tmp_path: Path) -> None:
    """A snapshot of another shape, or with RAM outside the VM, is refused before the
    VM's state is touched."""
    small = tmp_path / "two.snap"
    async with Host.from_config(_config(demo, vcpus=2)) as host:
        board = await Board.build(host, _config(demo, vcpus=2).vm[0], console=CaptureConsole())
        assert board.vm is not None
        await save_snapshot(board.vm, small)
    outside = await _ram_outside(demo, tmp_path)
    output, counts = await _whole(demo)
    console = CaptureConsole()
    async with Host.from_config(_config(demo)) as host:
        board = await Board.build(host, _config(demo).vm[0], console=console)
        assert board.vm is not None
        with pytest.raises(SnapshotError, match="machine with 2 vCPUs, VM det has 4"):
            await restore_snapshot(board.vm, small)
        with pytest.raises(SnapshotError, match="cannot read snapshot"):
            await restore_snapshot(board.vm, tmp_path / "nowhere.snap")
        with pytest.raises(
            SnapshotError, match=r"corrupt snapshot \(RAM at 0x1000 is outside the VM\)"
        ):
            await restore_snapshot(board.vm, outside)
        with pytest.raises(SnapshotError, match="cannot write snapshot"):
            await save_snapshot(board.vm, tmp_path / "no-such-dir" / "x.snap")
        result = await asyncio.wait_for(board.run(), GUARD)
        assert result.code == 0
        assert console.output == output
        assert _counts(host) == counts
