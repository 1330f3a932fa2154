"""VMIDs: 5 VMs on 2 pCPUs with 2-bit VMIDs roll over, every pCPU flushes, and
every guest still reads its own page through the shared TLBs."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.runtime.host import Host
from avmm.runtime.pcpu import Pcpu
from avmm.runtime.vm import VmResult
from tests.runtime.guest import bare_metal_vm


async def run_five(guests: Path) -> tuple[Host, dict[str, VmResult]]:
    host = Host(pcpus=2, vmid_bits=2, slice=5_000)
    async with host:
        for i in range(5):
            bare_metal_vm(
                host.create_vm(f"vm{i}"),
                guests / "vmid.elf",
                vcpus=1,
                patch={"vm_index": i, "iterations": 20_000},
                irqchip=False,
            )
        results = await host.run()
    return host, results


@pytest.mark.slow
async def test_rollovers_flush_every_pcpu_and_guests_stay_correct(guests: Path) -> None:
    host, results = await run_five(guests)
    for name, result in results.items():
        out = host.vms[name].console_output.decode()
        assert result.code == 0, out
        assert f"vm {name[2:]}: 20000 reads, 0 wrong" in out
    stats = host.statistics()
    assert stats.vmids.rollovers > 0
    assert stats.vmids.generation == stats.vmids.rollovers + 1
    assert all(p.rollover_flushes > 0 for p in stats.pcpus)
    assert all(p.tlb["flush_all"] >= p.rollover_flushes for p in stats.pcpus)


@pytest.mark.slow
async def test_without_the_rollover_flush_guests_see_each_others_pages(
    guests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: it can fail. Skipping the flush a rollover
    # owes lets a VM hit TLB entries another VM left under the same VMID.
    enter = Pcpu.enter

    def enter_without_flush(self: Pcpu, *args: object) -> None:
        self.flush_pending = False
        enter(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Pcpu, "enter", enter_without_flush)
    host, results = await run_five(guests)
    assert host.statistics().vmids.rollovers > 0
    assert any(r.code != 0 for r in results.values())
