"""Background work of a VM's device models (disk I/O, network delivery).

Normally a submitted coroutine is a task that completes whenever it
completes. Under the deterministic policy the vCPU whose slice started the
work waits for it before it gives up its pCPU, so completions and the
interrupts they raise land at reproducible instruction counts. The spawner
keeps that work itself, by vCPU index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

_log = logging.getLogger("avmm.spawner")


class SpawnerVm(Protocol):
    """What the spawner needs of its VM."""

    @property
    def name(self) -> str: ...

    @property
    def current(self) -> int | None:
        """Index of the vCPU whose slice is running, if any."""

    def work_done(self) -> None: ...


class VmSpawner:
    """The :class:`~avmm.devices.base.Spawner` of one VM."""

    def __init__(self, vm: SpawnerVm, *, deterministic: bool) -> None:
        self._vm = vm
        self.deterministic = deterministic
        self._tasks: set[asyncio.Task[None]] = set()
        self._started: dict[int, list[asyncio.Task[None]]] = {}  # vCPU index -> its work
        self.submitted = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"{self._vm.name}:{name}")
        self._tasks.add(task)
        self.submitted += 1
        task.add_done_callback(self._done)
        current = self._vm.current
        if self.deterministic and current is not None:
            self._started.setdefault(current, []).append(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failed += 1
            _log.error("%s: device work failed", task.get_name(), exc_info=task.exception())
        self._vm.work_done()

    def owes(self, vcpu: int) -> bool:
        """vCPU ``vcpu`` started work it must wait for (deterministic policy)."""
        return bool(self._started.get(vcpu))

    async def wait_for(self, vcpu: int) -> None:
        """Wait for the work vCPU ``vcpu`` started (deterministic policy)."""
        tasks = self._started.pop(vcpu, [])
        if tasks:
            await asyncio.wait(tasks)

    def forget(self, vcpu: int) -> None:
        """A reset vCPU no longer waits for what it started."""
        self._started.pop(vcpu, None)

    async def drain(self) -> None:
        """Wait for every outstanding piece of work (VM teardown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))
