"""A vCPU: one hart of a VM and the task loop that runs it (KVM_RUN).

``await vcpu.run()`` loops over slices, step by step as in docs/ARCHITECTURE.md:

1. requests (stop, pause, host signal) -> return an :class:`Interrupted` exit;
   a halted (WFI), HSM-stopped or suspended vCPU sleeps here, costing no
   host CPU, until an interrupt, IPI, timer, HSM start or request wakes it;
2. the VM's VMID is brought into the current generation (pCPU flushes);
3. pending remote TLB flushes (SBI RFENCE) are applied;
4. interrupts: device lines already drive the core's pending bits; an
   unmapped MMIO read the caller did not answer reads all-ones;
5. one slice of at most ``slice`` instructions on the pCPU the scheduler gave;
6. the exit is handled by :func:`avmm.runtime.handlers.handle_exit`; what needs the
   caller is returned;
7. reschedule point: the next :meth:`Scheduler.acquire` waits for a grant.

The vCPU sees its VM through :class:`~avmm.runtime.ports.VcpuVm`; the
scheduler keeps its own state about it (grants, the last pCPU), as the
spawner keeps the device work it started.

The loop works on the core's integer reasons and allocates nothing for a
budget exit.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any, cast

import attrs

from avmm import _core
from avmm.constants import MAX_PENDING_FENCES, PAGE_SIZE
from avmm.errors import CoreError
from avmm.runtime.counters import SLICE_BUCKETS, VcpuCounters
from avmm.runtime.events import ExitEvent, HsmEvent
from avmm.runtime.exits import DebugExit, Exit, Interrupted, MmioExit, StopReason
from avmm.runtime.handlers import handle_exit
from avmm.runtime.pcpu import Pcpu
from avmm.sbi.boot import enter_supervisor
from avmm.sbi.para import ParaInfo, VcpuPara
from avmm.sbi.spec import RFENCE_MAX_PAGES, XLEN_MASK, HsmState, TlbFlush

_FLUSH_ALL = TlbFlush("vma")  # start 0, size 0: every address of every ASID

if TYPE_CHECKING:
    from avmm.runtime.ports import VcpuVm
    from avmm.runtime.sched import Schedulable


_REQ_STOP = 1
_REQ_PAUSE = 2
_REQ_SIGNAL = 4
_EXIT_NAMES = _core.EXIT_NAMES
# Exits completed in place, after which the slice goes on with the rest of its budget.
_IN_PLACE = frozenset(
    {_core.EXIT_MMIO_READ, _core.EXIT_MMIO_WRITE, _core.EXIT_ECALL, _core.EXIT_HTIF}
)

# Re-entries per slice: bounds the host time of a slice full of exits.
MAX_REENTRIES = 64
# A firmware call (a trap from S/U into M-mode firmware, firmware boot) still running
# when the budget ends gets up to this many more instructions to return, once a slice.
# Firmware on real harts is never descheduled halfway through a call, and some publishes
# state in two steps another hart must not see apart: OpenSBI 1.1's HSM hart_start marks
# the target START_PENDING before it stores the start address, and a target that polls
# (its cold-boot IPI is never cleared) would jump to the stale one.
FIRMWARE_GRACE = 4096
# Run-on: a slice whose budget ends while nothing else wants the pCPU goes on with
# another budget in place, without a trip through the event loop (KVM re-enters
# the guest without a reschedule when nothing else is runnable), at most this much
# host time, so timers, I/O and signal handlers still run hundreds of times a
# second. Not under the deterministic policy, whose interleaving must not depend
# on host timing.
RUN_ON_SECONDS = 0.002


@attrs.frozen
class VcpuStatistics:
    vm: str
    vcpu: int
    instret: int
    hsm_state: str
    slices: int
    exits: dict[str, int]  # by reason: the core's, plus "interrupted"
    halt_wakeups: int
    halt_wait_seconds: float
    signal_exits: int
    directed_yields: int
    pause_exits: int
    remote_tlb_flushes: int
    remote_fences_merged: int  # queued fences merged into one whole flush (a vCPU not running)
    mmio_exits_bus: int  # completed by a device model on the bus (in-core devices never exit)
    mmio_exits_user: int  # returned to the caller of run(): nothing mapped there
    sbi_calls: int
    htif_requests: int
    ipis: int  # IPIs received: SBI IPI, Python CLINT and in-core CLINT msip writes
    steal_seconds: float  # guest time runnable without a modelled pCPU (runtime/steal.py)
    sta_registered: bool  # an SBI STA record is registered
    para_page_registered: bool  # an avmm para-state page is registered
    yield_hints: int  # avmm yield_to hints passed on to the scheduler
    slice_buckets: tuple[int, ...]  # slices per SLICE_BUCKETS bucket (+ one above), host time
    slice_seconds: float  # host seconds of all slices
    core: dict[str, object]  # Hart.stats() as the core reports it


class Vcpu:
    """One virtual CPU of a :class:`~avmm.runtime.vm.Vm` (wraps an ``avmm._core.Hart``)."""

    def __init__(self, vm: VcpuVm, hart: _core.Hart, key: int) -> None:
        self.vm = vm
        self.hart = hart
        self.index = hart.hartid
        self.key = key  # host-wide unique, ordered by creation (scheduler ties)
        self.counters = VcpuCounters()
        self._hsm = HsmState.STARTED
        self._start: tuple[int, int] | None = None  # HSM start / resume (addr, opaque)
        self._sleep_t0: float | None = None  # perf_counter() when the current sleep began
        self._halted = False  # in WFI (or an HSM suspend) until an interrupt is pending
        self._requests = 0
        self._flushes: list[TlbFlush] = []
        self._wake: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._read_owed = False  # run() returned an unmapped MMIO load nobody answered yet
        self._in_run = False
        self.para = VcpuPara()  # SBI STA record and avmm para-state page
        self._pcpu = 0  # index of the pCPU of the current (or last) slice

    def __repr__(self) -> str:
        return f"<Vcpu {self.vm.name}/{self.index} {self._hsm.name}>"

    # ------------------------------------------------------------ KVM_RUN

    async def run(self) -> Exit:
        """Run slices until an exit needs the caller; return it."""
        if self._in_run:
            raise CoreError(f"vcpu {self.vm.name}/{self.index}: run() is already running")
        self._in_run = True
        try:
            return await self._loop()
        finally:
            self._in_run = False

    async def _loop(self) -> Exit:
        vm = self.vm
        sched = vm.host.scheduler
        hart = self.hart
        host = vm.host
        while True:
            # 1. requests, and sleeping until something wakes this vCPU
            if self._requests:
                return self._take_request()
            if (self._halted or self._hsm) and not self._may_run():
                await self._sleep()
                continue
            if self.para.sta is not None and sched.steal.would_charge():
                self.para.preempt(vm.guest_memory)  # advisory: waiting for a pCPU
            pcpu = await sched.acquire(self)
            if self._requests or self._halted or self._hsm:  # arrived while queued
                sched.release(self, pcpu, 0, ran=False)
                continue
            before = hart.instret
            try:
                # read at every slice: Host.tune() may change it between two
                result = await self._slice(pcpu, host.slice)
            finally:
                # 7. reschedule point: the next acquire() waits for the scheduler
                vm.current = None
                sched.release(self, pcpu, hart.instret - before)
            if result is not None:
                if isinstance(result, MmioExit) and not result.is_write:
                    self._read_owed = True  # answered by complete_mmio(), else all-ones
                return result

    async def _slice(self, pcpu: Pcpu, budget: int) -> Exit | None:
        """Steps 2 to 6 on ``pcpu``, which this vCPU holds throughout."""
        vm = self.vm
        host = vm.host
        hart = self.hart
        events = host.events
        exits = self.counters.exits
        sched = host.scheduler
        # 2. VMID of the current generation; flushes this pCPU owes
        tag = vm.vmid_tag
        if tag.generation != host.vmids.generation:
            vm.refresh_vmid()
        pcpu.enter(vm.key, self.index, tag.vmid)
        self._pcpu = pcpu.index
        if self.para.active:  # steal up to date, preempted cleared, para page refreshed
            self.para.run(vm.guest_memory, self.para_info())
        # 3. remote fences
        if self._flushes:
            self._apply_flushes()
        # 4. an unmapped load the caller did not answer reads an empty bus
        if self._read_owed:
            self.complete_mmio(XLEN_MASK)
        # 5. one slice: ``budget`` instructions, re-entered in place after exits
        # the runtime completes itself (MMIO on the bus, SBI, HTIF), as KVM
        # re-enters the guest after an in-kernel exit.
        before = hart.instret
        spawner = vm.spawner
        vm.current = self.index
        limit = budget
        left = budget
        grace = FIRMWARE_GRACE
        reentries = 0
        publish_exits = events.wants(ExitEvent)
        run_on = not host.deterministic
        t0 = t_budget = time.perf_counter()
        while True:
            reason = hart.run(left, pcpu.tlb)
            if not reason and grace and hart.in_firmware_call:
                # The budget ended inside a firmware call (or interrupt) from S/U.
                limit = hart.instret - before + grace
                left, grace = grace, 0
                continue
            exits[reason] += 1
            if not reason:
                if run_on and self._may_run_on(t0):
                    # another budget in place; each budget counts as a slice
                    now = time.perf_counter()
                    self._count_slice(now - t_budget)
                    t_budget = now
                    limit = hart.instret - before + budget
                    left = budget
                    reentries = 0
                    continue
                result = None
                break
            # 6. the exit, handled while this vCPU still holds its pCPU
            if publish_exits:
                events.publish(ExitEvent(vm.name, self.index, _EXIT_NAMES[reason], hart.pc))
            result = handle_exit(self, reason)
            if result is None and reason in _IN_PLACE and hart.single_step:
                # a single step ends with its instruction, even one completed in place
                result = DebugExit(self.index, _core.DEBUG_STEP, hart.pc)
            if (
                result is not None
                or reason not in _IN_PLACE
                or reentries >= MAX_REENTRIES
                or self._wants_out()
                or sched.yield_pending
            ):
                break
            left = limit - (hart.instret - before)
            if left < 1:
                break
            reentries += 1
        if vm.tracer is not None:
            vm.tracer.drain(self)
        self._count_slice(time.perf_counter() - t_budget)
        machine = vm.machine
        self._wake_kicked()
        if spawner.owes(self.index):  # deterministic policy: device work finishes in the slot
            vm.current = None
            await spawner.wait_for(self.index)
        next_wake = vm.next_wake
        if next_wake is not None and next_wake <= machine.time:
            vm.wake_due()
        return result

    def _count_slice(self, seconds: float) -> None:
        counters = self.counters
        counters.slice_buckets[bisect_left(SLICE_BUCKETS, seconds)] += 1
        counters.slice_seconds += seconds
        counters.slices += 1

    def _may_run_on(self, t0: float) -> bool:
        """The budget ended and nothing else wants the pCPU: run on in place?"""
        vm = self.vm
        if self._wants_out() or vm.host.scheduler.contended or vm.tracer is not None:
            return False
        if self._wake_kicked():  # in-core IPIs or PLIC lines woke other harts: let them run
            return False
        next_wake = vm.next_wake
        if next_wake is not None and next_wake <= vm.machine.time:
            return False
        return time.perf_counter() - t0 < RUN_ON_SECONDS

    def _wants_out(self) -> bool:
        """A request, a halt or HSM state, or device work owed: the slice must end."""
        return bool(self._requests or self._halted or self._hsm or self.vm.spawner.owes(self.index))

    def _wake_kicked(self) -> bool:
        """Wake the harts the core's in-core irqchip kicked; True if there were any."""
        kicks = self.vm.machine.take_kicks()
        if kicks:
            self.vm.wake_harts(kicks)
        return bool(kicks)

    def _may_run(self) -> bool:
        """Leave a halted/HSM state if it is over; True when a slice may run."""
        if self._halted:
            if not self.hart.wakeup_pending():
                return False
            self._halted = False
        state = self._hsm
        if state is HsmState.STARTED:
            return True
        if state is HsmState.START_PENDING or (
            state is HsmState.SUSPENDED and self._start is not None
        ):
            # HSM start, or wake-up from a non-retentive suspend: a fresh S-mode entry.
            assert self._start is not None
            addr, opaque = self._start
            self._start = None
            enter_supervisor(self.hart, addr, self.index, opaque)
            self.set_hsm_state(HsmState.STARTED)
            return True
        if state is HsmState.SUSPENDED:  # retentive: a0/a1 already say SUCCESS
            self.set_hsm_state(HsmState.STARTED)
            return True
        return False  # STOPPED

    async def _sleep(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake = fut
        t0 = self._sleep_t0 = time.perf_counter()
        self.vm.vcpu_sleeps(self)
        # On the host clock a deadline may have passed since _may_run() looked:
        # vcpu_sleeps() arms no timer for it, so look again before waiting.
        self.kick()
        try:
            await fut
        finally:
            self._wake = None
            self._cancel_timer()
            self.vm.vcpu_wakes(self)
            self.counters.halt_wakeups += 1
            self.counters.halt_wait_seconds += time.perf_counter() - t0
            self._sleep_t0 = None

    @property
    def halt_wait_seconds(self) -> float:
        """Host seconds slept halted so far, the sleep going on now included.

        The counter is credited when a sleep ends; a scrape in the middle of a
        long WFI must still see the time pass (else a dashboard's "halted
        share" stays at 0 for the whole sleep and then jumps past 100%).
        """
        t0 = self._sleep_t0
        done = self.counters.halt_wait_seconds
        return done if t0 is None else done + (time.perf_counter() - t0)

    @property
    def sleeping(self) -> bool:
        """True while the task waits in a halt/HSM sleep (costing no host CPU)."""
        return self._wake is not None

    @property
    def in_run(self) -> bool:
        return self._in_run

    def _wake_now(self) -> None:
        fut = self._wake
        if fut is not None and not fut.done():
            fut.set_result(None)

    def kick(self) -> None:
        """Something may have made an interrupt pending: wake if it did."""
        if self._wake is not None and self._halted and self.hart.wakeup_pending():
            self._wake_now()

    def directed_yield(self, target: Schedulable) -> bool:
        """``target`` received an IPI this vCPU sent (or a yield_to hint named it): it
        runs next (directed yield). False if directed yield is off or it is this vCPU."""
        if target is self or not self.vm.directed_yields:
            return False
        self.vm.host.scheduler.yield_to(target)
        self.counters.directed_yields += 1
        return True

    # ------------------------------------------------------- paravirtual

    @property
    def steal_ns(self) -> int:
        """Guest nanoseconds this vCPU was runnable without a modelled pCPU (up to its
        last grant; :mod:`avmm.runtime.steal`)."""
        ticks = self.vm.host.scheduler.steal.stolen_ticks(self.key)
        return int(ticks * 1_000_000_000 // self.vm.machine.timebase_hz)

    def para_info(self) -> ParaInfo:
        """What the avmm para-state page reports about this vCPU now."""
        tag = self.vm.vmid_tag
        return ParaInfo(
            vcpu=self.index,
            pcpu=self._pcpu,
            vmid=tag.vmid,
            generation=tag.generation,
            exits=sum(self.counters.exits),
            slices=self.counters.slices,
            steal_ns=self.steal_ns,
        )

    def ipi_received(self) -> None:
        """A Python CLINT raised this hart's msip: count it; it runs next."""
        self.counters.ipis += 1
        self.vm.directed_yield(self.index)

    def timer_changed(self) -> None:
        """A comparator of this hart changed: re-arm the sleeper's wake-up."""
        if self._wake is not None:
            self.vm.vcpu_sleeps(self)  # recomputes deadlines
            self.kick()

    def arm_timer(self, delay: float) -> None:
        """Host clock: wake after ``delay`` seconds to look at the comparators."""
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._wake is None:
            return
        self.kick()
        if self._wake is not None and not self._wake.done():
            self.vm.vcpu_sleeps(self)  # not due yet (clock rounding): re-arm

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reset(self) -> None:
        """Forget the run-time state of the last boot, for a machine reset (reboot):
        requests, remote fences, a pending MMIO load, WFI and HSM state. The hart's
        architectural state is reset by whoever boots the machine again."""
        if self._in_run:
            raise CoreError(f"vcpu {self.vm.name}/{self.index}: reset while running")
        self._requests = 0
        self._flushes.clear()
        self._halted = False
        self._start = None
        self._read_owed = False
        self._cancel_timer()
        self.vm.spawner.forget(self.index)
        self.para.reset()
        self.set_hsm_state(HsmState.STARTED)

    # ---------------------------------------------------------- snapshots

    def save_state(self) -> dict[str, Any]:
        """The hart and this vCPU's run-time state as plain data, taken at a slice
        boundary (avmm.snapshot): HSM, WFI, remote fences owed, counters."""
        c = self.counters
        return {
            "hart": self.hart.state(),
            "hsm": int(self._hsm),
            "start": list(self._start) if self._start is not None else None,
            "halted": self._halted,
            "flushes": [[f.kind, f.start, f.size, f.asid] for f in self._flushes],
            "read_owed": self._read_owed,
            "counters": attrs.asdict(c),
            "para": self.para.state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Take back :meth:`save_state` (at a slice boundary, the scheduler held).

        The hart is reset first, which drops every translation of the machine, and
        a vCPU asleep in the old state wakes to look at the new one."""
        self.hart.reset(0)
        self.hart.set_state(state["hart"])
        start = state["start"]
        self._start = (int(start[0]), int(start[1])) if start is not None else None
        self._halted = bool(state["halted"])
        self._flushes = [
            TlbFlush(str(k), int(a), int(n), int(asid)) for k, a, n, asid in state["flushes"]
        ]
        self._read_owed = bool(state["read_owed"])
        self.counters = VcpuCounters(**state["counters"])
        if "para" in state:  # snapshots before the paravirtual SBI have none
            self.para.restore(state["para"])
        else:
            self.para.reset()
        self._hsm = HsmState(int(state["hsm"]))
        self._cancel_timer()
        self._wake_now()

    # ----------------------------------------------------------- requests

    def request_stop(self) -> None:
        """Stop at the next slice boundary: run() returns Interrupted(STOP)."""
        self._requests |= _REQ_STOP
        self._wake_now()

    def request_pause(self) -> None:
        """Pause at the next slice boundary: run() returns Interrupted(PAUSE)."""
        self._requests |= _REQ_PAUSE
        self._wake_now()

    def request_signal(self) -> None:
        """A host signal arrived: run() returns Interrupted(SIGNAL)."""
        self._requests |= _REQ_SIGNAL
        self._wake_now()

    def _take_request(self) -> Interrupted:
        req = self._requests
        self._requests = 0
        self.counters.interrupted_exits += 1
        if req & _REQ_SIGNAL:
            self.counters.signal_exits += 1
            return Interrupted(self.index, StopReason.SIGNAL)
        if req & _REQ_STOP:
            return Interrupted(self.index, StopReason.STOP)
        return Interrupted(self.index, StopReason.PAUSE)

    def request_tlb_flush(self, flush: TlbFlush) -> None:
        """A remote fence for this vCPU, applied before it next runs (KVM's
        ``remote_tlb_flush``); the requester does not wait.

        A vCPU that does not run (HSM STOPPED, or starved) would let another
        hart queue fences without end, so at most MAX_PENDING_FENCES wait: one
        more merges them all into a flush of the whole VMID, which covers each
        of them (a fence.i needs nothing queued: the core drops decoded state
        at every slice start). Merged requests are counted."""
        self.counters.remote_tlb_flushes += 1
        pending = self._flushes
        if pending and pending[-1] == _FLUSH_ALL:
            self.counters.remote_fences_merged += 1
            return
        if len(pending) >= MAX_PENDING_FENCES:
            self.counters.remote_fences_merged += len(pending)
            self._flushes = [_FLUSH_ALL]
            return
        pending.append(flush)

    def _apply_flushes(self) -> None:
        vmid = self.vm.machine.vmid
        tlbs = self.vm.host.tlbs
        flushes, self._flushes = self._flushes, []
        for flush in flushes:
            if flush.kind == "fence.i":
                continue  # the core drops decoded state at every slice start
            asid = flush.asid if flush.kind == "vma_asid" else None
            pages = (flush.size + PAGE_SIZE - 1) // PAGE_SIZE
            for tlb in tlbs:
                if flush.everything or pages > RFENCE_MAX_PAGES:
                    if asid is None:
                        tlb.flush_vmid(vmid)
                    else:
                        tlb.flush_asid(vmid, asid)
                else:
                    first = flush.start & ~(PAGE_SIZE - 1)
                    for i in range(pages + 1):
                        tlb.flush_page(vmid, first + i * PAGE_SIZE, asid)

    # ---------------------------------------------------------------- MMIO

    def complete_mmio(self, value: int) -> None:
        """Answer the MMIO load run() returned (nothing on the bus took it): the
        value goes to the core and the load retires now."""
        if not self._read_owed:
            raise CoreError(f"vcpu {self.vm.name}/{self.index}: no MMIO read is pending")
        self._read_owed = False
        self.hart.complete_mmio_read(value & XLEN_MASK)

    # ----------------------------------------------------------------- WFI

    def halt(self) -> None:
        """WFI with nothing pending: sleep until an interrupt is pending."""
        self._halted = True

    @property
    def halted(self) -> bool:
        return self._halted

    # ----------------------------------------------------------------- HSM

    @property
    def hsm_state(self) -> HsmState:
        return self._hsm

    def set_hsm_state(self, state: HsmState) -> None:
        if state is self._hsm:
            return
        self._hsm = state
        events = self.vm.events
        if events.wants(HsmEvent):
            events.publish(HsmEvent(self.vm.name, self.index, state.name.lower()))
        if state is not HsmState.STOPPED:
            self._wake_now()

    def hsm_start(self, addr: int, opaque: int) -> None:
        """SBI HSM hart_start: enter S-mode at ``addr`` when this vCPU next runs. Its
        paravirtual registrations are gone, as after a reset (KVM resets the vCPU)."""
        self.para.reset()
        self._start = (addr, opaque)
        self._halted = False
        self.set_hsm_state(HsmState.START_PENDING)

    def hsm_stop(self) -> None:
        """SBI HSM hart_stop (called on this vCPU): sleep until started again."""
        self._halted = False
        self.set_hsm_state(HsmState.STOPPED)

    def hsm_suspend(self, resume: tuple[int, int] | None) -> None:
        """SBI HSM hart_suspend: retentive (``resume`` None) or not."""
        self._start = resume
        self._halted = True
        self.set_hsm_state(HsmState.SUSPENDED)

    # ---------------------------------------------------- registers, debug

    @property
    def pc(self) -> int:
        return self.hart.pc

    @pc.setter
    def pc(self, value: int) -> None:
        self.hart.pc = value

    def get_reg(self, index: int) -> int:
        return self.hart.get_x(index)

    def set_reg(self, index: int, value: int) -> None:
        self.hart.set_x(index, value)

    def get_regs(self) -> list[int]:
        return [self.hart.get_x(i) for i in range(32)]

    def set_regs(self, values: list[int]) -> None:
        for i, value in enumerate(values):
            self.hart.set_x(i, value)

    def get_csr(self, csr: int | str) -> int:
        return self.hart.get_csr(_csr_number(csr))

    def set_csr(self, csr: int | str, value: int) -> None:
        self.hart.set_csr(_csr_number(csr), value)

    def inject_irq(self, mask: int, level: bool) -> None:
        """Drive an external interrupt line of this hart (MEIP, SEIP, MSIP)."""
        self.hart.set_irq_line(mask, level)
        if level:
            self.kick()

    def post_interrupt(self, mask: int) -> None:
        """Set software-visible ``mip`` bits (e.g. SSIP) and wake the vCPU."""
        self.hart.post_mip(mask)
        self.kick()

    def set_guest_debug(
        self, *, single_step: bool | None = None, ebreak: bool | None = None
    ) -> None:
        """KVM_SET_GUEST_DEBUG: single-step and/or ``ebreak`` exits to the caller.

        With any of these, breakpoints or watchpoints set, ``run()`` returns a
        :class:`~avmm.exits.DebugExit` when one is hit (``Vm.run`` hands it to its
        ``debugger``, or ends). Breakpoints and watchpoints are the VMM's: guest
        memory is not patched and the guest's own triggers (Sdtrig) stay its own.
        """
        if single_step is not None:
            self.hart.single_step = single_step
        if ebreak is not None:
            self.hart.debug_ebreak = ebreak

    def set_breakpoint(self, vaddr: int) -> None:
        """Stop before executing ``vaddr`` (DEBUG_BREAKPOINT); run() again passes it."""
        self.hart.set_breakpoint(vaddr)

    def clear_breakpoint(self, vaddr: int) -> None:
        self.hart.clear_breakpoint(vaddr)

    def set_watchpoint(self, vaddr: int, length: int, *, load: bool, store: bool) -> None:
        """Stop before a load and/or store touching [vaddr, vaddr + length)
        (DEBUG_WATCHPOINT); run() again performs that access."""
        self.hart.set_watchpoint(vaddr, length, _watch_kind(load, store))

    def clear_watchpoint(self, vaddr: int, length: int, *, load: bool, store: bool) -> None:
        self.hart.clear_watchpoint(vaddr, length, _watch_kind(load, store))

    # --------------------------------------------------------------- stats

    def statistics(self) -> VcpuStatistics:
        c = self.counters
        core = self.hart.stats()
        exits = {name: n for name, n in zip(_EXIT_NAMES, c.exits, strict=True)}
        exits["interrupted"] = c.interrupted_exits
        return VcpuStatistics(
            vm=self.vm.name,
            vcpu=self.index,
            instret=self.hart.instret,
            hsm_state=self._hsm.name.lower(),
            slices=c.slices,
            exits=exits,
            halt_wakeups=c.halt_wakeups,
            halt_wait_seconds=self.halt_wait_seconds,
            signal_exits=c.signal_exits,
            directed_yields=c.directed_yields,
            pause_exits=c.pause_exits,
            remote_tlb_flushes=c.remote_tlb_flushes,
            remote_fences_merged=c.remote_fences_merged,
            mmio_exits_bus=c.mmio_exits_bus,
            mmio_exits_user=c.mmio_exits_user,
            sbi_calls=c.sbi_calls,
            htif_requests=c.htif_requests,
            ipis=c.ipis + cast(int, core["ipis"]),
            steal_seconds=self.steal_ns / 1e9,
            sta_registered=self.para.sta is not None,
            para_page_registered=self.para.page is not None,
            yield_hints=self.para.yields,
            slice_buckets=tuple(c.slice_buckets),
            slice_seconds=c.slice_seconds,
            core=core,
        )


def _watch_kind(load: bool, store: bool) -> int:
    kind = (_core.WATCH_LOAD if load else 0) | (_core.WATCH_STORE if store else 0)
    if not kind:
        raise ValueError("a watchpoint watches loads, stores or both")
    return kind


def _csr_number(csr: int | str) -> int:
    if isinstance(csr, str):
        try:
            return _core.CSRS[csr]
        except KeyError:
            raise ValueError(f"unknown CSR {csr!r}") from None
    return csr
