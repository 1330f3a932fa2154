"""The steal meter's model on hand-driven clocks: waiters beyond the spare pCPUs are
charged, each by its own VM's guest time; nobody is when there are pCPUs enough."""

from __future__ import annotations

import pytest

from avmm.runtime.steal import StealMeter


class Clocks:
    """Guest ticks of two VMs, moved by hand."""

    def __init__(self) -> None:
        self.ticks = {0: 0, 1: 0}

    def meter(self, pcpus: int, vcpus: dict[int, int]) -> StealMeter:
        meter = StealMeter(pcpus)
        for vm in self.ticks:
            meter.add_vm(vm, lambda vm=vm: self.ticks[vm])
        for vcpu, vm in vcpus.items():
            meter.add_vcpu(vcpu, vm)
        return meter


def test_one_pcpu_charges_every_waiter_all_of_its_wait() -> None:
    c = Clocks()
    m = c.meter(1, {1: 0, 2: 0})
    m.queued(2)
    c.ticks[0] += 100  # vCPU 1 runs a slice
    m.granted(2)
    m.queued(1)
    c.ticks[0] += 50
    m.granted(1)
    assert (m.stolen_ticks(1), m.stolen_ticks(2)) == (50.0, 100.0)


def test_waiters_share_what_the_spare_pcpus_cannot_run() -> None:
    c = Clocks()
    m = c.meter(2, {1: 0, 2: 0, 3: 0, 4: 0})
    for vcpu in (2, 3, 4):  # vCPU 1 runs; three wait for the one other pCPU
        m.queued(vcpu)
    assert m.would_charge()
    c.ticks[0] += 300
    m.granted(2)  # two waiters left, one spare pCPU: each charged half from here
    c.ticks[0] += 100
    m.granted(3)
    m.granted(4)
    assert m.stolen_ticks(2) == pytest.approx(200)  # 300 * 2/3
    assert m.stolen_ticks(3) == pytest.approx(250)  # 300 * 2/3 + 100 * 1/2
    assert m.stolen_ticks(4) == pytest.approx(250)
    assert m.stolen_ticks(1) == 0


def test_no_steal_with_a_pcpu_for_every_vcpu() -> None:
    c = Clocks()
    m = c.meter(4, {1: 0, 2: 0, 3: 0, 4: 0})
    m.queued(2)
    m.queued(3)
    assert not m.would_charge()  # the fourth vCPU would find a pCPU too
    m.queued(4)
    c.ticks[0] += 10_000
    for vcpu in (2, 3, 4):
        m.granted(vcpu)
    assert [m.stolen_ticks(v) for v in (1, 2, 3, 4)] == [0, 0, 0, 0]


def test_a_waiter_is_charged_in_its_own_vms_time() -> None:
    c = Clocks()
    m = c.meter(1, {1: 0, 2: 1})
    m.queued(2)  # VM 1's vCPU waits while VM 0's runs: VM 1's clock does not move
    c.ticks[0] += 500
    m.granted(2)
    assert m.stolen_ticks(2) == 0
    m.queued(1)
    c.ticks[0] += 7
    c.ticks[1] += 40
    m.granted(1)
    assert m.stolen_ticks(1) == 7


def test_unknown_keys_and_double_grants_change_nothing() -> None:
    c = Clocks()
    m = c.meter(1, {1: 0, 2: 0})
    m.queued(99)
    m.granted(99)
    m.granted(1)  # never queued
    m.queued(2)
    c.ticks[0] += 10
    m.granted(2)
    m.granted(2)
    assert m.stolen_ticks(2) == 10 and m.stolen_ticks(99) == 0
