"""avmm: an event-driven asyncio virtual machine monitor for SMP RISC-V guests.

The runtime's public names are re-exported here and imported on first use,
so ``import avmm`` (or ``avmm.config``) does not load the compiled core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from avmm.version import __version__

# name -> module that defines it
_EXPORTS = {
    "Host": "avmm.runtime.host",
    "HostStatistics": "avmm.runtime.host",
    "SignalHandler": "avmm.runtime.host",
    "VmSpec": "avmm.runtime.host",
    "run": "avmm.runtime.host",
    "new_event_loop": "avmm.runtime.host",
    "Vm": "avmm.runtime.vm",
    "VmResult": "avmm.runtime.vm",
    "VmStatistics": "avmm.runtime.vm",
    "Vcpu": "avmm.runtime.vcpu",
    "VcpuStatistics": "avmm.runtime.vcpu",
    "MemorySlot": "avmm.runtime.memory",
    "MmioBus": "avmm.runtime.bus",
    "EventBus": "avmm.runtime.events",
    "Scheduler": "avmm.runtime.sched",
    "VmidAllocator": "avmm.runtime.vmid",
    "Pcpu": "avmm.runtime.pcpu",
    "CaptureConsole": "avmm.runtime.console",
    "HsmState": "avmm.sbi",
    "prepare_direct_boot": "avmm.sbi",
    "handle_exit": "avmm.runtime.handlers",
    "Exit": "avmm.runtime.exits",
    "MmioExit": "avmm.runtime.exits",
    "DebugExit": "avmm.runtime.exits",
    "HtifExit": "avmm.runtime.exits",
    "SystemEvent": "avmm.runtime.exits",
    "SystemEventKind": "avmm.runtime.exits",
    "InternalError": "avmm.runtime.exits",
    "Interrupted": "avmm.runtime.exits",
    "StopReason": "avmm.runtime.exits",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from avmm.runtime.bus import MmioBus as MmioBus
    from avmm.runtime.console import CaptureConsole as CaptureConsole
    from avmm.runtime.events import EventBus as EventBus
    from avmm.runtime.exits import DebugExit as DebugExit
    from avmm.runtime.exits import Exit as Exit
    from avmm.runtime.exits import HtifExit as HtifExit
    from avmm.runtime.exits import InternalError as InternalError
    from avmm.runtime.exits import Interrupted as Interrupted
    from avmm.runtime.exits import MmioExit as MmioExit
    from avmm.runtime.exits import StopReason as StopReason
    from avmm.runtime.exits import SystemEvent as SystemEvent
    from avmm.runtime.exits import SystemEventKind as SystemEventKind
    from avmm.runtime.handlers import handle_exit as handle_exit
    from avmm.runtime.host import Host as Host
    from avmm.runtime.host import HostStatistics as HostStatistics
    from avmm.runtime.host import SignalHandler as SignalHandler
    from avmm.runtime.host import VmSpec as VmSpec
    from avmm.runtime.host import new_event_loop as new_event_loop
    from avmm.runtime.host import run as run
    from avmm.runtime.memory import MemorySlot as MemorySlot
    from avmm.runtime.pcpu import Pcpu as Pcpu
    from avmm.runtime.sched import Scheduler as Scheduler
    from avmm.runtime.vcpu import Vcpu as Vcpu
    from avmm.runtime.vcpu import VcpuStatistics as VcpuStatistics
    from avmm.runtime.vm import Vm as Vm
    from avmm.runtime.vm import VmResult as VmResult
    from avmm.runtime.vm import VmStatistics as VmStatistics
    from avmm.runtime.vmid import VmidAllocator as VmidAllocator
    from avmm.sbi import HsmState as HsmState
    from avmm.sbi import prepare_direct_boot as prepare_direct_boot


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'avmm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
