"""The paravirtual SBI from inside a guest: pv.elf (guests/runtime/sbi/pv.c) checks
every error path of STA and the avmm extension, then measures its steal time
under a CPU-bound load on 4 vCPUs: half the time on 2 pCPUs, none on 4."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avmm import sbi
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from tests.runtime.guest import RAM_BASE, RAM_SIZE, load_elf

DTB = 0x8220_0000
LINE = re.compile(
    r"hart (\d+) ticks (\d+) steal (\d+) pcpu (\d+) vmid (\d+) gen (\d+) yields (\d+)"
)
NS_PER_TICK = 100  # the 10 MHz timebase


async def run_pv(guests: Path, *, pcpus: int, policy: str = "round-robin") -> Vm:
    async with Host(pcpus=pcpus, clock="virtual", policy=policy) as host:
        vm = host.create_vm("pv")
        vm.add_memory_slot(RAM_BASE, RAM_SIZE)
        for _ in range(4):
            vm.create_vcpu()
        patch = {"nharts": 4, "ram_end": RAM_BASE + RAM_SIZE}
        entry = load_elf(vm, guests / "pv.elf", patch)
        sbi.prepare_direct_boot(vm, entry=entry, dtb=DTB)
        result = await vm.run()
    out = vm.console_output.decode()
    assert result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0), out
    assert out.startswith("sta errors ok\navmm errors ok\n"), out
    assert out.endswith("PASS\n"), out
    return vm


def harts(vm: Vm) -> list[dict[str, int]]:
    keys = ("hart", "ticks", "steal", "pcpu", "vmid", "gen", "yields")
    rows = [
        dict(zip(keys, map(int, m.groups()), strict=True))
        for m in LINE.finditer(vm.console_output.decode())
    ]
    assert [r["hart"] for r in rows] == [0, 1, 2, 3]
    return rows


@pytest.mark.slow
async def test_every_malformed_call_is_answered_and_counted(guests: Path) -> None:
    vm = await run_pv(guests, pcpus=4)
    stats = vm.statistics()
    # STA: flags, misaligned, high word, outside RAM, past its end, at the top;
    # avmm: misaligned, flags, high word, outside RAM, past its end, newer version,
    # record too small, double registration, deregister twice, yield_to a missing
    # hart, yield_to itself.
    assert stats.sbi_errors == {sbi.EXT_STA: 6, sbi.EXT_AVMM: 11}
    assert stats.sbi_not_supported == {sbi.EXT_STA: 1, sbi.EXT_AVMM: 1}
    # every hart registered a page; STA was turned off at the end, the pages stay
    assert [v.para_page_registered for v in stats.vcpus] == [True] * 4
    assert [v.sta_registered for v in stats.vcpus] == [False] * 4
    rows = harts(vm)
    assert all(r["pcpu"] < 4 for r in rows)
    assert {(r["vmid"], r["gen"]) for r in rows} == {(stats.vmid, stats.vmid_generation)}
    # hart 1's one yield_to(2) was passed on, and the page says so
    assert [r["yields"] for r in rows] == [0, 1, 0, 0]
    assert [v.yield_hints for v in stats.vcpus] == [0, 1, 0, 0]


@pytest.mark.slow
async def test_four_busy_vcpus_on_two_pcpus_lose_half_their_time(guests: Path) -> None:
    vm = await run_pv(guests, pcpus=2)
    stats = vm.statistics()
    for row, vcpu in zip(harts(vm), stats.vcpus, strict=True):
        spin_ns = row["ticks"] * NS_PER_TICK
        # The guest read steal over its spin only; avmm counts from boot on.
        assert 0 < row["steal"] <= vcpu.steal_seconds * 1e9
        assert vcpu.steal_seconds * 1e9 - row["steal"] < 0.1 * spin_ns
        if row["hart"] != 1:  # hart 1 ends last, partly alone (its yield_to)
            assert 0.45 < row["steal"] / spin_ns < 0.55, row


@pytest.mark.slow
async def test_no_steal_when_every_vcpu_has_a_pcpu(guests: Path) -> None:
    vm = await run_pv(guests, pcpus=4)
    assert [r["steal"] for r in harts(vm)] == [0, 0, 0, 0]
    assert [v.steal_seconds for v in vm.statistics().vcpus] == [0.0] * 4


@pytest.mark.slow
async def test_steal_is_reproducible_under_the_deterministic_policy(guests: Path) -> None:
    first = await run_pv(guests, pcpus=2, policy="deterministic")
    second = await run_pv(guests, pcpus=2, policy="deterministic")
    assert first.console_output == second.console_output
    steal = [v.steal_seconds for v in first.statistics().vcpus]
    assert steal == [v.steal_seconds for v in second.statistics().vcpus]
    assert all(s > 0 for s in steal)
