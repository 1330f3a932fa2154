"""Determinism: the deterministic policy on the virtual clock reproduces a run
exactly; another seed interleaves differently."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest

from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from tests.runtime.guest import bare_metal_vm
from tests.runtime.test_irqchip import DOORBELL, DOORBELL_IRQ


@attrs.frozen
class Run:
    console: bytes
    instret: tuple[int, ...]
    exits: tuple[tuple[int, ...], ...]
    time: int


async def run_smp(guests: Path, seed: int) -> Run:
    async with Host(pcpus=2, policy="deterministic", clock="virtual", seed=seed) as host:
        vm = bare_metal_vm(
            host.create_vm("det"),
            guests / "smp.elf",
            vcpus=4,
            patch={"nharts": 4, "iterations": 200},
        )
        result = await vm.run()
        assert result.code == 0, vm.console_output.decode()
        stats = vm.statistics()
        return Run(
            console=vm.console_output,
            instret=tuple(v.instret for v in stats.vcpus),
            exits=tuple(tuple(v.exits.values()) for v in stats.vcpus),
            time=stats.time,
        )


@pytest.mark.slow
async def test_same_seed_same_console_and_counts(guests: Path) -> None:
    first = await run_smp(guests, seed=11)
    second = await run_smp(guests, seed=11)
    assert first == second


@pytest.mark.slow
async def test_another_seed_changes_the_interleaving(guests: Path) -> None:
    a = await run_smp(guests, seed=11)
    b = await run_smp(guests, seed=12)
    assert a.instret != b.instret or a.console != b.console


class SlowDoorbell:
    """Like the irq test's doorbell, but the interrupt comes from background work
    that takes host time (as a disk read would)."""

    name = "doorbell"
    size = 0x1000

    def __init__(self, vm: Vm, delay: float) -> None:
        self.irq = vm.irq_line(DOORBELL_IRQ)
        self.spawner = vm.spawner
        self.delay = delay

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if value & 1:
            self.spawner.submit(self._ring(), name="ring")
        else:
            self.irq.set_level(False)

    async def _ring(self) -> None:
        await asyncio.sleep(self.delay)
        self.irq.set_level(True)

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


async def run_work(guests: Path, delay: float) -> Run:
    async with Host(policy="deterministic", clock="virtual", seed=5) as host:
        vm = bare_metal_vm(
            host.create_vm("work"), guests / "work.elf", vcpus=2, patch={"rounds": 5}
        )
        vm.add_device(DOORBELL, SlowDoorbell(vm, delay))
        result = await vm.run()
        assert result.code == 0, vm.console_output.decode()
        stats = vm.statistics()
        assert stats.device_work == 5
        return Run(
            console=vm.console_output,
            instret=tuple(v.instret for v in stats.vcpus),
            exits=tuple(tuple(v.exits.values()) for v in stats.vcpus),
            time=stats.time,
        )


@pytest.mark.slow
async def test_device_work_completes_at_reproducible_points(guests: Path) -> None:
    # Host time spent by the device's background work must not leak into the run:
    # hart 1 keeps counting while hart 0 waits for the interrupt.
    fast = await run_work(guests, 0.001)
    slow = await run_work(guests, 0.03)
    assert fast == slow
    assert fast.console.count(b"interrupt") == 5
