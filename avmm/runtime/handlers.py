"""Exit handling: a plain function of (vCPU, exit reason), one handler per reason.

As in kvmtool's ``kvm_cpu__start``, the run loop switches on the core's exit
reason through :data:`HANDLERS`. A handler completes the exit in place and
returns None (keep running), or returns the :class:`~avmm.runtime.exits.Exit`
that needs the caller. Handlers read the exit's details from the hart and see
the vCPU and its VM only through :class:`~avmm.runtime.ports.ExitVcpu`, so
tests call :func:`handle_exit` on a real ``Machine``/``Hart`` with fabricated
state: registers set by hand for an ecall, ``tohost`` written for HTIF, a
real load left pending for an MMIO read, or an explicit
:class:`~avmm.runtime.exits.MmioExit` for a write.

An MMIO read is staged once, in the core: the device's value goes straight to
``Hart.complete_mmio_read`` and the load retires before the slice goes on.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from avmm import _core
from avmm.runtime.events import MmioEvent
from avmm.runtime.exits import DebugExit, Exit, HtifExit, InternalError, MmioExit
from avmm.sbi.dispatch import handle_ecall

if TYPE_CHECKING:
    from avmm.runtime.ports import ExitVcpu


Handler = Callable[["ExitVcpu"], Exit | None]

_U64 = struct.Struct("<Q")
_PAYLOAD = (1 << 48) - 1


def handle_exit(vcpu: ExitVcpu, reason: int, mmio: MmioExit | None = None) -> Exit | None:
    """Complete exit ``reason`` of ``vcpu``; return what needs the caller, or None.

    ``mmio`` stands in for the core's MMIO details (a write; or a read the core
    left pending)."""
    if mmio is not None:
        return handle_mmio(vcpu, mmio)
    return HANDLERS[reason](vcpu)


# ------------------------------------------------------------------- MMIO


def handle_mmio(vcpu: ExitVcpu, access: MmioExit) -> Exit | None:
    """Route an MMIO access to the VM's bus; unmapped -> the caller decides."""
    if access.is_write:
        return _bus_write(vcpu, access.addr, access.size, access.value, access)
    return _bus_read(vcpu, access.addr, access.size, access)


def _bus_read(vcpu: ExitVcpu, addr: int, size: int, access: MmioExit | None) -> Exit | None:
    vm = vcpu.vm
    value = vm.bus.read(addr, size)
    if value is None:
        vcpu.counters.mmio_exits_user += 1
        return access or MmioExit(vcpu.index, addr, size, False, 0)
    vcpu.hart.complete_mmio_read(value)  # the load retires with its value now
    vcpu.counters.mmio_exits_bus += 1
    events = vm.events
    if events.wants(MmioEvent):
        name = vm.bus.device_name(addr)
        events.publish(MmioEvent(vm.name, vcpu.index, name, addr, size, False, value))
    return None


def _bus_write(
    vcpu: ExitVcpu, addr: int, size: int, value: int, access: MmioExit | None
) -> Exit | None:
    vm = vcpu.vm
    if not vm.bus.write(addr, size, value):
        vcpu.counters.mmio_exits_user += 1
        return access or MmioExit(vcpu.index, addr, size, True, value)
    vcpu.counters.mmio_exits_bus += 1
    events = vm.events
    if events.wants(MmioEvent):
        name = vm.bus.device_name(addr)
        events.publish(MmioEvent(vm.name, vcpu.index, name, addr, size, True, value))
    # A write may power the VM off (the syscon/test device).
    return vm.take_system_event(vcpu.index) if vm.system_event is not None else None


def _mmio_read(vcpu: ExitVcpu) -> Exit | None:
    hart = vcpu.hart
    return _bus_read(vcpu, hart.mmio_addr, hart.mmio_size, None)


def _mmio_write(vcpu: ExitVcpu) -> Exit | None:
    hart = vcpu.hart
    return _bus_write(vcpu, hart.mmio_addr, hart.mmio_size, hart.mmio_value, None)


# ----------------------------------------------------------- the others


def _budget(vcpu: ExitVcpu) -> Exit | None:
    return None


def _ecall(vcpu: ExitVcpu) -> Exit | None:
    return handle_ecall(vcpu, vcpu.vm)


def _wfi(vcpu: ExitVcpu) -> Exit | None:
    # The core exits only with nothing pending, but a device may have raised a
    # line since: sleep only if that is still so.
    if not vcpu.hart.wakeup_pending():
        vcpu.halt()
    return None


def _pause(vcpu: ExitVcpu) -> Exit | None:
    # The slice ended early; the scheduler runs someone else next.
    vcpu.counters.pause_exits += 1
    return None


def _debug(vcpu: ExitVcpu) -> Exit | None:
    hart = vcpu.hart
    if hart.debug_cause == _core.DEBUG_TRACE:
        return None  # the trace buffer is full; the slice ends and the tracer drains it
    if hart.debug_cause == _core.DEBUG_WATCHPOINT:
        return DebugExit(vcpu.index, hart.debug_cause, hart.pc, hart.debug_addr, hart.debug_write)
    return DebugExit(vcpu.index, hart.debug_cause, hart.pc)


def _htif(vcpu: ExitVcpu) -> Exit | None:
    """Spike HTIF: an odd value is an exit (code = value >> 1); device 1 command 1
    prints a character. The host acknowledges by writing ``tohost`` back to 0."""
    vm = vcpu.vm
    tohost, fromhost = vm.htif
    if tohost is None:
        return None
    machine = vm.machine
    value = _U64.unpack(machine.read_phys(tohost, 8))[0]
    vcpu.counters.htif_requests += 1
    device, command = value >> 56, (value >> 48) & 0xFF
    if device == 0 and command == 0 and value & 1:
        return HtifExit(vcpu.index, (value & _PAYLOAD) >> 1)
    response = None
    if device == 1 and command == 1:
        vm.sbi_console.write(bytes([value & 0xFF]))
        response = 0x100 | (value & 0xFF)
    elif device == 1 and command == 0:
        data = vm.sbi_console.read(1)
        response = data[0] if data else None
    else:
        vm.guest_error(
            vcpu.index,
            f"htif: unsupported request {value:#x} (device {device})",
            key="htif:unsupported",
        )
    machine.write_phys(tohost, _U64.pack(0))
    if fromhost is not None and response is not None:
        machine.write_phys(fromhost, _U64.pack((value >> 48 << 48) | response))
    return None


def _ipi(vcpu: ExitVcpu) -> Exit | None:
    """An in-core CLINT IPI: wake the targets and run the first one next."""
    vm = vcpu.vm
    kicks = vm.machine.take_kicks()
    if kicks:
        vm.wake_harts(kicks)
    others = kicks & ~(1 << vcpu.index)
    if others:
        target = (others & -others).bit_length() - 1
        vcpu.directed_yield(vm.vcpus[target])
    return None


def _internal_error(vcpu: ExitVcpu) -> Exit | None:
    return InternalError(vcpu.index, vcpu.hart.error, register_dump(vcpu.hart))


HANDLERS: dict[int, Handler] = {
    _core.EXIT_BUDGET: _budget,
    _core.EXIT_MMIO_READ: _mmio_read,
    _core.EXIT_MMIO_WRITE: _mmio_write,
    _core.EXIT_ECALL: _ecall,
    _core.EXIT_WFI: _wfi,
    _core.EXIT_PAUSE: _pause,
    _core.EXIT_DEBUG: _debug,
    _core.EXIT_HTIF: _htif,
    _core.EXIT_IPI: _ipi,
    _core.EXIT_INTERNAL_ERROR: _internal_error,
}

# ---------------------------------------------------------------- dump

# fmt: off
ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)
# fmt: on
DUMP_CSRS = (
    "mstatus",
    "mcause",
    "mepc",
    "mtval",
    "mip",
    "mie",
    "mideleg",
    "medeleg",
    "mtvec",
    "scause",
    "sepc",
    "stval",
    "stvec",
    "satp",
)

_PRIV = {_core.PRIV_U: "U", _core.PRIV_S: "S", _core.PRIV_M: "M"}


def register_dump(hart: _core.Hart) -> str:
    """The hart's pc, privilege, x registers and main CSRs, four to a line."""
    lines = [f"hart {hart.hartid}: pc {hart.pc:#018x} priv {_PRIV.get(hart.priv, hart.priv)}"]
    regs = [f"{ABI_NAMES[i]:>4}={hart.get_x(i):016x}" for i in range(32)]
    lines += ["  ".join(regs[i : i + 4]) for i in range(0, 32, 4)]
    csrs = []
    for name in DUMP_CSRS:
        number = _core.CSRS.get(name)
        if number is not None:
            csrs.append(f"{name:>8}={hart.get_csr(number):016x}")
    lines += ["  ".join(csrs[i : i + 4]) for i in range(0, len(csrs), 4)]
    return "\n".join(lines)
