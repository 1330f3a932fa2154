"""Scheduler policies: order, seeded reproducibility, directed yield, pCPU placement."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avmm.errors import ConfigError
from avmm.runtime.sched import Deterministic, RoundRobin, Scheduler, SeededRandom, make_policy


class FakeVcpu:
    """All the scheduler knows of a vCPU is its key: grants and the last pCPU are its own."""

    def __init__(self, key: int) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"v{self.key}"


class FakePcpu:
    def __init__(self, index: int) -> None:
        self.index = index
        self.load = 0
        self.slices = 0
        self.instructions = 0


def drain(policy: Any) -> list[int]:
    out = []
    while len(policy):
        out.append(policy.pick().key)
    return out


def test_round_robin_is_first_come_first_served() -> None:
    rr = RoundRobin()
    vs = [FakeVcpu(k) for k in (3, 1, 2)]
    for v in vs:
        rr.add(v)  # type: ignore[arg-type]
    rr.add(vs[0])  # type: ignore[arg-type]  # already queued: no duplicate
    assert drain(rr) == [3, 1, 2]


def test_random_policy_is_reproducible_per_seed_and_independent_of_arrival_order() -> None:
    def picks(seed: int, order: list[int]) -> list[int]:
        policy = SeededRandom(seed)
        out = []
        for _ in range(20):
            for k in order:
                policy.add(FakeVcpu(k))  # type: ignore[arg-type]
            out.append(policy.pick().key)
        return out

    a = picks(7, [0, 1, 2, 3])
    assert a == picks(7, [3, 2, 1, 0])
    assert a != picks(8, [0, 1, 2, 3])
    assert len(set(a)) > 1


def test_deterministic_policy_runs_everyone_once_per_round_in_a_seeded_order() -> None:
    def rounds(seed: int, order: list[int], n: int = 4) -> list[list[int]]:
        policy = Deterministic(seed)
        vcpus = {k: FakeVcpu(k) for k in order}
        out = []
        for _ in range(n):
            for k in order:
                policy.add(vcpus[k])  # type: ignore[arg-type]
            out.append(drain(policy))
        return out

    r = rounds(1, [0, 1, 2, 3, 4, 5])
    assert all(sorted(x) == [0, 1, 2, 3, 4, 5] for x in r)
    assert r == rounds(1, [5, 3, 1, 0, 2, 4])  # arrival order does not matter
    assert r != rounds(2, [0, 1, 2, 3, 4, 5])


def test_deterministic_policy_never_runs_a_vcpu_twice_in_a_round_while_others_wait() -> None:
    policy = Deterministic(0)
    a, b = FakeVcpu(1), FakeVcpu(2)
    policy.add(a)  # type: ignore[arg-type]
    policy.add(b)  # type: ignore[arg-type]
    first = policy.pick()
    policy.add(first)  # back in the queue at once
    assert policy.pick() is not first


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sched\.policy"):
        make_policy("fifo")


async def run_slices(sched: Scheduler, vcpus: list[FakeVcpu], n: int) -> list[tuple[int, int]]:
    """Every vCPU asks for n slices; returns (vcpu key, pcpu index) in grant order."""
    order: list[tuple[int, int]] = []

    async def task(v: FakeVcpu) -> None:
        for _ in range(n):
            pcpu = await sched.acquire(v)  # type: ignore[arg-type]
            order.append((v.key, pcpu.index))
            sched.release(v, pcpu, 1000)  # type: ignore[arg-type]

    await asyncio.gather(*(task(v) for v in vcpus))
    return order


async def test_round_robin_interleaves_slices_and_balances_pcpus() -> None:
    pcpus = [FakePcpu(0), FakePcpu(1)]
    sched = Scheduler(pcpus, RoundRobin(), slice=1000)  # type: ignore[arg-type]
    vcpus = [FakeVcpu(k) for k in range(4)]
    order = await run_slices(sched, vcpus, 3)
    assert [k for k, _ in order] == [0, 1, 2, 3] * 3
    assert pcpus[0].instructions == pcpus[1].instructions == 6000
    # With an even split every vCPU keeps its pCPU (TLB affinity).
    homes = {k: {p for kk, p in order if kk == k} for k in range(4)}
    assert all(len(p) == 1 for p in homes.values())
    assert sched.statistics().slices == 12


async def test_directed_yield_runs_the_target_next_once() -> None:
    sched = Scheduler([FakePcpu(0)], RoundRobin(), slice=1000)  # type: ignore[arg-type]
    vcpus = [FakeVcpu(k) for k in range(4)]
    order: list[int] = []

    async def task(v: FakeVcpu) -> None:
        for i in range(2):
            pcpu = await sched.acquire(v)  # type: ignore[arg-type]
            order.append(v.key)
            if v.key == 0 and i == 0:
                sched.yield_to(vcpus[3])  # type: ignore[arg-type]
            sched.release(v, pcpu, 10)  # type: ignore[arg-type]

    await asyncio.gather(*(task(v) for v in vcpus))
    assert order[:3] == [0, 3, 1]
    assert sorted(order) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert sched.statistics().directed_yields == 1


async def test_one_slice_at_a_time() -> None:
    sched = Scheduler([FakePcpu(0), FakePcpu(1)], RoundRobin(), slice=1000)  # type: ignore[arg-type]
    running = 0
    peak = 0

    async def task(v: FakeVcpu) -> None:
        nonlocal running, peak
        for _ in range(3):
            pcpu = await sched.acquire(v)  # type: ignore[arg-type]
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)  # other tasks run while this one holds the slot
            running -= 1
            sched.release(v, pcpu, 1)  # type: ignore[arg-type]

    await asyncio.gather(*(task(FakeVcpu(k)) for k in range(5)))
    assert peak == 1


async def test_cancelled_waiter_leaves_the_queue() -> None:
    sched = Scheduler([FakePcpu(0)], RoundRobin(), slice=1000)  # type: ignore[arg-type]
    a, b = FakeVcpu(1), FakeVcpu(2)
    pa = await sched.acquire(a)  # type: ignore[arg-type]
    waiter = asyncio.create_task(sched.acquire(b))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert sched.statistics().ready == 0
    sched.release(a, pa, 1)  # type: ignore[arg-type]
    assert sched.running is None
