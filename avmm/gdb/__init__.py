"""Guest debugging with gdb: the remote serial protocol server of a VM.

:mod:`avmm.gdb.server` speaks the protocol to one client at a time about a
:class:`~avmm.gdb.target.DebugTarget`; :mod:`avmm.gdb.vmtarget` is the adapter
that makes a runtime :class:`~avmm.runtime.vm.Vm` one. :func:`serve` wires them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm import _core
from avmm.gdb.server import GdbServer, Listen
from avmm.gdb.target import Action, DebugTarget, DebugTargetError, StopEvent, StopKind, WatchKind
from avmm.gdb.vmtarget import VmDebugTarget

if TYPE_CHECKING:
    from avmm.runtime.vm import Vm

__all__ = [
    "Action",
    "DebugTarget",
    "DebugTargetError",
    "GdbServer",
    "Listen",
    "StopEvent",
    "StopKind",
    "VmDebugTarget",
    "WatchKind",
    "serve",
]


async def serve(
    vm: Vm, listen: Listen, *, wait: bool = False, idle_timeout: float | None = None
) -> GdbServer:
    """Attach a debug target to ``vm`` (before it runs) and start listening.
    With ``wait``, no vCPU runs until a gdb client resumes it."""
    target = VmDebugTarget.attach(vm, stopped=wait)
    server = GdbServer(
        target, listen, csrs=dict(_core.CSRS), idle_timeout=idle_timeout, name=vm.name
    )
    await server.start()
    return server
