"""Idle: vCPUs asleep in WFI cost (almost) no host CPU."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from avmm.runtime.host import Host
from tests.runtime.guest import bare_metal_vm


@pytest.mark.slow
async def test_64_vcpus_in_wfi_leave_the_host_cpu_idle(guests: Path) -> None:
    async with Host(pcpus=4, clock="host") as host:
        vm = bare_metal_vm(host.create_vm("idle"), guests / "idle.elf", vcpus=64)
        task = asyncio.create_task(vm.run())
        await asyncio.sleep(0.5)  # boot: every hart reaches its WFI
        assert all(v.halted for v in vm.vcpus[1:])
        wall0, cpu0 = time.perf_counter(), time.process_time()
        ticks0 = vm.statistics().vcpus[0].halt_wakeups
        await asyncio.sleep(1.0)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        ticks = vm.statistics().vcpus[0].halt_wakeups - ticks0
        vm.stop()
        await task
    # A resource check, not a speed one: sleeping vCPUs use no CPU, so the
    # process is mostly idle (hart 0 still wakes for its 100 Hz timer).
    print(f"64 idle vCPUs: {cpu:.3f}s CPU in {wall:.3f}s wall, {ticks} timer wake-ups")
    assert ticks > 10
    assert cpu < 0.25 * wall, f"{cpu:.3f}s CPU in {wall:.3f}s"
