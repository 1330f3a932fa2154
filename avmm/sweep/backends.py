"""Where points run: a local pool of child processes, or Ray tasks on a cluster.

A backend takes :class:`~avmm.sweep.point.Task` records and yields their
:class:`~avmm.sweep.point.Outcome` as each finishes; both run the same
:func:`~avmm.sweep.point.run_task`, so a point gives the same row on either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from avmm.sweep.point import Outcome, Task, run_task


class Backend(Protocol):
    """Runs tasks, yielding outcomes in the order they finish."""

    @property
    def slots(self) -> int:
        """How many points run at once."""
        ...

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalPool:
    """``jobs`` points at a time on this machine, each its own ``avmm run`` child.

    The pool's threads only wait on their children; the work is in the children."""

    def __init__(self, jobs: int | None = None) -> None:
        self._jobs = jobs or default_jobs()

    @property
    def slots(self) -> int:
        return self._jobs

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        pool = ThreadPoolExecutor(self._jobs, thread_name_prefix="avmm-sweep")
        try:
            futures = [pool.submit(run_task, t) for t in tasks]
            for future in as_completed(futures):
                yield future.result()
        finally:
            # On Ctrl-C (the children got the SIGINT too and stop cleanly) or an
            # error: start no more points, wait for the ones running.
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass


class MissingExtra(Exception):
    """An optional dependency is not installed; the message names the extra."""


class RayCluster:
    """Each point a Ray task declaring one CPU; outcomes come back through the
    object store. ``address`` is what ``ray.init`` takes (``auto``, ``HOST:PORT``,
    ``ray://HOST:10001``), or ``local`` to start a Ray instance for this sweep
    only (``num_cpus`` = ``jobs``). A Ray already initialised in this process
    (a test, a notebook) is used as it is."""

    def __init__(self, address: str, jobs: int | None = None) -> None:
        ray = import_ray()
        self._ray = ray
        self._owned = False
        if not ray.is_initialized():
            if address == "local":
                ray.init(num_cpus=jobs or default_jobs(), include_dashboard=False)
            else:
                ray.init(address=address)
            self._owned = True
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_task)

    @property
    def slots(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        ray = self._ray
        refs: dict[Any, Task] = {self._remote.remote(t): t for t in tasks}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # a lost worker or node
                        task = refs[ref]
                        yield Outcome(task.point, "error", None, 0.0, 0.0, None, "", str(exc))
        finally:
            for ref in pending:  # stopped early: the cluster runs no more of these
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtra(
            "--ray needs Ray, which is not installed: pip install 'avmm[cluster]'"
        ) from None
    return ray
