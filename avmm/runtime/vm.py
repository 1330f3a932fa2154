"""A virtual machine: memory slots, vCPUs, an MMIO bus, a VMID (KVM's ``struct kvm``).

Build one through :meth:`avmm.runtime.host.Host.create_vm`, in visible phases:
memory slots, vCPUs, the interrupt controller (:meth:`Vm.setup_irqchip`),
devices on the bus, then boot state (an ELF loaded into RAM, or
:func:`avmm.sbi.boot.prepare_direct_boot`). The VM sees its host only through
:class:`~avmm.runtime.ports.VmHost`; the clock mode is a strategy object
(:mod:`avmm.runtime.clock`). Drive it either vCPU by vCPU
(``await vcpu.run()`` returns the next exit that needs you) or all at once
with :meth:`Vm.run`, which runs one task per vCPU and applies Firecracker's
policy to accesses of unmapped MMIO (count, log rate-limited, reads return
all-ones, the guest goes on) until the VM ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from avmm import _core
from avmm.constants import (
    CLINT_BASE,
    IRQCHIPS,
    MAX_VCPUS,
    PLIC_BASE,
    PLIC_NDEV,
    TIMEBASE_HZ,
    Irqchip,
)
from avmm.devices.base import CharBackend, GuestErrorLog, IrqLine, MmioDevice
from avmm.errors import ConfigError
from avmm.logs import VM_NAME
from avmm.runtime.bus import BusStatistics, MmioBus, all_ones
from avmm.runtime.clock import Sleeper, VmClock, VmWallClock, WallAlarm, WallAlarmDevice
from avmm.runtime.console import CaptureConsole, VmmConsole
from avmm.runtime.events import GuestErrorEvent, SbiEvent, VmExitEvent
from avmm.runtime.exits import (
    DebugExit,
    Exit,
    HtifExit,
    InternalError,
    Interrupted,
    MmioExit,
    StopReason,
    SystemEvent,
    SystemEventKind,
)
from avmm.runtime.guestmem import GuestMemory
from avmm.runtime.irq import CorePlicLine, CountedLine, HartTimerLine, MsipLine, plic_context_lines
from avmm.runtime.memory import MemorySlot, SlotStatistics, check_slot
from avmm.runtime.spawner import VmSpawner
from avmm.runtime.vcpu import Vcpu, VcpuStatistics
from avmm.runtime.vmid import VmidTag
from avmm.sbi.dispatch import SbiCounters

if TYPE_CHECKING:
    from avmm.devices.clint import Clint
    from avmm.devices.plic import Plic
    from avmm.runtime.ports import VmHost

_log = logging.getLogger("avmm.vm")


class DeadlineSource(Protocol):
    """A device with a timed event (e.g. an RTC alarm), in guest ticks."""

    def next_deadline(self) -> int | None: ...

    def expire(self, now: int) -> None: ...


class DebugHook(Protocol):
    """A debugger attached to a VM (avmm.gdb): sees every exit that leaves a vCPU's
    run() in :meth:`Vm.run`, and may hold the vCPU (return None: run it again)."""

    async def on_exit(self, vcpu: Vcpu, exit: Exit) -> Exit | None: ...

    def on_stop(self) -> None: ...  # the VM is being stopped: let held vCPUs go


class TraceHook(Protocol):
    """A tracer (avmm.trace): drains what a vCPU's core traced, after each slice."""

    def drain(self, vcpu: Vcpu) -> None: ...


@attrs.frozen
class VmResult:
    """How a VM ended: the terminal exit and the exit code it means."""

    name: str
    exit: Exit
    code: int

    @classmethod
    def of(cls, name: str, exit: Exit) -> VmResult:
        if isinstance(exit, HtifExit | SystemEvent):
            code = exit.code
        elif isinstance(exit, Interrupted):
            code = 0  # stopped on request (a signal or Vm.stop) is a clean end
        else:
            code = 1
        return cls(name, exit, code)


@attrs.define
class MigrationCounters:
    """Outgoing live migrations of a VM (avmm.snapshot.migrate), for the metrics."""

    migrations: int = 0
    bytes_sent: int = 0
    last_downtime: float = 0.0  # seconds the vCPUs stood still in the last one
    last_rounds: int = 0

    def record(self, downtime: float, bytes_sent: int, rounds: int) -> None:
        self.migrations += 1
        self.bytes_sent += bytes_sent
        self.last_downtime = downtime
        self.last_rounds = rounds


@attrs.frozen
class VmStatistics:
    name: str
    vmid: int
    vmid_generation: int
    irqchip: str
    instret: int
    time: int  # guest time in ticks
    warps: int  # virtual clock: jumps to the next deadline with every vCPU asleep
    unmapped_mmio: int
    guest_errors: int
    sbi_calls: dict[int, int]
    sbi_not_supported: dict[int, int]
    sbi_errors: dict[int, int]  # offered calls answered with an error, by extension
    irq_injections: dict[int, int]  # PLIC source -> rising edges, for every wired line
    console_tx_bytes: int  # SBI / HTIF console output
    console_rx_bytes: int  # SBI / HTIF console input the guest read
    console_rx_dropped: int  # SBI / HTIF console input lost to a full buffer
    console_host_dropped: int  # console output the host side lost (full pipe, failed file)
    console_host_in: int  # host input the console backend received (typed, sent by a peer)
    device_work: int
    slots: tuple[SlotStatistics, ...]
    bus: BusStatistics
    vcpus: tuple[VcpuStatistics, ...]
    # the translator's counters (Machine.jit_stats(): blocks, code_bytes, flushes by
    # cause, translate_ns, ...) and whether it is on
    jit: dict[str, object] = attrs.field(factory=dict)
    jit_on: bool = False
    migrations: MigrationCounters = attrs.field(factory=MigrationCounters)


class Vm:
    """One virtual machine; wraps an ``avmm._core.Machine``."""

    def __init__(
        self,
        host: VmHost,
        name: str,
        key: int,
        *,
        irqchip: Irqchip = "core",
        sstc: bool = False,
        timebase_hz: int = TIMEBASE_HZ,
        console: CharBackend | None = None,
        pause_exit: bool,
        pause_window: int,
        directed_yield: bool,
    ) -> None:
        if irqchip not in IRQCHIPS:
            raise ConfigError(
                f"{name}.irqchip", f"{irqchip!r} is not one of: {', '.join(IRQCHIPS)}"
            )
        if pause_window < 1:
            raise ConfigError("sched.pause_window", f"{pause_window} must be at least 1")
        self.host = host
        self.name = name
        self.key = key
        self.irqchip: Irqchip = irqchip
        machine = _core.Machine(timebase_hz=timebase_hz)
        host.clock.start(machine)
        machine.sstc = sstc
        machine.pause_exit = pause_exit
        machine.pause_window = pause_window
        machine.ipi_exit = directed_yield
        machine.broadcast_tlbs = host.tlbs
        self.machine = machine
        self.directed_yields = directed_yield
        self.bus = MmioBus(name)
        self.vmid_tag = VmidTag()
        self.vcpus: list[Vcpu] = []
        self.memory_slots: list[MemorySlot] = []
        self.guest_memory = GuestMemory()
        self.htif: tuple[int | None, int | None] = (None, None)
        self.console: CharBackend = console if console is not None else CaptureConsole()
        self.sbi_console = VmmConsole(self.console)
        self.sbi_counters = SbiCounters()
        self.events = host.events
        self.spawner = VmSpawner(self, deterministic=host.deterministic)
        self.clock = VmClock(machine)
        self.wall_clock = VmWallClock(machine, host.clock.epoch_ns)
        self.timekeeper = host.clock.keeper(self)
        self.current: int | None = None  # index of the vCPU whose slice is running
        self.next_wake: int | None = None  # virtual clock: earliest sleeper deadline
        self._deadline_sources: list[DeadlineSource] = []
        self._errors = GuestErrorLog(name)
        self.unmapped_mmio = 0
        self.warps = 0
        self.irq_injections: dict[int, int] = {}  # PLIC source -> rising edges (wired lines)
        self._irqchip_ready = False
        self.result: VmResult | None = None
        self.system_event: tuple[SystemEventKind, int] | None = None
        self._resume = asyncio.Event()
        self._resume.set()
        self.debugger: DebugHook | None = None
        self.tracer: TraceHook | None = None
        self.migrations = MigrationCounters()

    def __repr__(self) -> str:
        return f"<Vm {self.name} vcpus={len(self.vcpus)}>"

    # ------------------------------------------------------------- memory

    def add_memory_slot(self, base: int, size: int, *, dirty_log: bool = False) -> MemorySlot:
        """Add guest RAM at [base, base + size); overlaps are a ConfigError."""
        where = f"{self.name}.memory[{len(self.memory_slots)}]"
        check_slot(base, size, self.memory_slots, where)
        try:
            ram = self.machine.add_ram(base, size)
        except MemoryError:
            # mmap refused: the address-space limit (ulimit -v), overcommit rules.
            raise ConfigError(
                where, f"cannot map {size} bytes of guest RAM: out of host memory or address space"
            ) from None
        slot = MemorySlot(ram)
        slot.dirty_logging = dirty_log
        self.memory_slots.append(slot)
        self.guest_memory.add(slot.region())
        return slot

    def set_htif(self, tohost: int | None, fromhost: int | None = None) -> None:
        """Watch HTIF ``tohost`` (a guest-physical address in RAM)."""
        self.machine.set_htif(tohost, fromhost)
        self.htif = (tohost, fromhost)

    # -------------------------------------------------------------- vCPUs

    def create_vcpu(self) -> Vcpu:
        """Add a hart (hartids 0, 1, ... up to 63). All start runnable in
        M-mode at pc 0 until a loader or direct boot sets them up."""
        if len(self.vcpus) >= MAX_VCPUS:
            raise ConfigError(f"{self.name}.vcpus", f"at most {MAX_VCPUS} vCPUs per VM")
        if self._irqchip_ready:
            raise ConfigError(f"{self.name}.vcpus", "create every vCPU before the irqchip")
        vcpu = Vcpu(self, self.machine.create_hart(), self.host.next_vcpu_key())
        if not self.vcpus:
            machine = self.machine
            self.host.scheduler.steal.add_vm(self.key, lambda: machine.time)
        self.host.scheduler.steal.add_vcpu(vcpu.key, self.key)
        self.vcpus.append(vcpu)
        return vcpu

    def reset_all(self, pc: int, priv: int = _core.PRIV_M) -> None:
        """Reset every hart to ``pc`` with a0 = hartid (bare-metal/firmware boot)."""
        for vcpu in self.vcpus:
            vcpu.hart.reset(pc, priv)
            vcpu.hart.set_x(10, vcpu.index)

    # ------------------------------------------------------------ irqchip

    def setup_irqchip(
        self, *, clint_base: int = CLINT_BASE, plic_base: int = PLIC_BASE, ndev: int = PLIC_NDEV
    ) -> None:
        """Put the CLINT and PLIC in the core (fast path) or on the bus as Python
        models, as ``irqchip`` says. Call after creating the vCPUs."""
        if not self.vcpus:
            raise ConfigError(f"{self.name}.vcpus", "create the vCPUs before the irqchip")
        if self._irqchip_ready:
            raise ConfigError(f"{self.name}.irqchip", "the irqchip is already set up")
        self._plic_source: Callable[[int], IrqLine] | None = None
        if self.irqchip == "core":
            self.machine.enable_clint(clint_base)
            self.machine.enable_plic(plic_base, ndev)
            self._irqchip_models: tuple[Clint, Plic] | None = None
            self._irqchip_power_on = self.machine.irqchip_state()
        else:
            from avmm.devices.clint import Clint
            from avmm.devices.plic import Plic

            clint = Clint(
                [MsipLine(v) for v in self.vcpus],
                [HartTimerLine(v) for v in self.vcpus],
                self.clock,
            )
            plic = Plic(ndev, plic_context_lines(self.vcpus))
            self.bus.register(clint_base, clint, name="clint")
            self.bus.register(plic_base, plic, name="plic")
            self._plic_source = plic.source
            self._irqchip_models = (clint, plic)
        self._ndev = ndev
        self._irqchip_ready = True

    def irq_line(self, source: int) -> IrqLine:
        """The PLIC input ``source`` (1..ndev-1) for a device model."""
        if not self._irqchip_ready:
            raise ConfigError(f"{self.name}.irqchip", "set up the irqchip before wiring devices")
        if not 1 <= source < self._ndev:
            raise ConfigError(f"{self.name}.irq", f"source {source} is not in 1..{self._ndev - 1}")
        self.irq_injections.setdefault(source, 0)
        if self._plic_source is None:
            return CorePlicLine(self.machine, source, self.irq_injections, self.wake_harts)
        return CountedLine(source, self.irq_injections, self._plic_source(source))

    # ------------------------------------------------------------ devices

    def add_device(self, base: int, device: MmioDevice, *, name: str | None = None) -> None:
        """Map a device model on the bus; overlaps are a ConfigError naming both."""
        label = name or device.name
        for slot in self.memory_slots:
            if base < slot.end and slot.base < base + device.size:
                raise ConfigError(
                    f"devices.{label}",
                    f"{label} at {base:#x}..{base + device.size:#x} overlaps "
                    f"memory slot {slot.index} at {slot.base:#x}..{slot.end:#x}",
                )
        self.bus.register(base, device, name=label)

    def add_deadline_source(self, source: DeadlineSource) -> None:
        """A device whose timed events (RTC alarm) the VM must fire."""
        self._deadline_sources.append(source)
        self.deadlines_changed()

    def add_wall_alarm(self, device: WallAlarmDevice) -> None:
        """A device with an alarm in wall-clock ns (the Goldfish RTC); build it with
        ``on_deadline=lambda _: vm.deadlines_changed()`` so moves are noticed."""
        self.add_deadline_source(WallAlarm(device, self.wall_clock))

    def deadlines_changed(self) -> None:
        """A device deadline may have moved (called after its registers change)."""
        if self._deadline_sources:
            self.timekeeper.deadlines_changed()

    def device_deadline(self) -> int | None:
        deadlines = [d for s in self._deadline_sources if (d := s.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def fire_device_deadlines(self, now: int) -> None:
        for source in self._deadline_sources:
            deadline = source.next_deadline()
            if deadline is not None and deadline <= now:
                source.expire(now)

    # ----------------------------------------------------- VMID, wake-ups

    def refresh_vmid(self) -> None:
        self.host.vmids.update(self.vmid_tag)
        self.machine.vmid = self.vmid_tag.vmid

    def wake_harts(self, mask: int) -> None:
        """Kick the vCPUs whose interrupt state changed in the core: an IPI, a PLIC
        line, or a comparator another hart wrote (so deadlines are re-read too)."""
        vcpus = self.vcpus
        while mask:
            bit = mask & -mask
            index = bit.bit_length() - 1
            if index < len(vcpus):
                vcpus[index].timer_changed()
            mask ^= bit

    def directed_yield(self, target: int, sender: int | None = None) -> None:
        """vCPU ``target`` received an IPI: it runs next (when directed yield is on),
        on behalf of ``sender`` or else of the vCPU whose slice is running."""
        if sender is None:
            sender = self.current
        vcpu = self.vcpus[target]
        if sender is None:
            if self.directed_yields:
                self.host.scheduler.yield_to(vcpu)
            return
        self.vcpus[sender].directed_yield(vcpu)

    def vcpu_sleeps(self, vcpu: Sleeper) -> None:
        """``vcpu`` waits (WFI/HSM): arrange its timer wake-up, or warp time."""
        self.timekeeper.sleeps(vcpu)

    def vcpu_wakes(self, vcpu: Sleeper) -> None:
        self.timekeeper.wakes()

    def work_done(self) -> None:
        """A device's background work finished: time may jump again."""
        self.timekeeper.work_done()

    @property
    def work_pending(self) -> bool:
        return self.spawner.pending > 0

    def recompute_next_wake(self) -> None:
        """The earliest deadline of a device or a halted sleeper, for warps and wake-ups."""
        best = self.device_deadline()
        for vcpu in self.vcpus:
            if vcpu.sleeping and vcpu.halted:
                deadline = vcpu.hart.next_deadline()
                if deadline is not None and (best is None or deadline < best):
                    best = deadline
        self.next_wake = best

    def wake_due(self) -> None:
        """Guest time passed a deadline: wake sleepers whose interrupt is pending."""
        now = self.machine.time
        if self._deadline_sources:
            self.fire_device_deadlines(now)
        for vcpu in self.vcpus:
            if vcpu.sleeping:
                vcpu.kick()
        self.recompute_next_wake()

    # -------------------------------------------------------------- reset

    def reset(self) -> None:
        """Power-on state for a reboot: every hart reset (M-mode, pc 0) and its vCPU's
        run-time state forgotten, the interrupt controllers as after setup. RAM is
        kept, as on QEMU; the devices on the bus belong to their owner (the board),
        which resets them first, so the lines they drive are low. Call while no
        vCPU runs."""
        if not self._irqchip_ready:
            raise ConfigError(f"{self.name}.irqchip", "set up the irqchip before a reset")
        for vcpu in self.vcpus:
            vcpu.reset()
        models = self._irqchip_models
        if models is None:
            self.machine.set_irqchip_state(self._irqchip_power_on)
        else:
            clint, plic = models
            clint.reset()
            plic.reset()
        for vcpu in self.vcpus:
            vcpu.hart.reset(0, _core.PRIV_M)
        self.system_event = None
        self.result = None
        self._resume.set()
        self.next_wake = None

    # -------------------------------------------------------------- power

    def poweroff(self, exit_code: int) -> None:
        """PowerControl for the syscon/test device: the VM shuts down."""
        self.system_event = (SystemEventKind.SHUTDOWN, exit_code)

    def reboot(self) -> None:
        """PowerControl for the syscon/test device: the VM asks for a reboot."""
        self.system_event = (SystemEventKind.REBOOT, 0)

    def take_system_event(self, vcpu: int) -> SystemEvent | None:
        """The power event a device model requested during this exit, if any."""
        if self.system_event is None:
            return None
        kind, code = self.system_event
        self.system_event = None
        return SystemEvent(vcpu, kind, code)

    # ------------------------------------------------------- console, logs

    def guest_error(self, vcpu: int | None, message: str, *, key: str) -> None:
        """A guest mistake: counted, logged rate-limited, published; the guest goes on.
        ``key`` names the kind of mistake (the rate limit's window), never a value
        the guest chose: the message may vary without end, the keys may not."""
        self._errors(key, message)
        events = self.events
        if events.wants(GuestErrorEvent):
            events.publish(GuestErrorEvent(self.name, -1 if vcpu is None else vcpu, message))

    def sbi_done(self, vcpu: int, eid: int, fid: int, error: int | None, unsupported: bool) -> None:
        """The one call an SBI call makes into its VM: count it, publish its answer."""
        counters = self.sbi_counters
        counters.count(counters.calls, eid)
        if unsupported:
            counters.count(counters.not_supported, eid)
        elif error is not None and error < 0:
            counters.count(counters.errors, eid)
        if error is not None:
            events = self.events
            if events.wants(SbiEvent):
                events.publish(SbiEvent(self.name, vcpu, eid, fid, error))

    # ---------------------------------------------------------------- run

    async def run(self) -> VmResult:
        """Run every vCPU until the VM ends (HTIF exit, shutdown, error, stop).

        Unmapped MMIO follows Firecracker: counted, logged (rate-limited),
        reads return all-ones, the guest continues. Debug exits end the run,
        unless a ``debugger`` (a :class:`DebugHook`, e.g. avmm.gdb) takes them.
        """
        if not self.vcpus:
            raise ConfigError(f"{self.name}.vcpus", "a VM needs at least one vCPU")
        if not self.memory_slots:
            raise ConfigError(f"{self.name}.memory", "a VM needs at least one memory slot")
        self.result = None
        # Every task the vCPUs start inherits this: log lines name their VM.
        VM_NAME.set(self.name)
        tasks = [
            asyncio.create_task(self._vcpu_main(v), name=f"{self.name}/vcpu{v.index}")
            for v in self.vcpus
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        assert self.result is not None
        result = self.result
        events = self.events
        if events.wants(VmExitEvent):
            exit = result.exit
            reboot = isinstance(exit, SystemEvent) and exit.kind is SystemEventKind.REBOOT
            events.publish(VmExitEvent(self.name, type(exit).__name__, result.code, reboot=reboot))
        return result

    async def _vcpu_main(self, vcpu: Vcpu) -> None:
        while True:
            exit = await vcpu.run()
            if self.debugger is not None:
                kept = await self.debugger.on_exit(vcpu, exit)
                if kept is None:
                    continue  # the debugger held the vCPU and lets it run again
                exit = kept
            if isinstance(exit, MmioExit):
                self._unmapped(vcpu, exit)
                continue
            if isinstance(exit, Interrupted):
                if exit.reason is StopReason.PAUSE and self.result is None:
                    await self._resume.wait()
                    continue
                if self.result is None:
                    self._finish(exit)
                return
            self._finish(exit)
            return

    def _unmapped(self, vcpu: Vcpu, exit: MmioExit) -> None:
        self.unmapped_mmio += 1
        if exit.is_write:
            what = f"{exit.size}-byte write of {exit.value:#x} to unmapped {exit.addr:#x}"
        else:
            what = f"{exit.size}-byte read of unmapped {exit.addr:#x}"
            vcpu.complete_mmio(all_ones(exit.size))
        self.guest_error(vcpu.index, f"vcpu {vcpu.index}: {what}", key=f"unmapped:{exit.is_write}")

    def _finish(self, exit: Exit) -> None:
        if self.result is not None:
            return
        self.result = VmResult.of(self.name, exit)
        if isinstance(exit, InternalError):
            _log.error(
                "%s: vcpu %d: internal error: %s\n%s", self.name, exit.vcpu, exit.message, exit.dump
            )
        elif isinstance(exit, DebugExit):
            _log.info(
                "%s: vcpu %d: debug exit at %#x with no debugger", self.name, exit.vcpu, exit.pc
            )
        self.stop()

    def stop(self) -> None:
        """Every vCPU stops at its next slice boundary."""
        self._resume.set()
        if self.debugger is not None:
            self.debugger.on_stop()
        for vcpu in self.vcpus:
            vcpu.request_stop()

    def pause(self) -> None:
        """Every vCPU pauses at its next slice boundary; :meth:`resume` continues."""
        self._resume.clear()
        for vcpu in self.vcpus:
            vcpu.request_pause()

    def resume(self) -> None:
        self._resume.set()

    def set_exiting(
        self,
        *,
        pause_exit: bool | None = None,
        pause_window: int | None = None,
        directed_yield: bool | None = None,
    ) -> None:
        """Pause-loop exiting and directed yield (IPI exits) from now on; the core
        reads them at each ``pause`` and IPI, so a change between slices is safe."""
        machine = self.machine
        if pause_exit is not None:
            machine.pause_exit = pause_exit
        if pause_window is not None:
            machine.pause_window = pause_window
        if directed_yield is not None:
            machine.ipi_exit = directed_yield
            self.directed_yields = directed_yield

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume` (or a stop or reset)."""
        return not self._resume.is_set()

    def request_reset(self) -> None:
        """A reset from outside the guest (the control API's ``reset``): the VM's run
        ends as if the guest had asked for a reboot, at every vCPU's next slice
        boundary, and its owner (the board) boots it again, as after SBI SRST."""
        self._finish(SystemEvent(0, SystemEventKind.REBOOT, 0))

    def signal(self) -> None:
        """A host signal: every vCPU stops at its next slice boundary."""
        self._resume.set()
        if self.debugger is not None:
            self.debugger.on_stop()
        for vcpu in self.vcpus:
            vcpu.request_signal()

    # ---------------------------------------------------------- snapshots

    def save_counters(self) -> dict[str, Any]:
        """The VM's own counters as plain data (avmm.snapshot), so that a restored VM
        reports what an uninterrupted one would."""
        return {
            "warps": self.warps,
            "unmapped_mmio": self.unmapped_mmio,
            "irq_injections": [[k, v] for k, v in self.irq_injections.items()],
            "sbi_calls": [[k, v] for k, v in self.sbi_counters.calls.items()],
            "sbi_not_supported": [[k, v] for k, v in self.sbi_counters.not_supported.items()],
            "console_tx_bytes": self.sbi_console.tx_bytes,
            "console_rx_bytes": self.sbi_console.rx_bytes,
        }

    def load_counters(self, state: dict[str, Any]) -> None:
        self.warps = int(state["warps"])
        self.unmapped_mmio = int(state["unmapped_mmio"])
        for source, n in state["irq_injections"]:
            if int(source) in self.irq_injections:
                self.irq_injections[int(source)] = int(n)
        self.sbi_counters.calls.clear()
        self.sbi_counters.calls.update({int(k): int(v) for k, v in state["sbi_calls"]})
        self.sbi_counters.not_supported.clear()
        self.sbi_counters.not_supported.update(
            {int(k): int(v) for k, v in state["sbi_not_supported"]}
        )
        self.sbi_console.tx_bytes = int(state["console_tx_bytes"])
        self.sbi_console.rx_bytes = int(state["console_rx_bytes"])

    # -------------------------------------------------------------- stats

    @property
    def console_output(self) -> bytes:
        """What the guest printed, when the console is a CaptureConsole."""
        console = self.console
        return console.output if isinstance(console, CaptureConsole) else b""

    def statistics(self) -> VmStatistics:
        return VmStatistics(
            name=self.name,
            vmid=self.vmid_tag.vmid,
            vmid_generation=self.vmid_tag.generation,
            irqchip=self.irqchip,
            instret=self.machine.instret,
            time=self.machine.time,
            warps=self.warps,
            unmapped_mmio=self.unmapped_mmio,
            guest_errors=self._errors.count + self.bus.guest_error.count,
            sbi_calls=dict(self.sbi_counters.calls),
            sbi_not_supported=dict(self.sbi_counters.not_supported),
            sbi_errors=dict(self.sbi_counters.errors),
            irq_injections=dict(self.irq_injections),
            console_tx_bytes=self.sbi_console.tx_bytes,
            console_rx_bytes=self.sbi_console.rx_bytes,
            console_rx_dropped=self.sbi_console.rx_dropped,
            console_host_dropped=_host_count(self.console, "dropped"),
            console_host_in=_host_count(self.console, "in_bytes"),
            device_work=self.spawner.submitted,
            slots=tuple(s.statistics() for s in self.memory_slots),
            bus=self.bus.statistics(),
            vcpus=tuple(v.statistics() for v in self.vcpus),
            jit=self.machine.jit_stats(),
            jit_on=self.machine.jit,
            migrations=attrs.evolve(self.migrations),
        )


def _host_count(console: object, field: str) -> int:
    """One counter of the host side of a VM's console (0 when it keeps none)."""
    stats = getattr(console, "host_stats", None)
    if stats is None:
        stats = getattr(console, "stats", None)
    return int(getattr(stats, field, 0))
