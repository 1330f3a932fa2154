"""SMP: 8 vCPUs contending on a spinlock, AMO and LR/SC counters get exact totals
under every policy, with pause-loop exiting on and off."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.runtime.exits import HtifExit
from avmm.runtime.host import Host
from tests.runtime.guest import bare_metal_vm

HARTS = 8
ITERATIONS = 2000


@pytest.mark.slow
@pytest.mark.parametrize("pause_exit", [False, True], ids=["pause-exit-off", "pause-exit-on"])
@pytest.mark.parametrize("policy", ["round-robin", "random", "deterministic"])
async def test_contended_counters_are_exact(guests: Path, policy: str, pause_exit: bool) -> None:
    clock = "virtual" if policy == "deterministic" else "host"
    async with Host(pcpus=2, policy=policy, seed=3, clock=clock, pause_exit=pause_exit) as host:
        vm = bare_metal_vm(
            host.create_vm("smp"),
            guests / "smp.elf",
            vcpus=HARTS,
            patch={"nharts": HARTS, "iterations": ITERATIONS},
        )
        result = await vm.run()
    out = vm.console_output.decode()
    want = HARTS * ITERATIONS
    assert f"lock {want} amo {want} lrsc {want} want {want}" in out, out
    assert isinstance(result.exit, HtifExit) and result.code == 0, out
    stats = vm.statistics()
    assert all(v.instret > 0 for v in stats.vcpus)
    pauses = sum(v.pause_exits for v in stats.vcpus)
    if pause_exit:
        assert pauses > 0
        assert sum(v.exits["pause"] for v in stats.vcpus) == pauses
    else:
        assert pauses == 0
