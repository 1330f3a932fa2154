"""What the lower layers of the runtime need of a VM, a vCPU and the host.

Small Protocols, as asyncio's ``AbstractEventLoop``: exit handling, the SBI
layer, interrupt lines, the clock and the spawner depend on these, never on
:mod:`avmm.runtime.vm` or :mod:`avmm.runtime.vcpu`, so there is no import
circle and each piece can be tested with fakes. :class:`~avmm.runtime.vm.Vm`,
:class:`~avmm.runtime.vcpu.Vcpu` and :class:`~avmm.runtime.host.Host`
satisfy them (mypy checks it where they are passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from avmm import _core
from avmm.runtime.bus import MmioBus
from avmm.runtime.clock import GuestClock, Sleeper
from avmm.runtime.events import EventBus
from avmm.runtime.exits import SystemEvent
from avmm.runtime.pcpu import Pcpu
from avmm.runtime.sched import Scheduler
from avmm.runtime.spawner import VmSpawner
from avmm.runtime.vmid import VmidAllocator, VmidTag
from avmm.sbi.ports import SbiVcpu, SbiVm


class ExitVm(SbiVm, Protocol):
    """A VM as exit handling sees it (and, through :class:`SbiVm`, the SBI layer)."""

    @property
    def name(self) -> str: ...

    @property
    def bus(self) -> MmioBus: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def htif(self) -> tuple[int | None, int | None]: ...

    @property
    def system_event(self) -> object | None: ...

    def take_system_event(self, vcpu: int) -> SystemEvent | None: ...

    def guest_error(self, vcpu: int | None, message: str, *, key: str) -> None: ...

    def wake_harts(self, mask: int) -> None: ...


class ExitVcpu(SbiVcpu, Protocol):
    """A vCPU as exit handling sees it."""

    @property
    def vm(self) -> ExitVm: ...

    def halt(self) -> None: ...


class VmHost(Protocol):
    """What a VM uses of the host it runs on (pCPUs, VMIDs, scheduler, clock, events)."""

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def vmids(self) -> VmidAllocator: ...

    @property
    def pcpus(self) -> Sequence[Pcpu]: ...

    @property
    def tlbs(self) -> tuple[_core.Tlb, ...]: ...

    @property
    def slice(self) -> int: ...

    @property
    def clock(self) -> GuestClock: ...

    @property
    def deterministic(self) -> bool: ...

    @property
    def policy_name(self) -> str: ...  # for people: `avmm stat`, gdb's monitor

    @property
    def clock_name(self) -> str: ...

    def next_vcpu_key(self) -> int: ...


class SliceTracer(Protocol):
    """What the run loop asks of a tracer: take what the core traced in a slice."""

    def drain(self, vcpu: Any) -> None: ...


class VcpuVm(ExitVm, Protocol):
    """What a vCPU's run loop uses of its VM."""

    @property
    def key(self) -> int: ...

    @property
    def host(self) -> VmHost: ...

    @property
    def vmid_tag(self) -> VmidTag: ...

    @property
    def spawner(self) -> VmSpawner: ...

    @property
    def next_wake(self) -> int | None: ...

    @property
    def directed_yields(self) -> bool: ...

    current: int | None  # index of the vCPU whose slice is running
    tracer: SliceTracer | None  # avmm.trace, when tracing: drained after each slice

    def refresh_vmid(self) -> None: ...

    def directed_yield(self, target: int, sender: int | None = None) -> None: ...

    def wake_due(self) -> None: ...

    def vcpu_sleeps(self, vcpu: Sleeper) -> None: ...

    def vcpu_wakes(self, vcpu: Sleeper) -> None: ...
