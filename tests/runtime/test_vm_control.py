"""Stopping, pausing and resuming a whole running VM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from avmm.runtime.exits import Interrupted, StopReason
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from tests.runtime.guest import bare_metal_vm


async def until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.005)


def spinning(host: Host, guests: Path) -> Vm:
    return bare_metal_vm(
        host.create_vm("spin"), guests / "spin.elf", vcpus=2, patch={"interval": 20_000}
    )


@pytest.mark.slow
async def test_pause_freezes_the_guest_and_resume_continues(guests: Path) -> None:
    async with Host() as host:
        vm = spinning(host, guests)
        task = asyncio.create_task(vm.run())
        await until(lambda: b"spin 1\n" in vm.console_output)
        vm.pause()
        await until(lambda: not any(v.in_run for v in vm.vcpus))
        frozen = vm.machine.instret
        await asyncio.sleep(0.05)
        assert vm.machine.instret == frozen
        assert [v.counters.interrupted_exits for v in vm.vcpus] == [1, 1]
        vm.resume()
        await until(lambda: vm.machine.instret > frozen)
        vm.stop()
        result = await task
    assert result.exit == Interrupted(0, StopReason.STOP)
    assert result.code == 0


@pytest.mark.slow
async def test_host_signal_interrupts_every_vm(guests: Path) -> None:
    async with Host(pcpus=2) as host:
        a = spinning(host, guests)
        b = bare_metal_vm(
            host.create_vm("spin2"), guests / "spin.elf", vcpus=1, patch={"interval": 20_000}
        )
        task = asyncio.create_task(host.run())
        await until(lambda: b"spin 0" in a.console_output and b"spin 0" in b.console_output)
        host.signal(15)
        results = await task
    for result in results.values():
        assert isinstance(result.exit, Interrupted)
        assert result.exit.reason is StopReason.SIGNAL and result.code == 0
    assert sum(v.signal_exits for vm in (a, b) for v in vm.statistics().vcpus) == 3
