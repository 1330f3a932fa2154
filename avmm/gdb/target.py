"""What the gdb server needs from a VM: a small Protocol, so the server and its
tests do not depend on the runtime (:mod:`avmm.gdb.vmtarget` adapts a Vm).

Threads are vCPU indexes (gdb's thread ids are these + 1). Registers are named
as in the target description: ``x0``..``x31``, ``pc``, ``f0``..``f31``,
``fflags``, ``frm``, ``fcsr``, CSR names, ``priv``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs


class DebugTargetError(Exception):
    """A request the target cannot do (no memory there, unknown register...)."""


class Action(enum.Enum):
    CONTINUE = "c"
    STEP = "s"


class WatchKind(enum.Enum):
    WRITE = 2  # Z2
    READ = 3  # Z3
    ACCESS = 4  # Z4


class StopKind(enum.Enum):
    BREAKPOINT = "breakpoint"  # a software or hardware breakpoint
    STEP = "step"
    WATCH = "watch"  # addr, watch say which watchpoint
    INTERRUPT = "interrupt"  # Ctrl-C, or a stop the debugger asked for
    ATTACHED = "attached"  # how a client finds the VM when it connects
    EXITED = "exited"  # the VM ended; code is its exit code


@attrs.frozen
class StopEvent:
    thread: int
    kind: StopKind
    addr: int = 0
    watch: WatchKind | None = None
    hardware: bool = False  # a breakpoint set with Z1
    code: int = 0


class DebugTarget(Protocol):
    """A stoppable machine: all-stop, every vCPU a thread."""

    @property
    def threads(self) -> Sequence[int]: ...

    def thread_info(self, thread: int) -> str: ...

    def register_names(self) -> Sequence[str]:
        """The CSRs (and other names) this target has, for the description."""
        ...

    def read_register(self, thread: int, name: str) -> int: ...

    def write_register(self, thread: int, name: str, value: int) -> None: ...

    def read_memory(self, thread: int, addr: int, length: int, *, physical: bool = False) -> bytes:
        """Virtual addresses go through the thread's current translation."""
        ...

    def write_memory(
        self, thread: int, addr: int, data: bytes, *, physical: bool = False
    ) -> None: ...

    def insert_breakpoint(self, addr: int, *, hardware: bool) -> None: ...

    def remove_breakpoint(self, addr: int, *, hardware: bool) -> None: ...

    def insert_watchpoint(self, addr: int, length: int, kind: WatchKind) -> None: ...

    def remove_watchpoint(self, addr: int, length: int, kind: WatchKind) -> None: ...

    async def stop(self) -> None:
        """Stop every vCPU (returns once all are stopped, or the VM ended)."""
        ...

    def resume(self, actions: Mapping[int, Action]) -> None:
        """Run the named threads as asked; the others stay stopped."""
        ...

    async def wait_stop(self) -> StopEvent:
        """The next stop of a resumed thread; every vCPU is stopped when it returns."""
        ...

    def interrupt(self) -> None:
        """Ctrl-C: make wait_stop() return an INTERRUPT stop soon."""
        ...

    def detach(self) -> None:
        """Forget breakpoints, watchpoints and steps; every vCPU runs freely."""
        ...

    def kill(self) -> None: ...

    @property
    def ended(self) -> bool: ...

    def monitor(self, topic: str, arg: str) -> str:
        """Text for a monitor command: ``exits``, ``sched``, ``device NAME``."""
        ...
