"""Steal time: how long each runnable vCPU waited for a modelled pCPU.

avmm runs one slice at a time, but models ``P`` pCPUs running in parallel.
While one vCPU runs a slice and ``W`` others wait in the scheduler's queue, a
host with ``P`` real CPUs would be running ``min(W, P - 1)`` of the waiting
ones too; the other ``max(0, W - (P - 1))`` are the ones a pCPU is really
missing for. No waiter is special, so each is charged that share of the
time that passes: its steal grows at ``max(0, W - P + 1) / W`` of its VM's
guest time while it waits. A vCPU that sleeps (WFI, HSM stop) is idle, not
waiting, and accrues nothing; with no more runnable vCPUs than pCPUs nobody
ever does.

Over a stretch where ``R`` vCPUs stay runnable, each one waits ``(R - 1)/R``
of the time and is charged ``(R - P)/(R - 1)`` of that: steal is
``1 - P/R`` of the time it was runnable, what a fair scheduler on ``P``
CPUs leaves it. Four busy vCPUs on two pCPUs get half of the time each.

Time is each VM's own guest time (ticks), so under the virtual clock it is
instructions and steal is reproducible run after run. The meter keeps, per
VM, the running integral of the charge rate over that VM's time
(:attr:`_acc`); a vCPU's steal for one wait is the integral's growth
between joining the queue and leaving it. The rate only changes when the
queue does, which is when :meth:`queued` and :meth:`granted` integrate
(two reads of each VM's clock; none while nobody can be charged).
"""

from __future__ import annotations

from collections.abc import Callable


class StealMeter:
    """Per-vCPU steal time of one host's vCPUs (keys as the scheduler's)."""

    def __init__(self, pcpus: int) -> None:
        self._spare = pcpus - 1  # pCPUs left for waiters while one vCPU runs
        self._clocks: dict[int, Callable[[], int]] = {}  # VM key -> guest ticks now
        self._acc: dict[int, float] = {}  # VM key -> integral of the rate (ticks)
        self._last: dict[int, int] = {}  # VM key -> its ticks at the last integration
        self._vm_of: dict[int, int] = {}  # vCPU key -> VM key
        self._since: dict[int, float] = {}  # waiting vCPU key -> its VM's _acc on joining
        self._stolen: dict[int, float] = {}  # vCPU key -> steal so far (ticks)
        self._rate = 0.0  # charge per waiter per tick, given the queue now
        self._resume: dict[int, float] = {}  # restored vCPU key -> its mark, once queued

    def add_vm(self, vm_key: int, ticks: Callable[[], int]) -> None:
        self._clocks[vm_key] = ticks
        self._acc[vm_key] = 0.0
        self._last[vm_key] = ticks()

    def add_vcpu(self, vcpu_key: int, vm_key: int) -> None:
        self._vm_of[vcpu_key] = vm_key
        self._stolen[vcpu_key] = 0.0

    def queued(self, vcpu_key: int) -> None:
        """The vCPU joined the scheduler's queue (runnable, waiting for a pCPU)."""
        vm = self._vm_of.get(vcpu_key)
        if vm is None:
            return
        self._integrate(len(self._since) + 1)
        self._since[vcpu_key] = self._resume.pop(vcpu_key, self._acc[vm])

    def granted(self, vcpu_key: int) -> None:
        """The vCPU left the queue (granted a pCPU, or it gave up waiting)."""
        since = self._since.get(vcpu_key)
        if since is None:
            return
        self._integrate(len(self._since) - 1)
        del self._since[vcpu_key]
        self._stolen[vcpu_key] += self._acc[self._vm_of[vcpu_key]] - since

    def _integrate(self, waiting: int) -> None:
        """Charge the time since the last change at the old rate; set the new one."""
        rate = self._rate
        if rate:
            acc, last = self._acc, self._last
            for vm, ticks in self._clocks.items():
                now = ticks()
                acc[vm] += (now - last[vm]) * rate
                last[vm] = now
        excess = waiting - self._spare
        self._rate = excess / waiting if excess > 0 else 0.0
        if self._rate and not rate:  # charging starts: from now
            for vm, ticks in self._clocks.items():
                self._last[vm] = ticks()

    def would_charge(self) -> bool:
        """Would a vCPU joining the queue now accrue steal (all pCPUs taken)?"""
        return len(self._since) + 1 > self._spare

    def stolen_ticks(self, vcpu_key: int) -> float:
        """Guest ticks ``vcpu_key`` waited without a pCPU, up to its last grant."""
        return self._stolen.get(vcpu_key, 0.0)

    def state(self, vm_key: int, names: dict[int, int]) -> dict[str, object]:
        """One VM's share of the meter as plain data (a snapshot): its integral, and
        per vCPU (``names``: key -> index) the steal so far and, for a waiting one,
        the integral when it joined the queue."""
        self._integrate(len(self._since))  # up to now; the queue, so the rate, unchanged
        return {
            "acc": self._acc[vm_key],
            "stolen": {names[k]: v for k, v in self._stolen.items() if k in names},
            "waiting": {names[k]: v for k, v in self._since.items() if k in names},
        }

    def restore(self, vm_key: int, state: dict[str, object], keys: dict[int, int]) -> None:
        """Take back :meth:`state` (``keys``: index -> key) at the same guest time. A
        vCPU that was waiting goes on waiting from its old mark, now or when it
        queues again, so its steal is the one an uninterrupted run would show."""
        acc, stolen, waiting = state["acc"], state["stolen"], state["waiting"]
        if not isinstance(acc, float | int) or not isinstance(stolen, dict):
            raise ValueError("steal state: acc or stolen has the wrong type")
        if not isinstance(waiting, dict):
            raise ValueError("steal state: waiting has the wrong type")
        self._integrate(len(self._since))
        self._acc[vm_key] = float(acc)
        self._last[vm_key] = self._clocks[vm_key]()
        for index, ticks in stolen.items():
            self._stolen[keys[int(index)]] = float(ticks)
        for index, since in waiting.items():
            key = keys[int(index)]
            if key in self._since:
                self._since[key] = float(since)
            else:
                self._resume[key] = float(since)
