"""Direct boot: an S-mode guest talks to the SBI the VMM serves, across harts."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm import sbi
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.sbi import HsmState
from tests.runtime.guest import RAM_BASE, load_elf

DTB = 0x8220_0000


@pytest.mark.slow
@pytest.mark.parametrize("clock", ["host", "virtual"])
async def test_sbi_guest_passes_and_shuts_down(guests: Path, clock: str) -> None:
    async with Host(pcpus=2, clock=clock) as host:
        vm = host.create_vm("direct")
        vm.add_memory_slot(RAM_BASE, 64 << 20)
        for _ in range(4):
            vm.create_vcpu()
        entry = load_elf(vm, guests / "sbi.elf", {"nharts": 4})
        sbi.prepare_direct_boot(vm, entry=entry, dtb=DTB)
        result = await vm.run()
    out = vm.console_output.decode()
    assert result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0), out
    assert out.startswith(f"sbi guest: dtb {DTB:#018x}\nimpl id {sbi.IMPL_ID:#018x}\n")
    assert "hsm and ipi ok\ntimer ok\nok\nPASS\n" in out
    stats = vm.statistics()
    assert [v.hsm_state for v in stats.vcpus] == ["started"] + ["stopped"] * 3
    assert stats.sbi_not_supported == {0x0A00_0000: 1, sbi.EXT_RFENCE: 1}
    assert stats.sbi_calls[sbi.EXT_HSM] >= 3 + 3 + 3
    # One remote sfence.vma went to every hart, the ASID one and fence.i to hart 0.
    assert [v.remote_tlb_flushes for v in stats.vcpus] == [3, 1, 1, 1]
    # Each secondary's IPI made hart 0 the next to run.
    assert sum(v.directed_yields for v in stats.vcpus) >= 3
    assert all(v.hsm_state == HsmState.STOPPED.name.lower() for v in stats.vcpus[1:])
