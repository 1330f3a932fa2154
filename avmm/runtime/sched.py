"""The scheduler: which ready vCPU runs the next slice, and on which pCPU.

Every vCPU task asks for a pCPU before each slice (:meth:`Scheduler.acquire`)
and gives it back after (:meth:`Scheduler.release`). Slices run one at a
time on the event-loop thread; a vCPU always passes through the event loop
before its slice, so every slice boundary is a reschedule point where other
tasks (devices, signals, observers) get to run.

Policies decide the order among ready vCPUs:

- ``round-robin``: first come, first served.
- ``random``: a seeded uniform pick, so a vCPU may run twice in a row (it
  shakes out interleavings; reproducible for a given seed and clock).
- ``deterministic``: rounds; in each round every ready vCPU runs once, in an
  order drawn from a seeded permutation of all vCPUs. The order depends only
  on the seed and on which vCPUs are ready, never on the order the event loop
  woke their tasks in. With the virtual clock (and device work awaited by the
  vCPU that started it) a run is reproducible; another seed interleaves
  differently.

Directed yield overrides the policy once: :meth:`Scheduler.yield_to` makes a
vCPU (the target of an IPI) the next to run when it is ready.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from avmm.constants import POLICIES, PolicyName
from avmm.errors import ConfigError
from avmm.runtime.pcpu import Pcpu

if TYPE_CHECKING:
    import random

__all__ = ["POLICIES", "PolicyName"]


class Schedulable(Protocol):
    """What the scheduler knows of a vCPU: a host-wide key, ordered by creation.

    Everything else it keeps about one (its pending grant, the pCPU it last ran
    on) lives in the scheduler, by key."""

    @property
    def key(self) -> int: ...


class Policy(Protocol):
    """The ready queue: vCPUs waiting for a pCPU, in the policy's order."""

    name: str

    def add(self, vcpu: Schedulable) -> None: ...

    def remove(self, vcpu: Schedulable) -> bool: ...

    def pick(self) -> Schedulable: ...

    def __len__(self) -> int: ...

    def __contains__(self, vcpu: object) -> bool: ...


class RoundRobin:
    name = "round-robin"

    def __init__(self) -> None:
        self._queue: collections.deque[Schedulable] = collections.deque()
        self._members: set[int] = set()

    def add(self, vcpu: Schedulable) -> None:
        if vcpu.key not in self._members:
            self._members.add(vcpu.key)
            self._queue.append(vcpu)

    def remove(self, vcpu: Schedulable) -> bool:
        if vcpu.key not in self._members:
            return False
        self._members.discard(vcpu.key)
        self._queue.remove(vcpu)
        return True

    def pick(self) -> Schedulable:
        vcpu = self._queue.popleft()
        self._members.discard(vcpu.key)
        return vcpu

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, vcpu: object) -> bool:
        return getattr(vcpu, "key", None) in self._members


def _seeded(seed: int) -> random.Random:
    """A private generator for a seeded policy (random is imported only by the
    policies that draw: a quick launch under round-robin does not load it)."""
    import random

    return random.Random(seed)


class SeededRandom:
    name = "random"

    def __init__(self, seed: int) -> None:
        self._rng = _seeded(seed)
        self._ready: dict[int, Schedulable] = {}

    def add(self, vcpu: Schedulable) -> None:
        self._ready[vcpu.key] = vcpu

    def remove(self, vcpu: Schedulable) -> bool:
        return self._ready.pop(vcpu.key, None) is not None

    def pick(self) -> Schedulable:
        # Sorted keys: the pick depends on the seed and the ready set only.
        keys = sorted(self._ready)
        return self._ready.pop(keys[self._rng.randrange(len(keys))])

    def __len__(self) -> int:
        return len(self._ready)

    def __contains__(self, vcpu: object) -> bool:
        return getattr(vcpu, "key", None) in self._ready


class Deterministic:
    name = "deterministic"

    def __init__(self, seed: int) -> None:
        self._rng = _seeded(seed)
        self._ready: dict[int, Schedulable] = {}
        self._ran: set[int] = set()
        self._rank: dict[int, int] = {}
        self.rounds = 0

    def add(self, vcpu: Schedulable) -> None:
        self._ready[vcpu.key] = vcpu

    def remove(self, vcpu: Schedulable) -> bool:
        return self._ready.pop(vcpu.key, None) is not None

    def _new_round(self) -> None:
        self.rounds += 1
        self._ran.clear()
        known = sorted(set(self._rank) | set(self._ready))
        self._rng.shuffle(known)
        self._rank = {key: i for i, key in enumerate(known)}

    def pick(self) -> Schedulable:
        eligible = [k for k in self._ready if k not in self._ran and k in self._rank]
        if not eligible:
            self._new_round()
            eligible = list(self._ready)
        key = min(eligible, key=self._rank.__getitem__)
        self._ran.add(key)
        return self._ready.pop(key)

    def __len__(self) -> int:
        return len(self._ready)

    def __contains__(self, vcpu: object) -> bool:
        return getattr(vcpu, "key", None) in self._ready


def make_policy(name: str, seed: int = 0) -> Policy:
    if name == "round-robin":
        return RoundRobin()
    if name == "random":
        return SeededRandom(seed)
    if name == "deterministic":
        return Deterministic(seed)
    raise ConfigError("sched.policy", f"{name!r} is not one of: {', '.join(POLICIES)}")


@attrs.frozen
class SchedulerStatistics:
    policy: str
    slices: int
    directed_yields: int  # grants that went to a directed-yield target
    dispatch_seconds: float  # host time spent choosing and granting
    ready: int  # vCPUs waiting for a pCPU now
    running: int  # 1 while a vCPU holds the execution slot
    requests: int  # slice requests (acquire calls)
    runnable_sum: int  # sum over requests of the runnable vCPUs (waiting + running) seen


class Scheduler:
    """Grants slices to ready vCPUs on the modelled pCPUs, one slice at a time."""

    def __init__(self, pcpus: Sequence[Pcpu], policy: Policy, *, slice: int) -> None:
        if not pcpus:
            raise ConfigError("host.pcpus", "at least one pCPU is needed")
        self.pcpus = tuple(pcpus)
        self.policy = policy
        self.slice = slice
        self._running: Schedulable | None = None
        self._hint: Schedulable | None = None
        self._grants: dict[int, asyncio.Future[Pcpu]] = {}  # key -> grant awaited
        self._last_pcpu: dict[int, Pcpu] = {}  # key -> pCPU of its last slice
        self._dispatch_pending = False
        self.slices = 0
        self.directed_yields = 0
        self.dispatch_seconds = 0.0
        self.requests = 0
        self.runnable_sum = 0

    @property
    def running(self) -> Schedulable | None:
        """The vCPU holding the (single) execution slot, if any."""
        return self._running

    async def acquire(self, vcpu: Schedulable) -> Pcpu:
        """Wait until ``vcpu`` may run a slice; return the pCPU to run it on.

        Always passes through the event loop at least once: the reschedule point
        where device tasks, timers and signal handlers run between slices.
        """
        fut: asyncio.Future[Pcpu] = asyncio.get_running_loop().create_future()
        self._grants[vcpu.key] = fut
        self.policy.add(vcpu)
        # Run-queue length as each request sees it: waiting vCPUs plus the one holding
        # the slot (Linux's nr_running); its mean over time is sum / requests.
        self.requests += 1
        self.runnable_sum += len(self.policy) + (self._running is not None)
        if self._running is None and not self._dispatch_pending:
            self._dispatch()
        try:
            if fut.done():
                await asyncio.sleep(0)  # granted at once: still yield once
                return fut.result()
            return await fut
        except asyncio.CancelledError:
            if not self.policy.remove(vcpu) and self._running is vcpu:
                self._running = None
                self._dispatch()
            raise
        finally:
            del self._grants[vcpu.key]

    def release(
        self, vcpu: Schedulable, pcpu: Pcpu, instructions: int, *, ran: bool = True
    ) -> None:
        """``vcpu`` finished a slice of ``instructions`` on ``pcpu`` (``ran`` False:
        it gave the pCPU back unused, e.g. a stop request arrived while it queued)."""
        if ran:
            self._last_pcpu[vcpu.key] = pcpu
            pcpu.slices += 1
            pcpu.instructions += instructions
            # A slice ended early still occupied the pCPU for a moment.
            pcpu.load += max(instructions, 1)
            self.slices += 1
        if self._running is vcpu:
            self._running = None
        if len(self.policy) and not self._dispatch_pending:
            self._dispatch()

    @property
    def contended(self) -> bool:
        """Another vCPU waits for a pCPU, or a directed yield or a dispatch is due."""
        return bool(len(self.policy)) or self._hint is not None or self._dispatch_pending

    @property
    def yield_pending(self) -> bool:
        """A directed yield waits: the running vCPU should end its slice."""
        return self._hint is not None

    def yield_to(self, target: Schedulable) -> None:
        """Run ``target`` next (once) if it is ready by then."""
        self._hint = target

    def _deferred_dispatch(self) -> None:
        self._dispatch_pending = False
        self._dispatch(defer=False)

    def _dispatch(self, defer: bool = True) -> None:
        """Grant the slot to the next ready vCPU (nothing happens while one runs)."""
        if self._running is not None or not len(self.policy):
            return
        t0 = time.perf_counter()
        hint = self._hint
        if hint is not None and hint not in self.policy and defer:
            # The target was just woken: its task asks for a pCPU later in this
            # loop iteration. Decide once it has.
            self._dispatch_pending = True
            asyncio.get_running_loop().call_soon(self._deferred_dispatch)
            return
        self._hint = None
        if hint is not None and self.policy.remove(hint):
            vcpu = hint
            self.directed_yields += 1
        else:
            vcpu = self.policy.pick()
        fut = self._grants.get(vcpu.key)
        if fut is None or fut.done():  # cancelled meanwhile: try the next one
            self._dispatch(defer=False)
            return
        self._running = vcpu
        fut.set_result(self._place(vcpu))
        self.dispatch_seconds += time.perf_counter() - t0

    def _place(self, vcpu: Schedulable) -> Pcpu:
        if len(self.pcpus) == 1:
            return self.pcpus[0]
        # The least-loaded pCPU models N CPUs running in parallel; stay on the
        # previous one when it is within a slice of that (affinity keeps TLBs warm).
        best = min(self.pcpus, key=lambda p: (p.load, p.index))
        last = self._last_pcpu.get(vcpu.key)
        if last is not None and last.load <= best.load + self.slice:
            return last
        return best

    def statistics(self) -> SchedulerStatistics:
        return SchedulerStatistics(
            policy=self.policy.name,
            slices=self.slices,
            directed_yields=self.directed_yields,
            dispatch_seconds=self.dispatch_seconds,
            ready=len(self.policy),
            running=int(self._running is not None),
            requests=self.requests,
            runnable_sum=self.runnable_sum,
        )
