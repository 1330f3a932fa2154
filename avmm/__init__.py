"""avmm: an event-driven asyncio virtual machine monitor for SMP RISC-V guests.

The runtime's public names are re-exported here and imported on first use,
so ``import avmm`` (or ``avmm.config``) does not load the compiled core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "Host": "avmm.host",
    "HostStatistics": "avmm.host",
    "SignalHandler": "avmm.host",
    "VmSpec": "avmm.host",
    "run": "avmm.host",
    "new_event_loop": "avmm.host",
    "Vm": "avmm.vm",
    "VmResult": "avmm.vm",
    "VmStatistics": "avmm.vm",
    "Vcpu": "avmm.vcpu",
    "VcpuStatistics": "avmm.vcpu",
    "MemorySlot": "avmm.memory",
    "MmioBus": "avmm.bus",
    "EventBus": "avmm.events",
    "Scheduler": "avmm.sched",
    "VmidAllocator": "avmm.vmid",
    "Pcpu": "avmm.pcpu",
    "CaptureConsole": "avmm.console",
    "HsmState": "avmm.sbi",
    "prepare_direct_boot": "avmm.sbi",
    "handle_exit": "avmm.handlers",
    "Exit": "avmm.exits",
    "MmioExit": "avmm.exits",
    "DebugExit": "avmm.exits",
    "HtifExit": "avmm.exits",
    "SystemEvent": "avmm.exits",
    "SystemEventKind": "avmm.exits",
    "InternalError": "avmm.exits",
    "Interrupted": "avmm.exits",
    "StopReason": "avmm.exits",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from avmm.bus import MmioBus as MmioBus
    from avmm.console import CaptureConsole as CaptureConsole
    from avmm.events import EventBus as EventBus
    from avmm.exits import DebugExit as DebugExit
    from avmm.exits import Exit as Exit
    from avmm.exits import HtifExit as HtifExit
    from avmm.exits import InternalError as InternalError
    from avmm.exits import Interrupted as Interrupted
    from avmm.exits import MmioExit as MmioExit
    from avmm.exits import StopReason as StopReason
    from avmm.exits import SystemEvent as SystemEvent
    from avmm.exits import SystemEventKind as SystemEventKind
    from avmm.handlers import handle_exit as handle_exit
    from avmm.host import Host as Host
    from avmm.host import HostStatistics as HostStatistics
    from avmm.host import SignalHandler as SignalHandler
    from avmm.host import VmSpec as VmSpec
    from avmm.host import new_event_loop as new_event_loop
    from avmm.host import run as run
    from avmm.memory import MemorySlot as MemorySlot
    from avmm.pcpu import Pcpu as Pcpu
    from avmm.sbi import HsmState as HsmState
    from avmm.sbi import prepare_direct_boot as prepare_direct_boot
    from avmm.sched import Scheduler as Scheduler
    from avmm.vcpu import Vcpu as Vcpu
    from avmm.vcpu import VcpuStatistics as VcpuStatistics
    from avmm.vm import Vm as Vm
    from avmm.vm import VmResult as VmResult
    from avmm.vm import VmStatistics as VmStatistics
    from avmm.vmid import VmidAllocator as VmidAllocator


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'avmm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
