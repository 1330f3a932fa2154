"""Scheduler knobs changed while VMs run (Host.tune, the control API's ``sched``),
and a reset asked for from outside the guest (Vm.request_reset)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from avmm.errors import ConfigError
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.runtime.pcpu import Pcpu
from avmm.runtime.sched import RoundRobin, Scheduler
from tests.runtime.test_vm_control import spinning, until


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"slice": 0}, "sched.slice: 0 is out of range (1..100000000)"),
        ({"slice": True}, "sched.slice: True is out of range (1..100000000)"),
        (
            {"policy": "fastest"},
            "sched.policy: 'fastest' is not one of: round-robin, random, deterministic",
        ),
        (
            {"policy": "deterministic"},
            "sched.policy: the deterministic policy is chosen at start, not changed while VMs run",
        ),
        ({"slice": 500, "pause_window": 0}, "sched.pause_window: 0 must be at least 1"),
    ],
)
async def test_a_bad_knob_changes_nothing(knobs: dict[str, object], message: str) -> None:
    async with Host(slice=1000) as host:
        host.create_vm("a")
        with pytest.raises(ConfigError) as err:
            host.tune(**knobs)  # type: ignore[arg-type]
        assert str(err.value) == message
        assert (host.slice, host.scheduler.slice, host.policy_name) == (1000, 1000, "round-robin")


async def test_exiting_knobs_reach_every_vms_core() -> None:
    async with Host() as host:
        vms = [host.create_vm("a"), host.create_vm("b")]
        host.tune(pause_exit=True, pause_window=3, directed_yield=False)
        for vm in vms:
            machine = vm.machine
            assert (machine.pause_exit, machine.pause_window, machine.ipi_exit) == (True, 3, False)
            assert vm.directed_yields is False
        assert (host.pause_exit, host.pause_window, host.directed_yield) == (True, 3, False)


class _Key:
    def __init__(self, key: int) -> None:
        self.key = key


def test_a_new_policy_takes_the_waiting_vcpus_in_order() -> None:
    old = RoundRobin()
    waiting = [_Key(3), _Key(1), _Key(2)]
    for k in waiting:
        old.add(k)
    sched = Scheduler([Pcpu(0, 16)], old, slice=100)
    new = RoundRobin()
    sched.set_policy(new)
    assert (sched.policy, len(old)) == (new, 0)
    assert [new.pick() for _ in waiting] == waiting


@pytest.mark.slow
async def test_a_running_vm_takes_a_new_slice_and_policy_at_its_next_slice(guests: Path) -> None:
    async with Host(slice=10_000) as host:
        vm = spinning(host, guests)
        task = asyncio.create_task(vm.run())
        await until(lambda: b"spin 1\n" in vm.console_output)
        host.tune(slice=3_000, policy="random")
        vcpu = vm.vcpus[0]  # hart 0 spins (hart 1 waits in WFI)
        i0, s0 = vcpu.hart.instret, vcpu.counters.slices
        await until(lambda: vcpu.counters.slices > s0 + 100)
        vm.pause()
        await until(lambda: not any(v.in_run for v in vm.vcpus))
        ran, slices = vcpu.hart.instret - i0, vcpu.counters.slices - s0
        # each slice ends on its budget of 3,000 (console writes are completed in
        # place and the slice goes on); the pause may cut the last one short
        assert 3_000 * (slices - 1) < ran <= 3_000 * slices
        assert host.scheduler.policy.name == "random"
        vm.stop()
        await task


@pytest.mark.slow
async def test_a_reset_from_outside_ends_the_run_as_a_reboot(guests: Path) -> None:
    async with Host() as host:
        vm = spinning(host, guests)
        task = asyncio.create_task(vm.run())
        await until(lambda: b"spin 1\n" in vm.console_output)
        vm.pause()
        vm.request_reset()
        result = await task
    assert result.exit == SystemEvent(0, SystemEventKind.REBOOT, 0)
    assert result.code == 0
    assert not vm.paused
