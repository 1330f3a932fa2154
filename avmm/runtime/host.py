"""The host: pCPUs, the VMID allocator, the scheduler and the clock, shared by VMs.

One :class:`Host` per process owns the modelled pCPUs (each a VMID-tagged
``avmm._core.Tlb``), the :class:`~avmm.runtime.vmid.VmidAllocator`, the
:class:`~avmm.runtime.sched.Scheduler` and the event bus; several VMs share them::

    async with Host(pcpus=2, vmid_bits=8, policy="round-robin", clock="host") as host:
        vm = host.create_vm("vm0")
        vm.add_memory_slot(0x8000_0000, 128 << 20)
        vcpu = vm.create_vcpu()
        ...
        exit = await vcpu.run()     # or: result = await vm.run()

Also here: :class:`SignalHandler` (SIGINT, SIGTERM, SIGHUP and SIGQUIT stop
every vCPU at its next slice boundary; a second SIGINT forces the exit) and
:func:`run`, which runs a coroutine on uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from avmm.constants import (
    CLOCKS,
    DEFAULT_IPS,
    DEFAULT_SLICE,
    IRQCHIPS,
    MAX_PCPUS,
    MAX_SLICE,
    MAX_VCPUS,
    POLICIES,
    RAM_BASE,
    TIMEBASE_HZ,
    Irqchip,
)
from avmm.devices.base import CharBackend
from avmm.errors import ConfigError
from avmm.runtime.clock import GuestClock, make_clock
from avmm.runtime.events import EventBus, EventBusStatistics, VmidRolloverEvent
from avmm.runtime.memory import check_slot
from avmm.runtime.pcpu import Pcpu, PcpuStatistics
from avmm.runtime.sched import Scheduler, SchedulerStatistics, make_policy
from avmm.runtime.vm import Vm, VmResult, VmStatistics
from avmm.runtime.vmid import MAX_BITS, MIN_BITS, VmidAllocator, VmidStatistics

if TYPE_CHECKING:
    from avmm.config import Config

T = TypeVar("T")


@attrs.frozen
class VmSpec:
    """A VM described as data, checked as a whole before anything is built."""

    name: str
    vcpus: int = 1
    memory: tuple[tuple[int, int], ...] = ((RAM_BASE, 128 << 20),)  # (base, size) slots
    irqchip: Irqchip = "core"
    sstc: bool = False

    def validate(self) -> None:
        where = self.name or "vm"
        if not isinstance(self.vcpus, int) or not 1 <= self.vcpus <= MAX_VCPUS:
            raise ConfigError(f"{where}.vcpus", f"{self.vcpus!r} is out of range (1..{MAX_VCPUS})")
        if not self.memory:
            raise ConfigError(f"{where}.memory", "a VM needs at least one memory slot")
        if self.irqchip not in IRQCHIPS:
            raise ConfigError(
                f"{where}.irqchip", f"{self.irqchip!r} is not one of: {', '.join(IRQCHIPS)}"
            )
        seen: list[_Range] = []
        for i, (base, size) in enumerate(self.memory):
            check_slot(base, size, seen, f"{where}.memory[{i}]")
            seen.append(_Range(i, base, base + size))


@attrs.frozen
class _Range:
    index: int
    base: int
    end: int


@attrs.frozen
class HostStatistics:
    policy: str
    clock: str
    slice: int
    pcpus: tuple[PcpuStatistics, ...]
    vmids: VmidStatistics
    scheduler: SchedulerStatistics
    events: EventBusStatistics
    vms: tuple[VmStatistics, ...]


class Host:
    """Process-wide owner of pCPUs, VMIDs, the scheduler and the clock mode."""

    def __init__(
        self,
        *,
        pcpus: int = 1,
        vmid_bits: int = 8,
        policy: str = "round-robin",
        seed: int = 0,
        clock: str = "host",
        ips: int = DEFAULT_IPS,
        slice: int = DEFAULT_SLICE,
        tlb_entries: int = 1024,
        pause_exit: bool = False,
        pause_window: int = 1,
        directed_yield: bool = True,
    ) -> None:
        # Every check first: a host that cannot be built raises before anything exists.
        if not isinstance(pcpus, int) or not 1 <= pcpus <= MAX_PCPUS:
            raise ConfigError("host.pcpus", f"{pcpus!r} is out of range (1..{MAX_PCPUS})")
        if not isinstance(vmid_bits, int) or not MIN_BITS <= vmid_bits <= MAX_BITS:
            raise ConfigError(
                "host.vmid_bits", f"{vmid_bits!r} is out of range ({MIN_BITS}..{MAX_BITS})"
            )
        if policy not in POLICIES:
            raise ConfigError("sched.policy", f"{policy!r} is not one of: {', '.join(POLICIES)}")
        if clock not in CLOCKS:
            raise ConfigError("sched.clock", f"{clock!r} is not one of: {', '.join(CLOCKS)}")
        if policy == "deterministic" and clock != "virtual":
            # With host time in the guest no interleaving is reproducible.
            raise ConfigError("sched.clock", 'the deterministic policy needs clock = "virtual"')
        if not isinstance(slice, int) or slice < 1:
            raise ConfigError("sched.slice", f"{slice!r} must be at least 1")
        if not isinstance(ips, int) or ips < 1:
            raise ConfigError("sched.ips", f"{ips!r} must be at least 1")
        if pause_window < 1:
            raise ConfigError("sched.pause_window", f"{pause_window} must be at least 1")
        if tlb_entries < 16 or tlb_entries > 65536 or tlb_entries & (tlb_entries - 1):
            raise ConfigError("host.tlb_entries", f"{tlb_entries} is not a power of two 16..65536")
        self.policy_name = policy
        self.clock_name = clock
        self.clock: GuestClock = make_clock(clock, ips)
        self.ips = ips
        self.slice = slice
        self.seed = seed
        self.pause_exit = pause_exit
        self.pause_window = pause_window
        self.directed_yield = directed_yield
        self.pcpus = [Pcpu(i, tlb_entries) for i in range(pcpus)]
        self.tlbs = tuple(p.tlb for p in self.pcpus)
        self.events = EventBus()
        self.vmids = VmidAllocator(vmid_bits, on_rollover=self._rollover)
        self.scheduler = Scheduler(self.pcpus, make_policy(policy, seed), slice=slice)
        self.vms: dict[str, Vm] = {}
        self._keys = 0
        self._vm_keys = 0
        self._shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self.signalled: int | None = None

    @property
    def deterministic(self) -> bool:
        """Device work finishes inside the slice of the vCPU that started it."""
        return self.policy_name == "deterministic"

    @classmethod
    def from_config(cls, config: Config) -> Host:
        """A host as a config file's ``[host]`` and ``[sched]`` tables describe it."""
        sched = config.sched
        return cls(
            pcpus=config.host.pcpus,
            vmid_bits=config.host.vmid_bits,
            policy=sched.policy,
            seed=sched.seed,
            clock=sched.clock,
            ips=sched.ips,
            slice=sched.slice,
            pause_exit=sched.pause_exit,
            pause_window=sched.pause_window,
            directed_yield=sched.directed_yield,
        )

    async def __aenter__(self) -> Host:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- VMs

    def create_vm(
        self,
        name: str,
        *,
        irqchip: Irqchip = "core",
        sstc: bool = False,
        timebase_hz: int = TIMEBASE_HZ,
        console: CharBackend | None = None,
        pause_exit: bool | None = None,
        pause_window: int | None = None,
        directed_yield: bool | None = None,
    ) -> Vm:
        """A new, empty VM sharing this host's pCPUs, VMIDs and scheduler."""
        if not name:
            raise ConfigError("vm.name", "a VM needs a name")
        if name in self.vms:
            raise ConfigError("vm.name", f'"{name}" is used by two VMs')
        vm = Vm(
            self,
            name,
            self._vm_keys,
            irqchip=irqchip,
            sstc=sstc,
            timebase_hz=timebase_hz,
            console=console,
            pause_exit=self.pause_exit if pause_exit is None else pause_exit,
            pause_window=self.pause_window if pause_window is None else pause_window,
            directed_yield=self.directed_yield if directed_yield is None else directed_yield,
        )
        self._vm_keys += 1
        self.vms[name] = vm
        return vm

    def build_vm(self, spec: VmSpec, *, console: CharBackend | None = None) -> Vm:
        """Validate ``spec`` as a whole, then create the VM, its memory and vCPUs."""
        spec.validate()
        if spec.name in self.vms:
            raise ConfigError("vm.name", f'"{spec.name}" is used by two VMs')
        vm = self.create_vm(spec.name, irqchip=spec.irqchip, sstc=spec.sstc, console=console)
        for base, size in spec.memory:
            vm.add_memory_slot(base, size)
        for _ in range(spec.vcpus):
            vm.create_vcpu()
        return vm

    def next_vcpu_key(self) -> int:
        self._keys += 1
        return self._keys

    def _rollover(self, generation: int) -> None:
        for pcpu in self.pcpus:
            pcpu.flush_pending = True
        if self.events.wants(VmidRolloverEvent):
            self.events.publish(VmidRolloverEvent("", generation))

    # -------------------------------------------------------- live knobs

    def tune(
        self,
        *,
        slice: int | None = None,
        policy: str | None = None,
        pause_exit: bool | None = None,
        pause_window: int | None = None,
        directed_yield: bool | None = None,
    ) -> None:
        """Change scheduler knobs while the VMs run (the control API's ``sched``).

        Every value is checked before any is applied. Called on the loop thread,
        so it always lands between two slices: a vCPU reads the slice budget
        when its next slice starts, the policy decides the next pick (the vCPUs
        waiting now move over in order), and pause-loop and IPI exiting are read
        by the core at each ``pause`` and CLINT write. The deterministic policy
        is chosen at start only: it needs the virtual clock and device work
        finished inside slices, which are fixed when the VMs are built.
        """
        if slice is not None and (
            isinstance(slice, bool) or not isinstance(slice, int) or not 1 <= slice <= MAX_SLICE
        ):
            raise ConfigError("sched.slice", f"{slice!r} is out of range (1..{MAX_SLICE})")
        if policy is not None and policy != self.policy_name:
            if policy not in POLICIES:
                raise ConfigError(
                    "sched.policy", f"{policy!r} is not one of: {', '.join(POLICIES)}"
                )
            if "deterministic" in (policy, self.policy_name):
                raise ConfigError(
                    "sched.policy",
                    "the deterministic policy is chosen at start, not changed while VMs run",
                )
        if pause_window is not None and (
            isinstance(pause_window, bool) or not isinstance(pause_window, int) or pause_window < 1
        ):
            raise ConfigError("sched.pause_window", f"{pause_window!r} must be at least 1")
        if slice is not None:
            self.slice = self.scheduler.slice = slice
        if policy is not None and policy != self.policy_name:
            self.scheduler.set_policy(make_policy(policy, self.seed))
            self.policy_name = policy
        if pause_exit is not None:
            self.pause_exit = bool(pause_exit)
        if pause_window is not None:
            self.pause_window = pause_window
        if directed_yield is not None:
            self.directed_yield = bool(directed_yield)
        for vm in self.vms.values():
            vm.set_exiting(
                pause_exit=self.pause_exit if pause_exit is not None else None,
                pause_window=pause_window,
                directed_yield=self.directed_yield if directed_yield is not None else None,
            )

    # ---------------------------------------------------------------- run

    async def run(self) -> dict[str, VmResult]:
        """Run every VM until each ends; their results by name."""
        vms = list(self.vms.values())
        if not vms:
            raise ConfigError("vm", "the host has no VM to run")
        results = await asyncio.gather(*(vm.run() for vm in vms))
        return {r.name: r for r in results}

    def request_stop(self) -> None:
        """Stop every vCPU of every VM at its next slice boundary."""
        for vm in self.vms.values():
            vm.stop()

    def signal(self, signum: int) -> None:
        """A host signal: every vCPU returns Interrupted(SIGNAL) at its next boundary."""
        self.signalled = signum
        for vm in self.vms.values():
            vm.signal()

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` (e.g. flush disks) when the host closes, in reverse order."""
        self._shutdown_hooks.append(hook)

    async def close(self) -> None:
        """Finish device work, run the shutdown hooks, close consoles."""
        for vm in self.vms.values():
            await vm.spawner.drain()
        hooks, self._shutdown_hooks = self._shutdown_hooks, []
        for hook in reversed(hooks):
            await hook()
        for vm in self.vms.values():
            vm.console.close()

    # --------------------------------------------------------------- stats

    def statistics(self) -> HostStatistics:
        return HostStatistics(
            policy=self.policy_name,
            clock=self.clock_name,
            slice=self.slice,
            pcpus=tuple(p.statistics() for p in self.pcpus),
            vmids=self.vmids.statistics(),
            scheduler=self.scheduler.statistics(),
            events=self.events.statistics(),
            vms=tuple(vm.statistics() for vm in self.vms.values()),
        )

    def summary(self) -> str:
        """A few lines for the end of a run: per VM and vCPU, instructions and exits."""
        stats = self.statistics()
        lines = [
            f"avmm: {len(stats.vms)} VM(s) on {len(stats.pcpus)} pCPU(s), "
            f"policy {stats.policy}, clock {stats.clock}, {stats.scheduler.slices} slices, "
            f"VMID generation {stats.vmids.generation} ({stats.vmids.rollovers} rollovers)"
        ]
        for vm in stats.vms:
            lines.append(
                f"  {vm.name}: {vm.instret} instructions, {vm.unmapped_mmio} unmapped MMIO, "
                f"{sum(vm.sbi_calls.values())} SBI calls"
            )
            for v in vm.vcpus:
                busy = ", ".join(
                    f"{k} {n}"
                    for k, n in sorted(v.exits.items(), key=lambda kv: -kv[1])
                    if n and k != "budget"
                )
                lines.append(
                    f"    vcpu{v.vcpu}: {v.instret} instructions, {v.slices} slices, "
                    f"halted {v.halt_wait_seconds:.3f} s, exits: {busy or 'none'}"
                )
        return "\n".join(lines)


# ------------------------------------------------------------------ signals


# Signals that end a run the orderly way: every vCPU stops at its next slice
# boundary, disks are flushed, the summary and the report are written. SIGHUP
# (the terminal went away) and SIGQUIT (Ctrl-\\ on a terminal not in raw mode)
# included, whose default actions would kill avmm with nothing flushed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class SignalHandler:
    """The signals a terminal or a supervisor sends to a running host (the CLI's
    ``avmm run``).

    The first of INT, TERM, HUP or QUIT makes every vCPU stop at its next slice
    boundary (``Interrupted(SIGNAL)``), so ``Host.run()`` returns and the owner
    flushes disks and writes the summary and report. QUIT first writes the
    Python stack of every thread to stderr (where a run that seems stuck is).
    Later TERM, HUP and QUIT are ignored (the stop is under way). A second
    SIGINT forces the exit: the task given as ``main`` is cancelled
    (``finally`` blocks still run), and a third ends the process at once.
    SIGPIPE stays ignored, as Python sets it: a reader that goes away is an
    EPIPE on that one write (a stdio console stops the run then). TSTP and
    CONT are the stdio console's (it leaves and re-enters raw mode).
    """

    def __init__(self, host: Host, *, main: asyncio.Task[Any] | None = None) -> None:
        self._host = host
        self._main = main
        self._loop: asyncio.AbstractEventLoop | None = None
        self.received: list[int] = []
        self.forced = False

    def __enter__(self) -> SignalHandler:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._main is None:
            self._main = asyncio.current_task()
        for signum in STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._on_signal, signum)

    def uninstall(self) -> None:
        if self._loop is not None:
            for signum in STOP_SIGNALS:
                self._loop.remove_signal_handler(signum)
            self._loop = None

    def _on_signal(self, signum: int) -> None:
        self.received.append(signum)
        if signum == signal.SIGQUIT:
            with contextlib.suppress(Exception):  # stderr may be gone
                faulthandler.dump_traceback(sys.stderr, all_threads=True)
        if len(self.received) == 1:
            self._host.signal(signum)
            return
        if signum != signal.SIGINT:
            return
        if not self.forced and self._main is not None and not self._main.done():
            self.forced = True
            self._main.cancel()
            return
        os._exit(128 + signal.SIGINT)


# ------------------------------------------------------------------ loops


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """Run ``main`` to completion on a fresh (uvloop when available) event loop."""
    with asyncio.Runner(loop_factory=new_event_loop, debug=debug) as runner:
        return runner.run(main)
