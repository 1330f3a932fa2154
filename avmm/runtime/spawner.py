"""Background work of a VM's device models (disk I/O, network delivery).

Normally a submitted coroutine is a task that completes whenever it
completes. Under the deterministic policy the vCPU whose exit started the
work waits for it before it gives up its pCPU, so completions and the
interrupts they raise land at reproducible instruction counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avmm.runtime.vcpu import Vcpu
    from avmm.runtime.vm import Vm

_log = logging.getLogger("avmm.spawner")


class VmSpawner:
    """The :class:`~avmm.devices.base.Spawner` of one VM."""

    def __init__(self, vm: Vm, *, deterministic: bool) -> None:
        self._vm = vm
        self.deterministic = deterministic
        self._tasks: set[asyncio.Task[None]] = set()
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
            current.work.append(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failed += 1
            _log.error("%s: device work failed", task.get_name(), exc_info=task.exception())
        self._vm.work_done()

    async def wait_for(self, vcpu: Vcpu) -> None:
        """Wait for the work ``vcpu`` started (deterministic policy)."""
        tasks, vcpu.work = vcpu.work, []
        await asyncio.wait(tasks)

    async def drain(self) -> None:
        """Wait for every outstanding piece of work (VM teardown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))
