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

The scheduler tells its :class:`~avmm.runtime.steal.StealMeter` when a vCPU
joins and leaves the queue: the time it waits there, beyond what the
modelled pCPUs could have run in parallel, is its steal time.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from avmm.constants import POLICIES, PolicyName
from avmm.errors import ConfigError
from avmm.runtime.pcpu import Pcpu
from avmm.runtime.steal import StealMeter

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

    def state(self, names: Mapping[int, int]) -> dict[str, Any]:
        """What the policy remembers between picks (for snapshots), each vCPU key
        renamed through ``names`` (key -> a name that outlives the process)."""

    def restore(self, state: dict[str, Any], keys: Mapping[int, int]) -> None:
        """Take back :meth:`state`, each name turned back into a key by ``keys``."""


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

    def state(self, names: Mapping[int, int]) -> dict[str, Any]:
        return {}  # the queue's order is the order the vCPUs ask again

    def restore(self, state: dict[str, Any], keys: Mapping[int, int]) -> None:
        pass


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

    def state(self, names: Mapping[int, int]) -> dict[str, Any]:
        return {"rng": _rng_state(self._rng)}

    def restore(self, state: dict[str, Any], keys: Mapping[int, int]) -> None:
        _set_rng_state(self._rng, state["rng"])


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

    def state(self, names: Mapping[int, int]) -> dict[str, Any]:
        return {
            "rng": _rng_state(self._rng),
            "ran": sorted(names[k] for k in self._ran),
            "rank": [[names[key], rank] for key, rank in sorted(self._rank.items())],
            "rounds": self.rounds,
        }

    def restore(self, state: dict[str, Any], keys: Mapping[int, int]) -> None:
        _set_rng_state(self._rng, state["rng"])
        self._ran = {keys[int(k)] for k in state["ran"]}
        self._rank = {keys[int(k)]: int(r) for k, r in state["rank"]}
        self.rounds = int(state["rounds"])


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss = state
    rng.setstate((int(version), tuple(int(i) for i in internal), gauss))


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
        # Holding (snapshots): the policy still picks at the moment it would, but the
        # grant waits in _next until unhold(); a restored scheduler grants _next first.
        self._held = False
        self._next: Schedulable | None = None
        self._quiet: asyncio.Future[None] | None = None
        self.hold_at: int | None = None  # hold once this many instructions ran (all VMs)
        self.on_hold: Callable[[], None] | None = None  # told when hold_at holds
        self.instructions = 0
        self.slices = 0
        self.directed_yields = 0
        self.dispatch_seconds = 0.0
        self.requests = 0
        self.runnable_sum = 0
        self.steal = StealMeter(len(self.pcpus))

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
        self.steal.queued(vcpu.key)
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
            if self._next is vcpu:
                self._next = None
                self.steal.granted(vcpu.key)
                self._dispatch()
            elif self.policy.remove(vcpu):
                self.steal.granted(vcpu.key)
            elif self._running is vcpu:
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
            self.instructions += instructions
            if self.hold_at is not None and self.instructions >= self.hold_at:
                self.hold_at = None
                self._held = True
                if self.on_hold is not None:
                    self.on_hold()
        if self._running is vcpu:
            self._running = None
            self._check_quiet()
        if len(self.policy) and not self._dispatch_pending:
            self._dispatch()

    def set_policy(self, policy: Policy) -> None:
        """Use ``policy`` from the next pick on; the vCPUs waiting now move to it in
        the old policy's order. Call on the loop thread (between two slices)."""
        old, self.policy = self.policy, policy
        while len(old):
            policy.add(old.pick())

    def last_pcpu(self, vcpu: Schedulable) -> Pcpu | None:
        """The pCPU ``vcpu`` ran its last slice on (None before its first)."""
        return self._last_pcpu.get(vcpu.key)

    @property
    def contended(self) -> bool:
        """Another vCPU waits for a pCPU, or a directed yield or a dispatch is due."""
        return (
            bool(len(self.policy))
            or self._hint is not None
            or self._dispatch_pending
            or self._next is not None
            or self._held
        )

    # ------------------------------------------------------------- holding

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        """Grant no more slices until :meth:`unhold`; the slice running goes on."""
        self._held = True

    async def quiesce(self) -> None:
        """Hold, and wait until no vCPU is inside a slice (every vCPU of every VM is
        then at a slice boundary: queued, asleep, paused or done)."""
        self._held = True
        while self._running is not None or self._dispatch_pending:
            if self._running is None:
                await asyncio.sleep(0)  # a deferred dispatch runs soon (and is held)
                continue
            self._quiet = asyncio.get_running_loop().create_future()
            await self._quiet

    def _check_quiet(self) -> None:
        quiet = self._quiet
        if quiet is not None and not quiet.done():
            self._quiet = None
            quiet.set_result(None)

    def unhold(self) -> None:
        """Grant slices again, the held pick first."""
        self._held = False
        self._dispatch()

    def grant_first(self, vcpu: Schedulable) -> None:
        """``vcpu`` gets the next grant, as soon as it asks (a restored held pick).
        A pick held before goes back to the ready queue."""
        old = self._next
        if old is not None and old is not vcpu and old.key in self._grants:
            self.policy.add(old)
        self._next = vcpu

    @property
    def held_pick(self) -> Schedulable | None:
        """The vCPU the policy picked while held: it runs first after unhold."""
        return self._next

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
        if self._running is not None:
            return
        chosen = self._next
        if chosen is not None:
            # a pick made while held (or restored): granted first, once it asks
            if self._held:
                return
            fut = self._grants.get(chosen.key)
            if fut is None or fut.done():
                return
            self._next = None
            self.policy.remove(chosen)  # a restored vCPU's acquire queued it
            self.steal.granted(chosen.key)
            self._running = chosen
            fut.set_result(self._place(chosen))
            return
        if not len(self.policy):
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
        self.steal.granted(vcpu.key)
        fut = self._grants.get(vcpu.key)
        if fut is None or fut.done():  # cancelled meanwhile: try the next one
            self._dispatch(defer=False)
            return
        if self._held:
            self._next = vcpu  # picked now, as it would be; granted at unhold()
            return
        self._running = vcpu
        fut.set_result(self._place(vcpu))
        self.dispatch_seconds += time.perf_counter() - t0

    def placement(self, names: dict[int, int]) -> dict[str, Any]:
        """The pCPUs' modelled loads and each vCPU's last pCPU (``names``: key ->
        index), which decide where the next slices run (a snapshot keeps them)."""
        return {
            "loads": [p.load for p in self.pcpus],
            "last": {names[k]: p.index for k, p in self._last_pcpu.items() if k in names},
        }

    def restore_placement(self, saved: dict[str, Any], keys: dict[int, int]) -> None:
        """Take back :meth:`placement` (``keys``: index -> key), if the pCPUs match."""
        loads, last = saved["loads"], saved["last"]
        if len(loads) != len(self.pcpus):
            return  # another host shape: placement starts afresh
        for pcpu, load in zip(self.pcpus, loads, strict=True):
            pcpu.load = int(load)
        for index, pcpu_index in last.items():
            self._last_pcpu[keys[int(index)]] = self.pcpus[int(pcpu_index)]

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
