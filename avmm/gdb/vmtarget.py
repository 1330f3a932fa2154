"""The one adapter between the gdb server and today's runtime: a
:class:`~avmm.gdb.target.DebugTarget` on an :class:`avmm.runtime.vm.Vm`.

It is also the VM's ``debugger`` hook (:class:`avmm.runtime.vm.DebugHook`): every exit
that leaves a vCPU's ``run()`` passes through :meth:`on_exit`, which holds the
vCPU ("parks" it) when the debugger stopped it, by a debug exit or by a pause
request, until :meth:`resume` lets it go. Breakpoints and watchpoints are the
VMM's (``Vcpu.set_breakpoint``/``set_watchpoint``), on every vCPU: guest memory
is never patched and the guest's own Sdtrig triggers stay its own.

While every vCPU is stopped, guest time stands still (``Machine.clock_held``;
QEMU stops its virtual clock for a debugger too): the next resume finds the
timers where the stop left them. Otherwise a thread resumed on its own, as
gdb's software single-step over a breakpoint does (``vCont;c:N`` with a
breakpoint on the next instruction), would first take the timer interrupt of
the seconds gdb spent, and a Linux tick handler can then spin forever on a lock
a stopped vCPU holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from avmm import _core
from avmm.gdb.target import Action, DebugTargetError, StopEvent, StopKind, WatchKind
from avmm.runtime.exits import (
    DebugExit,
    Exit,
    HtifExit,
    Interrupted,
    MmioExit,
    StopReason,
    SystemEvent,
)
from avmm.sbi import HsmState

if TYPE_CHECKING:
    from avmm.runtime.vcpu import Vcpu
    from avmm.runtime.vm import Vm

_PAGE = 4096
_CSRS = _core.CSRS
_PRIV_NAMES = {_core.PRIV_U: "U", _core.PRIV_S: "S", _core.PRIV_M: "M"}


class VmDebugTarget:
    """All-stop debugging of one VM; attach with :meth:`attach` before it runs."""

    def __init__(self, vm: Vm) -> None:
        self.vm = vm
        self._parked: dict[int, asyncio.Future[None]] = {}
        self._running: set[int] = set()  # resumed by the debugger, not parked since
        self._pause_sent: set[int] = set()  # a pause request not yet seen by on_exit
        self._pending: dict[int, StopEvent] = {}  # stops not reported yet
        self._resumed: set[int] = set()  # the threads of the last resume()
        self._breakpoints: dict[int, set[bool]] = {}  # addr -> {hardware?}
        self._watchpoints: dict[tuple[int, int], set[WatchKind]] = {}
        self._interrupted = False
        self._ended: Exit | None = None
        self._changed = asyncio.Event()

    @classmethod
    def attach(cls, vm: Vm, *, stopped: bool = False) -> VmDebugTarget:
        """Install as ``vm.debugger``; ``stopped``: no vCPU runs an instruction until
        a debugger resumes it (``--gdb-wait``)."""
        target = cls(vm)
        vm.debugger = target
        if stopped:
            for vcpu in vm.vcpus:
                target._request_park(vcpu)
        return target

    # ------------------------------------------------------------ the hook

    async def on_exit(self, vcpu: Vcpu, exit: Exit) -> Exit | None:
        index = vcpu.index
        if self._ended is not None:
            return exit
        if isinstance(exit, DebugExit):
            event = self._event_of(exit)
            if event is None:  # not ours (no debugger state left): go on
                vcpu.hart.single_step = False
                return None
            self._pending[index] = event
            await self._park(vcpu)
            return None
        if isinstance(exit, Interrupted) and exit.reason is StopReason.PAUSE:
            if index in self._pause_sent:
                self._pause_sent.discard(index)
                if index not in self._running:
                    await self._park(vcpu)
                return None  # a stale request: it runs on
            return exit
        if isinstance(exit, MmioExit):
            return exit
        self._end(exit)
        return exit

    def on_stop(self) -> None:
        self._end(Interrupted(0, StopReason.STOP))

    def _end(self, exit: Exit) -> None:
        if self._ended is None:
            self._ended = exit
        for fut in self._parked.values():
            if not fut.done():
                fut.set_result(None)
        self._parked.clear()
        self._changed.set()

    async def _park(self, vcpu: Vcpu) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked[vcpu.index] = fut
        self._running.discard(vcpu.index)
        self._changed.set()
        await fut

    def _request_park(self, vcpu: Vcpu) -> None:
        if vcpu.index not in self._pause_sent:
            self._pause_sent.add(vcpu.index)
            vcpu.request_pause()

    def _event_of(self, exit: DebugExit) -> StopEvent | None:
        if exit.cause == _core.DEBUG_STEP:
            return StopEvent(exit.vcpu, StopKind.STEP)
        if exit.cause == _core.DEBUG_BREAKPOINT:
            bp_kinds = self._breakpoints.get(exit.pc)
            if not bp_kinds:
                return None
            hardware = False not in bp_kinds
            return StopEvent(exit.vcpu, StopKind.BREAKPOINT, exit.pc, hardware=hardware)
        if exit.cause == _core.DEBUG_WATCHPOINT:
            for (addr, _length), kinds in self._watchpoints.items():
                if addr == exit.addr and kinds:
                    kind = _reported_watch(kinds, exit.write)
                    return StopEvent(exit.vcpu, StopKind.WATCH, addr, watch=kind)
            return None
        return StopEvent(exit.vcpu, StopKind.BREAKPOINT, exit.pc)  # ebreak

    # ------------------------------------------------------------ threads

    @property
    def threads(self) -> Sequence[int]:
        return [v.index for v in self.vm.vcpus]

    @property
    def ended(self) -> bool:
        return self._ended is not None

    def thread_info(self, thread: int) -> str:
        vcpu = self._vcpu(thread)
        state = vcpu.hsm_state.name.lower()
        if vcpu.halted:
            state += ", wfi"
        return f"vcpu{thread} {_PRIV_NAMES.get(vcpu.hart.priv, '?')}-mode {state}"

    def _vcpu(self, thread: int) -> Vcpu:
        if not 0 <= thread < len(self.vm.vcpus):
            raise DebugTargetError(f"no vCPU {thread}")
        return self.vm.vcpus[thread]

    # ------------------------------------------------------------ registers

    def register_names(self) -> Sequence[str]:
        return list(_CSRS)

    def read_register(self, thread: int, name: str) -> int:
        hart = self._vcpu(thread).hart
        try:
            if name == "pc":
                return hart.pc
            if name == "priv":
                return hart.priv
            if name[0] in "xf" and name[1:].isdigit():
                index = int(name[1:])
                return hart.get_x(index) if name[0] == "x" else hart.get_f(index)
            return hart.get_csr(_CSRS[name])
        except (KeyError, ValueError) as err:
            raise DebugTargetError(f"no register {name}") from err

    def write_register(self, thread: int, name: str, value: int) -> None:
        hart = self._vcpu(thread).hart
        try:
            if name == "pc":
                hart.pc = value
            elif name == "priv":
                if value not in _PRIV_NAMES:
                    raise DebugTargetError(f"no privilege mode {value}")
                hart.priv = value
            elif name[0] in "xf" and name[1:].isdigit():
                index = int(name[1:])
                if name[0] == "x":
                    hart.set_x(index, value)
                else:
                    hart.set_f(index, value)
            else:
                hart.set_csr(_CSRS[name], value)
        except (KeyError, ValueError) as err:
            raise DebugTargetError(f"cannot write {name}") from err

    # ------------------------------------------------------------ memory

    def _phys(self, hart: _core.Hart, vaddr: int) -> int | None:
        pa = hart.translate(vaddr)
        if pa is None and hart.priv == _core.PRIV_U:
            # stopped in user mode, looking at the kernel: translate as S-mode would
            hart.priv = _core.PRIV_S
            try:
                pa = hart.translate(vaddr)
            finally:
                hart.priv = _core.PRIV_U
        return pa

    def read_memory(self, thread: int, addr: int, length: int, *, physical: bool = False) -> bytes:
        hart = self._vcpu(thread).hart
        machine = self.vm.machine
        out = bytearray()
        while len(out) < length:
            va = addr + len(out)
            chunk = min(length - len(out), _PAGE - (va % _PAGE))
            pa = va if physical else self._phys(hart, va)
            try:
                if pa is None:
                    raise ValueError
                out += machine.read_phys(pa, chunk)
            except ValueError:
                break
        if length and not out:
            raise DebugTargetError(f"cannot read {addr:#x}")
        return bytes(out)

    def write_memory(self, thread: int, addr: int, data: bytes, *, physical: bool = False) -> None:
        hart = self._vcpu(thread).hart
        machine = self.vm.machine
        done = 0
        while done < len(data):
            va = addr + done
            chunk = min(len(data) - done, _PAGE - (va % _PAGE))
            pa = va if physical else self._phys(hart, va)
            try:
                if pa is None:
                    raise ValueError
                machine.write_phys(pa, data[done : done + chunk])
            except ValueError as err:
                raise DebugTargetError(f"cannot write {va:#x}") from err
            done += chunk

    # ------------------------------------------------------------ breakpoints

    def insert_breakpoint(self, addr: int, *, hardware: bool) -> None:
        kinds = self._breakpoints.setdefault(addr, set())
        if not kinds:
            for vcpu in self.vm.vcpus:
                vcpu.set_breakpoint(addr)
        kinds.add(hardware)

    def remove_breakpoint(self, addr: int, *, hardware: bool) -> None:
        kinds = self._breakpoints.get(addr)
        if kinds is None:
            return
        kinds.discard(hardware)
        if not kinds:
            del self._breakpoints[addr]
            for vcpu in self.vm.vcpus:
                vcpu.clear_breakpoint(addr)

    def insert_watchpoint(self, addr: int, length: int, kind: WatchKind) -> None:
        self._watchpoints.setdefault((addr, length), set()).add(kind)
        load, store = _watch_bits(kind)
        try:
            for vcpu in self.vm.vcpus:
                vcpu.set_watchpoint(addr, length, load=load, store=store)
        except ValueError as err:
            self.remove_watchpoint(addr, length, kind)
            raise DebugTargetError(str(err)) from err

    def remove_watchpoint(self, addr: int, length: int, kind: WatchKind) -> None:
        kinds = self._watchpoints.get((addr, length))
        if kinds is None or kind not in kinds:
            return
        kinds.discard(kind)
        if not kinds:
            del self._watchpoints[(addr, length)]
        still_load = any(_watch_bits(k)[0] for k in kinds)
        still_store = any(_watch_bits(k)[1] for k in kinds)
        load, store = _watch_bits(kind)
        load, store = load and not still_load, store and not still_store
        if load or store:
            for vcpu in self.vm.vcpus:
                vcpu.clear_watchpoint(addr, length, load=load, store=store)

    # ------------------------------------------------------------ running

    async def stop(self) -> None:
        self._running.clear()
        for vcpu in self.vm.vcpus:
            if vcpu.index not in self._parked:
                self._request_park(vcpu)
        while self._ended is None and len(self._parked) < len(self.vm.vcpus):
            self._changed.clear()
            await self._changed.wait()
        if self._ended is None:
            self.vm.machine.clock_held = True

    def resume(self, actions: Mapping[int, Action]) -> None:
        self._interrupted = False
        self._resumed = set(actions)
        for thread, action in actions.items():
            event = self._pending.pop(thread, None)
            if event is not None and self._still_valid(event, action):
                self._pending[thread] = event  # reported at once, nothing runs
                self._changed.set()
                return
        self.vm.machine.clock_held = False  # time goes on from where the stop left it
        for thread, action in actions.items():
            vcpu = self._vcpu(thread)
            vcpu.hart.single_step = action is Action.STEP
            if action is Action.STEP and vcpu.hsm_state is HsmState.STOPPED:
                self._pending[thread] = StopEvent(thread, StopKind.STEP)
                continue  # a stopped hart has nothing to step
            self._running.add(thread)
            fut = self._parked.pop(thread, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        self._changed.set()

    def _still_valid(self, event: StopEvent, action: Action) -> bool:
        if event.kind is StopKind.BREAKPOINT:
            return event.addr in self._breakpoints
        if event.kind is StopKind.WATCH:
            return any(addr == event.addr for addr, _ in self._watchpoints)
        if event.kind is StopKind.STEP:
            return action is Action.STEP
        return False

    async def wait_stop(self) -> StopEvent:
        while True:
            if self._ended is not None:
                return StopEvent(0, StopKind.EXITED, code=_exit_code(self._ended))
            event = self._take_pending()
            if event is not None:
                break
            if self._interrupted:
                self._interrupted = False
                running = sorted(self._running) or self.threads
                event = StopEvent(running[0], StopKind.INTERRUPT)
                break
            self._changed.clear()
            await self._changed.wait()
        await self.stop()
        for vcpu in self.vm.vcpus:
            vcpu.hart.single_step = False
        if self._ended is not None:
            return StopEvent(0, StopKind.EXITED, code=_exit_code(self._ended))
        return event

    def _take_pending(self) -> StopEvent | None:
        """A stop of a thread gdb resumed (others keep theirs for a later resume)."""
        for thread in sorted(self._pending):
            if thread in self._resumed and thread in self._parked:
                return self._pending.pop(thread)
        return None

    def interrupt(self) -> None:
        self._interrupted = True
        self._changed.set()

    def detach(self) -> None:
        for addr in list(self._breakpoints):
            for vcpu in self.vm.vcpus:
                vcpu.clear_breakpoint(addr)
        for (addr, length), kinds in self._watchpoints.items():
            for kind in kinds:
                load, store = _watch_bits(kind)
                for vcpu in self.vm.vcpus:
                    vcpu.clear_watchpoint(addr, length, load=load, store=store)
        self._breakpoints.clear()
        self._watchpoints.clear()
        self._pending.clear()
        self.resume({t: Action.CONTINUE for t in self.threads})

    def kill(self) -> None:
        self.detach()
        self.vm.stop()

    # ------------------------------------------------------------ monitor

    def monitor(self, topic: str, arg: str) -> str:
        if topic == "exits":
            lines = []
            for vcpu in self.vm.vcpus:
                stats = vcpu.statistics()
                exits = ", ".join(f"{k} {n}" for k, n in stats.exits.items() if n)
                lines.append(f"vcpu{vcpu.index}: {stats.instret} instructions; {exits}")
            return "\n".join(lines) + "\n"
        if topic == "sched":
            host = self.vm.host
            head = f"policy {host.policy_name}, clock {host.clock_name}, slice {host.slice}"
            return head + "\n" + _plain(host.scheduler.statistics()) + "\n"
        if topic == "device":
            devices = {name: dev for _base, dev, name in self.vm.bus.devices}
            if arg not in devices:
                return f"devices: {', '.join(devices) or 'none'}\n"
            state = getattr(devices[arg], "state", None)
            return _plain(state() if state is not None else {}) + "\n"
        return f"unknown topic {topic}\n"


def _watch_bits(kind: WatchKind) -> tuple[bool, bool]:
    """(load, store) of a gdb watchpoint kind."""
    return kind is not WatchKind.WRITE, kind is not WatchKind.READ


def _reported_watch(kinds: set[WatchKind], write: bool) -> WatchKind:
    if WatchKind.ACCESS in kinds:
        return WatchKind.ACCESS
    if write and WatchKind.WRITE in kinds:
        return WatchKind.WRITE
    if not write and WatchKind.READ in kinds:
        return WatchKind.READ
    return next(iter(kinds))


def _exit_code(exit: Exit) -> int:
    if isinstance(exit, HtifExit | SystemEvent):
        return exit.code
    return 0 if isinstance(exit, Interrupted) else 1


def _plain(value: Any) -> str:
    if attrs.has(type(value)):
        value = attrs.asdict(value)
    return json.dumps(value, indent=2, default=str)
