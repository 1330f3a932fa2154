"""What ``await vcpu.run()`` hands back: the exits that need their caller.

The hot loop of a vCPU works on the core's integer exit reasons
(``avmm._core.EXIT_*``) and completes most of them in place (budget, MMIO to a
device on the bus, SBI, WFI, pause, IPI, HTIF console output). Only the exits
below leave :meth:`avmm.runtime.vcpu.Vcpu.run`; each is a small frozen record, in the
spirit of KVM's ``kvm_run`` exit union.
"""

from __future__ import annotations

import enum

import attrs


class StopReason(enum.Enum):
    """Why a vCPU was interrupted at a slice boundary (KVM_EXIT_INTR)."""

    STOP = "stop"  # the VM is being torn down (another vCPU ended it, or Vm.stop())
    PAUSE = "pause"  # a pause request; run() again to resume
    SIGNAL = "signal"  # a host signal (SIGINT/SIGTERM)


class SystemEventKind(enum.Enum):
    """A guest-initiated power event (SBI SRST or the syscon device)."""

    SHUTDOWN = "shutdown"
    REBOOT = "reboot"  # cold or warm; the board decides what a reboot means


@attrs.frozen
class Exit:
    """Base of every exit returned by ``Vcpu.run``; ``vcpu`` is the hartid."""

    vcpu: int


@attrs.frozen
class MmioExit(Exit):
    """An access to a guest-physical address with no device on the bus.

    For a read, the caller may call ``Vcpu.complete_mmio(value)`` before the
    next ``run()``; if it does not, the load reads all-ones (as on a bus with
    nothing behind it). A write has already retired.
    """

    addr: int
    size: int
    is_write: bool
    value: int  # the stored value for a write, 0 for a read


@attrs.frozen
class DebugExit(Exit):
    """A breakpoint, a single step, an ``ebreak`` or a watchpoint
    (``avmm._core.DEBUG_*``); ``pc`` is at the instruction, not executed (a step:
    the next one). For a watchpoint, ``addr`` is the watchpoint's address and
    ``write`` says whether a store hit it; running again performs the access."""

    cause: int
    pc: int
    addr: int = 0
    write: bool = False


@attrs.frozen
class HtifExit(Exit):
    """The guest wrote an odd value to HTIF ``tohost``: ``code`` 0 means pass."""

    code: int


@attrs.frozen
class SystemEvent(Exit):
    """Shutdown or reboot requested by the guest, with its exit code."""

    kind: SystemEventKind
    code: int = 0


@attrs.frozen
class InternalError(Exit):
    """The hart cannot go on; ``dump`` holds its registers and main CSRs."""

    message: str
    dump: str


@attrs.frozen
class Interrupted(Exit):
    """The vCPU stopped at a slice boundary because of a request or a signal."""

    reason: StopReason
