"""What the SBI layer needs of a vCPU and of its VM, as Protocols.

The runtime's :class:`~avmm.runtime.vcpu.Vcpu` and :class:`~avmm.runtime.vm.Vm`
satisfy them; tests can pass fakes. The SBI layer never imports the runtime's
vCPU or VM modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from avmm import _core
from avmm.runtime.counters import VcpuCounters
from avmm.runtime.guestmem import GuestMemory
from avmm.runtime.sched import Schedulable
from avmm.sbi.para import ParaInfo, VcpuPara
from avmm.sbi.spec import HsmState, TlbFlush


class SbiConsole(Protocol):
    """The VM's SBI/HTIF console (DBCN, legacy putchar/getchar)."""

    def write(self, data: bytes) -> None: ...

    def read(self, n: int) -> bytes: ...


class SbiVcpu(Protocol):
    """A vCPU as SBI calls see it: its hart, counters, and the requests SBI makes."""

    @property
    def index(self) -> int: ...

    @property
    def key(self) -> int: ...

    @property
    def hart(self) -> _core.Hart: ...

    @property
    def counters(self) -> VcpuCounters: ...

    def kick(self) -> None: ...

    def directed_yield(self, target: Schedulable) -> bool:
        """Make ``target`` (the receiver of an IPI or a yield_to hint) run next;
        False if directed yield is off (or ``target`` is this vCPU)."""

    @property
    def para(self) -> VcpuPara:
        """The vCPU's STA record and para-state page registrations."""

    @property
    def steal_ns(self) -> int:
        """Guest nanoseconds the vCPU was runnable without a modelled pCPU, so far."""

    def para_info(self) -> ParaInfo:
        """What its para-state page reports, as of now."""

    def timer_changed(self) -> None: ...

    def request_tlb_flush(self, flush: TlbFlush) -> None: ...

    @property
    def hsm_state(self) -> HsmState: ...

    def set_hsm_state(self, state: HsmState) -> None: ...

    def hsm_start(self, addr: int, opaque: int) -> None: ...

    def hsm_stop(self) -> None: ...

    def hsm_suspend(self, resume: tuple[int, int] | None) -> None: ...


class SbiVm(Protocol):
    """A VM as SBI calls see it. :meth:`sbi_done` is the one call into the VM an
    SBI call makes: it counts the call and publishes it."""

    @property
    def vcpus(self) -> Sequence[SbiVcpu]: ...

    @property
    def guest_memory(self) -> GuestMemory: ...

    @property
    def sbi_console(self) -> SbiConsole: ...

    @property
    def machine(self) -> _core.Machine: ...

    def sbi_done(self, vcpu: int, eid: int, fid: int, error: int | None, unsupported: bool) -> None:
        """Count the call (and ``unsupported`` ones) and publish it (``error`` None:
        nothing was answered, e.g. the hart stopped)."""
