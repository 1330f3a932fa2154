"""Linux on the virt board: 1, 4 and 8 vCPUs in direct and firmware boot, the
self-check of guests/linux/README.md and disk persistence across boots.
(`configs/linux-check.toml` itself is run by tests/configs.)"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from avmm import sbi
from avmm.board.virt import Board
from avmm.runtime.console import CaptureConsole
from avmm.runtime.exits import Interrupted, StopReason, SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from guests.linux import report
from tests.board.boardrig import GUARD, blank_disk, run_vm, vm_config

pytestmark = pytest.mark.slow

CMDLINE = "console=ttyS0 earlycon avmm.check=1"
SHUTDOWN_0 = SystemEvent(0, SystemEventKind.SHUTDOWN, 0)


def linux_vm(linux: tuple[Path, Path], mode: str, vcpus: int, disk: Path, **vm: object) -> dict:
    kernel, initrd = linux
    return {
        "vm": {
            "name": f"linux-{mode}-{vcpus}",
            "vcpus": vcpus,
            "memory": "256MiB",
            "boot": {
                "mode": mode,
                "kernel": str(kernel),
                "initrd": str(initrd),
                "cmdline": CMDLINE,
            },
            "disks": [{"path": str(disk)}],
            "console": {"backend": "null"},
            **vm,
        }
    }


@pytest.mark.parametrize("vcpus", [1, 4, 8])
@pytest.mark.parametrize("mode", ["direct", "firmware"])
async def test_linux_boots_passes_its_self_check_and_powers_off(
    linux: tuple[Path, Path], mode: str, vcpus: int, tmp_path: Path
) -> None:
    disk = blank_disk(tmp_path / "disk.img")
    run = await run_vm(vm_config(linux_vm(linux, mode, vcpus, disk)))
    check = report.parse(run.console)
    tail = run.console[-3000:]
    assert check.passed, tail
    assert check.problems == (), tail
    assert (check.cpus_online, check.cpus_present) == (vcpus, vcpus), tail
    assert check.atomics_threads == vcpus
    assert check.disk_boots == 0
    assert run.result.exit == SHUTDOWN_0, tail
    assert run.result.code == 0
    if mode == "firmware":
        assert "Platform Name             : avmm virt" in run.console  # OpenSBI's banner
        assert f"Platform HART Count       : {vcpus}" in run.console
    else:
        assert "OpenSBI" not in run.console
        assert "SBI implementation ID=0x61766d6d" in run.console  # avmm answers SBI itself


async def test_data_written_to_the_disk_in_one_boot_is_there_in_the_next(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    disk = blank_disk(tmp_path / "disk.img")
    counters = []
    for mode in ("direct", "firmware"):
        run = await run_vm(vm_config(linux_vm(linux, mode, 2, disk)))
        check = report.parse(run.console)
        assert check.passed, run.console[-3000:]
        counters.append(check.disk_boots)
    assert counters == [0, 1]
    assert disk.read_bytes()[:8] == b"AVMMCHK1"


@pytest.mark.parametrize("sstc", [True, False], ids=["sstc-default", "sstc-off"])
async def test_with_sstc_the_kernel_sets_its_timer_without_sbi_and_without_it_through_sbi(
    linux: tuple[Path, Path], tmp_path: Path, sstc: bool
) -> None:
    disk = blank_disk(tmp_path / "disk.img")
    vm = {} if sstc else {"sstc": False}  # on by default, as on QEMU's virt
    run = await run_vm(vm_config(linux_vm(linux, "direct", 2, disk, **vm)))
    assert report.parse(run.console).passed, run.console[-3000:]
    via_sstc = "riscv-timer: Timer interrupt in S-mode is available via sstc extension"
    assert (via_sstc in run.console) == sstc
    vm_ = run.board.vm
    assert vm_ is not None
    calls = vm_.statistics().sbi_calls
    assert calls.get(sbi.EXT_HSM, 0) >= 1  # SBI is still served (HSM brings up hart 1) ...
    if sstc:
        assert calls.get(sbi.EXT_TIME, 0) == 0  # ... but the timer is stimecmp's alone
    else:
        assert calls.get(sbi.EXT_TIME, 0) > 0


async def test_the_kernels_crng_is_ready_from_the_device_trees_rng_seed(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    # No virtio-rng here: only /chosen/rng-seed can make the crng ready this early.
    disk = blank_disk(tmp_path / "disk.img")
    run = await run_vm(vm_config(linux_vm(linux, "direct", 1, disk)))
    assert report.parse(run.console).passed, run.console[-3000:]
    before_init = run.console.split("Run /init", 1)[0]
    assert "random: crng init done" in before_init, before_init[-3000:]


async def test_a_host_signal_stops_the_vm_cleanly_and_flushes_its_disk(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    disk = blank_disk(tmp_path / "disk.img")
    data = linux_vm(linux, "direct", 2, disk)
    data["vm"]["boot"]["cmdline"] = "console=ttyS0"  # the shell: runs until told otherwise
    config = vm_config(data)
    console = CaptureConsole()
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=console)
        task = asyncio.create_task(board.run())
        for _ in range(int(GUARD / 0.05)):
            if "avmm:/# " in console.text():
                break
            await asyncio.sleep(0.05)
        assert "avmm:/# " in console.text(), console.text()[-3000:]
        host.signal(signal.SIGINT)
        result = await asyncio.wait_for(task, GUARD)
        flushes = board.disks[0].stats.flushes
    # Every vCPU stops with SIGNAL; which one the VM hears first is up to the loop.
    assert isinstance(result.exit, Interrupted)
    assert result.exit.reason is StopReason.SIGNAL
    assert result.code == 0
    assert flushes >= 1


async def test_the_opensbi_qemu_ships_boots_linux_on_avmm_too(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    # qemu-system-data's fw_dynamic.bin (what `qemu -bios default` runs), not the
    # opensbi package's build that firmware boot uses by default.
    firmware = Path("/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin")
    disk = blank_disk(tmp_path / "disk.img")
    data = linux_vm(linux, "firmware", 4, disk)
    data["vm"]["boot"]["firmware"] = str(firmware)
    run = await run_vm(vm_config(data))
    check = report.parse(run.console)
    assert check.passed, run.console[-3000:]
    assert check.cpus_online == 4
    assert "OpenSBI v1.1" in run.console
    state = run.board.boot_state
    assert state is not None and state.regions[0].what == f"firmware {firmware.name}"
