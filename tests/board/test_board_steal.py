"""Steal time as Linux sees it: a 4-vCPU Linux 6.12 guest runs a busy loop on every
CPU (`avmm.spin`, guests/linux/init) and prints /proc/stat. On 2 modelled pCPUs
its steal column matches avmm's per-vCPU figure; on 4 it stays 0. And at boot
the kernel's avmm_para driver registers a para-state page on every CPU and reads
it back (guests/linux/driver/avmm_para.c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm import sbi
from avmm.runtime.exits import SystemEvent, SystemEventKind
from guests.linux import report
from tests.board.boardrig import Run, run_vm, vm_config

pytestmark = pytest.mark.slow

SPIN_SECONDS = 2
# /proc/stat counts whole USER_HZ ticks (10 ms) and the kernel accounts steal at its
# own ticks; avmm's figure also holds what accrued outside the measured window
# (bring-up before a CPU registered its record, the read of /proc/stat itself).
TOLERANCE = 0.05  # seconds, per CPU


async def spin(linux: tuple[Path, Path], pcpus: int) -> Run:
    kernel, initrd = linux
    config = vm_config(
        {
            "host": {"pcpus": pcpus},
            "sched": {"clock": "virtual"},
            "vm": {
                "name": f"steal-{pcpus}",
                "vcpus": 4,
                "memory": "256MiB",
                "boot": {
                    "mode": "direct",
                    "kernel": str(kernel),
                    "initrd": str(initrd),
                    "cmdline": f"console=ttyS0 earlycon avmm.spin={SPIN_SECONDS}",
                },
                "console": {"backend": "null"},
            },
        }
    )
    run = await run_vm(config)
    assert run.result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0), run.console[-3000:]
    assert "riscv-pv: SBI STA extension detected" in run.console
    return run


def steal_by_vcpu(run: Run) -> tuple[dict[int, float], dict[int, float]]:
    """(steal from the guest's /proc/stat, avmm's steal), both by hartid."""
    para = report.parse_para(run.console)
    hart_of = {c.cpu: c.vcpu for c in para.cpus}
    stat = report.parse_stat(run.console)
    assert sorted(stat) == [0, 1, 2, 3], run.console[-3000:]
    vm = run.board.vm
    assert vm is not None
    avmm = {v.vcpu: v.steal_seconds for v in vm.statistics().vcpus}
    guest = {hart_of[cpu]: times.steal for cpu, times in stat.items()}
    return guest, avmm


async def test_on_two_pcpus_linux_sees_the_steal_avmm_counted(
    linux: tuple[Path, Path],
) -> None:
    run = await spin(linux, pcpus=2)
    guest, avmm = steal_by_vcpu(run)
    for hart in range(4):
        assert abs(guest[hart] - avmm[hart]) <= TOLERANCE, (guest, avmm)
        # four busy vCPUs on two pCPUs: about half of the spin is steal
        assert 0.4 * SPIN_SECONDS < guest[hart] < 0.6 * SPIN_SECONDS + 0.5, (guest, avmm)
    stat = report.parse_stat(run.console)
    for times in stat.values():  # the rest went to the busy loop
        assert times.user > 0.3 * SPIN_SECONDS
    check_para_pages(run)


def check_para_pages(run: Run) -> None:
    """At boot every CPU registered a para-state page and read back its own facts."""
    para = report.parse_para(run.console)
    assert para.failures == (), run.console[-3000:]
    assert para.ok_cpus == 4
    vm = run.board.vm
    assert vm is not None
    stats = vm.statistics()
    assert sorted(c.vcpu for c in para.cpus) == [0, 1, 2, 3]
    assert all(c.host_version == 1 and c.pcpu < 2 for c in para.cpus)
    assert {(c.vmid, c.generation) for c in para.cpus} == {(stats.vmid, stats.vmid_generation)}
    assert [v.para_page_registered for v in stats.vcpus] == [True] * 4
    # each CPU's refused first offer (a newer version) is an error, counted
    assert stats.sbi_errors.get(sbi.EXT_AVMM) == 4


async def test_on_four_pcpus_there_is_no_steal(linux: tuple[Path, Path]) -> None:
    run = await spin(linux, pcpus=4)
    guest, avmm = steal_by_vcpu(run)
    assert guest == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}
    assert avmm == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}
