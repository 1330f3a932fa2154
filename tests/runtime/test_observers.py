"""Observers see a running VM through the event bus without ever slowing a vCPU down."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.runtime.events import ExitEvent, HsmEvent, VmExitEvent, VmidRolloverEvent
from avmm.runtime.host import Host
from tests.runtime.guest import bare_metal_vm


@pytest.mark.slow
async def test_a_full_queue_drops_events_and_the_run_goes_on(guests: Path) -> None:
    async with Host(pcpus=2, vmid_bits=1) as host:
        small = host.events.subscribe([ExitEvent], maxsize=4)
        everything = host.events.subscribe(maxsize=100_000)
        for i in range(2):
            bare_metal_vm(
                host.create_vm(f"vm{i}"),
                guests / "smp.elf",
                vcpus=2,
                patch={"nharts": 2, "iterations": 100},
            )
        results = await host.run()
    assert all(r.code == 0 for r in results.values())
    assert small.delivered == 4 and small.dropped > 0
    seen: dict[type, int] = {}
    while not everything.queue.empty():
        event = everything.get_nowait()
        seen[type(event)] = seen.get(type(event), 0) + 1
    assert everything.dropped == 0
    assert seen[VmExitEvent] == 2
    assert seen[VmidRolloverEvent] == host.vmids.rollovers > 0
    htif = sum(v.exits["htif"] for vm in host.vms.values() for v in vm.statistics().vcpus)
    assert seen[ExitEvent] >= htif > 0
    assert HsmEvent not in seen  # nobody changed HSM state in a bare-metal guest
