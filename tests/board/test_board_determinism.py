"""Whole machines under the deterministic policy and the virtual clock: the same
config and seed give the same console, byte for byte (disk I/O, RTC and IPIs
included); another seed interleaves the harts differently."""

from __future__ import annotations

from pathlib import Path

import pytest

from guests.linux import report
from tests.board.boardrig import blank_disk, run_vm, vm_config

pytestmark = pytest.mark.slow


def _deterministic(vm: dict, seed: int) -> dict:
    return {"sched": {"policy": "deterministic", "clock": "virtual", "seed": seed}, "vm": vm}


async def test_smp_demo_prints_the_same_twice_and_differs_with_another_seed(demo: Path) -> None:
    vm = {
        "name": "det",
        "vcpus": 4,
        "boot": {"mode": "firmware", "firmware": str(demo / "smp-demo.elf")},
        "console": {"backend": "null"},
    }
    first, second, other = [
        (await run_vm(vm_config(_deterministic(vm, seed)))).console for seed in (3, 3, 4)
    ]
    assert "smp-demo: PASS 4 harts" in first
    assert first == second
    assert "smp-demo: PASS 4 harts" in other
    assert other != first


async def test_a_linux_boot_with_its_disk_check_is_reproducible(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    kernel, initrd = linux
    consoles = []
    for run in range(2):
        disk = blank_disk(tmp_path / f"disk{run}.img")
        vm = {
            "name": "det",
            "vcpus": 4,
            "boot": {
                "mode": "direct",
                "kernel": str(kernel),
                "initrd": str(initrd),
                "cmdline": "console=ttyS0 earlycon avmm.check=1",
            },
            "disks": [{"path": str(disk)}],
            "console": {"backend": "null"},
        }
        consoles.append((await run_vm(vm_config(_deterministic(vm, 7)))).console)
    assert report.parse(consoles[0]).passed, consoles[0][-3000:]
    assert consoles[0] == consoles[1]
