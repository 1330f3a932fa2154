"""The SBI the VMM serves to direct-boot guests (KVM's ``vcpu_sbi*.c`` role).

With ``Machine.sbi_in_vmm`` set, an ``ecall`` from S/U that would trap to
M-mode leaves the core as ``EXIT_ECALL`` with the pc already past it.
:func:`handle_ecall` reads a7 (extension id), a6 (function id) and a0..a5,
dispatches through a table keyed by extension id, and writes a0 (error) and
a1 (value). Legacy v0.1 calls return a single value in a0. Anything unknown
answers ``SBI_ERR_NOT_SUPPORTED``, is counted per extension, and the guest
goes on.

Facts from the RISC-V SBI specification (v1.0 / v2.0 for DBCN): extension
ids BASE 0x10, TIME 0x54494D45, IPI 0x735049, RFENCE 0x52464E43, HSM
0x48534D, SRST 0x53525354, DBCN 0x4442434E, PMU 0x504D55 (not offered),
legacy 0x00..0x08; error codes 0, -1 .. -8 as below; a hart mask base of
-1 means "every hart".
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from avmm import _core
from avmm.runtime.exits import Exit, SystemEvent, SystemEventKind
from avmm.version import __version__

if TYPE_CHECKING:
    from avmm.runtime.vcpu import Vcpu
    from avmm.runtime.vm import Vm

XLEN_MASK = (1 << 64) - 1

# Extension ids
EXT_BASE = 0x10
EXT_TIME = 0x54494D45
EXT_IPI = 0x735049
EXT_RFENCE = 0x52464E43
EXT_HSM = 0x48534D
EXT_SRST = 0x53525354
EXT_DBCN = 0x4442434E
EXT_PMU = 0x504D55
LEGACY_SET_TIMER = 0x00
LEGACY_CONSOLE_PUTCHAR = 0x01
LEGACY_CONSOLE_GETCHAR = 0x02
LEGACY_CLEAR_IPI = 0x03
LEGACY_SEND_IPI = 0x04
LEGACY_REMOTE_FENCE_I = 0x05
LEGACY_REMOTE_SFENCE_VMA = 0x06
LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07
LEGACY_SHUTDOWN = 0x08

# Error codes
SUCCESS = 0
ERR_FAILED = -1
ERR_NOT_SUPPORTED = -2
ERR_INVALID_PARAM = -3
ERR_DENIED = -4
ERR_INVALID_ADDRESS = -5
ERR_ALREADY_AVAILABLE = -6
ERR_ALREADY_STARTED = -7
ERR_ALREADY_STOPPED = -8

SPEC_VERSION = 0x0100_0000  # 1.0: major in bits 30:24, minor in 23:0
# Implementation id: the registered ids (0 BBL, 1 OpenSBI, 2 Xvisor, 3 KVM, 4 RustSBI,
# ... 11 bhyve) name other projects, and guests may apply their quirks. avmm is none
# of them, so it reports "avmm" in ASCII, recognisable in a guest's boot log.
IMPL_ID = 0x61766D6D


def _impl_version() -> int:
    major, minor, patch = (int(p) for p in __version__.split(".")[:3])
    return major << 16 | minor << 8 | patch


# DBCN: the most bytes one console_write/read moves (the spec allows partial transfers).
DBCN_MAX = 4096
# RFENCE: above this many pages a ranged flush becomes a whole-VMID/ASID flush.
RFENCE_MAX_PAGES = 64
PAGE = 4096

# What OpenSBI v1.x delegates (lib/sbi/sbi_hart.c, delegate_traps): interrupts
# SSIP|STIP|SEIP; exceptions misaligned fetch, breakpoint, ecall from U and the
# three page faults.
OPENSBI_MIDELEG = _core.MIP_SSIP | _core.MIP_STIP | _core.MIP_SEIP
OPENSBI_MEDELEG = (1 << 0) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
# OpenSBI then redirects the remaining S/U exceptions (instruction access fault,
# illegal instruction, misaligned and access faults of loads and stores) to S-mode
# in software. avmm runs no M-mode code in direct boot, so it delegates those too:
# the guest sees the same traps, and only the S-mode ecall (9) still reaches the VMM.
DIRECT_BOOT_MEDELEG = (
    OPENSBI_MEDELEG | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7)
)
MENVCFG_STCE = 1 << 63
SSTATUS_SIE = 1 << 1


class HsmState(enum.IntEnum):
    """SBI HSM hart states (values as ``hart_get_status`` returns them)."""

    STARTED = 0
    STOPPED = 1
    START_PENDING = 2
    STOP_PENDING = 3
    SUSPENDED = 4
    SUSPEND_PENDING = 5
    RESUME_PENDING = 6


@attrs.frozen
class TlbFlush:
    """A remote fence request, applied before the target vCPU next runs."""

    kind: str  # "fence.i", "vma" or "vma_asid"
    start: int = 0
    size: int = 0  # 0 (with start 0) or 2**64-1: the whole address space
    asid: int = 0

    @property
    def everything(self) -> bool:
        return (self.start == 0 and self.size == 0) or self.size == XLEN_MASK


# Extension ids are chosen by the guest: past this many distinct unknown ids, further
# ones are counted together under OTHER_EXTENSION, so a guest cannot grow the counters.
MAX_UNKNOWN_EXTENSIONS = 16
OTHER_EXTENSION = -1


@attrs.define
class SbiCounters:
    """Per-VM SBI counters (plain ints; read when scraped)."""

    calls: dict[int, int] = attrs.Factory(dict)  # extension id -> calls
    not_supported: dict[int, int] = attrs.Factory(dict)  # extension id -> unknown calls

    def count(self, table: dict[int, int], eid: int) -> None:
        if eid not in table and eid not in EXTENSIONS:
            unknown = sum(1 for key in table if key not in EXTENSIONS)
            if unknown >= MAX_UNKNOWN_EXTENSIONS:
                eid = OTHER_EXTENSION
        table[eid] = table.get(eid, 0) + 1


# ------------------------------------------------------------ direct-boot state


def csr(name: str) -> int:
    return _core.CSRS[name]


def enter_supervisor(vcpu: Vcpu, pc: int, a0: int, a1: int) -> None:
    """Put a hart where SBI firmware leaves it for the kernel: S-mode at ``pc``.

    a0/a1 as given (hartid and DTB or HSM opaque), satp = 0, sstatus.SIE = 0,
    the delegation OpenSBI sets up (plus the traps it would redirect),
    mcounteren = scounteren = 7 (cycle, time, instret readable from S and U;
    glibc's vDSO reads ``time``), and menvcfg.STCE when the VM offers Sstc.
    """
    hart = vcpu.hart
    hart.reset(pc, _core.PRIV_S)
    hart.set_x(10, a0)
    hart.set_x(11, a1)
    hart.set_csr(csr("medeleg"), DIRECT_BOOT_MEDELEG)
    hart.set_csr(csr("mideleg"), OPENSBI_MIDELEG)
    hart.set_csr(csr("mcounteren"), 7)
    hart.set_csr(csr("scounteren"), 7)
    hart.set_csr(csr("satp"), 0)
    hart.set_csr(csr("sstatus"), hart.get_csr(csr("sstatus")) & ~SSTATUS_SIE)
    if vcpu.vm.machine.sstc:
        hart.set_csr(csr("menvcfg"), hart.get_csr(csr("menvcfg")) | MENVCFG_STCE)


def prepare_direct_boot(vm: Vm, *, entry: int, dtb: int, boot_hart: int = 0) -> None:
    """Direct boot: the VMM serves SBI; only ``boot_hart`` runs, the others wait
    in HSM STOPPED until the guest starts them (as KVM does)."""
    vm.machine.sbi_in_vmm = True
    for vcpu in vm.vcpus:
        if vcpu.index == boot_hart:
            enter_supervisor(vcpu, entry, vcpu.index, dtb)
            vcpu.set_hsm_state(HsmState.STARTED)
        else:
            vcpu.set_hsm_state(HsmState.STOPPED)


# ----------------------------------------------------------------- dispatch

Result = tuple[int, int] | Exit | None
Handler = Callable[["Vcpu", int], Result]


def _arg(vcpu: Vcpu, n: int) -> int:
    return vcpu.hart.get_x(10 + n)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def handle_ecall(vcpu: Vcpu) -> Exit | None:
    """Serve the SBI call in a0..a7 of ``vcpu``; return an Exit only for SRST."""
    hart = vcpu.hart
    eid = hart.get_x(17)
    fid = hart.get_x(16)
    counters = vcpu.vm.sbi_counters
    counters.count(counters.calls, eid)
    handler = EXTENSIONS.get(eid)
    result = _not_supported(vcpu, eid) if handler is None else handler(vcpu, fid)
    vcpu.counters.sbi_calls += 1
    if isinstance(result, tuple):
        error, value = result
        hart.set_x(10, error & XLEN_MASK)
        hart.set_x(11, value & XLEN_MASK)
        vcpu.vm.publish_sbi(vcpu, eid, fid, error)
        return None
    return result


def _not_supported(vcpu: Vcpu, eid: int) -> tuple[int, int]:
    counters = vcpu.vm.sbi_counters
    counters.count(counters.not_supported, eid)
    return ERR_NOT_SUPPORTED, 0


# --------------------------------------------------------------- extensions


def _base(vcpu: Vcpu, fid: int) -> Result:
    hart = vcpu.hart
    if fid == 0:
        return SUCCESS, SPEC_VERSION
    if fid == 1:
        return SUCCESS, IMPL_ID
    if fid == 2:
        return SUCCESS, _impl_version()
    if fid == 3:
        return SUCCESS, int(_arg(vcpu, 0) in EXTENSIONS)
    if fid in (4, 5, 6):
        name = ("mvendorid", "marchid", "mimpid")[fid - 4]
        return SUCCESS, hart.get_csr(csr(name))
    return _not_supported(vcpu, EXT_BASE)


def _time(vcpu: Vcpu, fid: int) -> Result:
    if fid != 0:
        return _not_supported(vcpu, EXT_TIME)
    _set_timer(vcpu, _arg(vcpu, 0))
    return SUCCESS, 0


def _set_timer(vcpu: Vcpu, when: int) -> None:
    # STIP follows the comparator: pending while time >= stimecmp, so a new
    # deadline in the future clears it, as the spec asks.
    vcpu.hart.stimecmp = when & XLEN_MASK
    vcpu.timer_changed()


def _targets(vcpu: Vcpu, mask: int, base: int) -> list[Vcpu] | None:
    """vCPUs named by (hart_mask, hart_mask_base); None if one does not exist."""
    vcpus = vcpu.vm.vcpus
    if base == XLEN_MASK:
        return list(vcpus)
    out = []
    while mask:
        bit = mask & -mask
        hartid = base + bit.bit_length() - 1
        if hartid >= len(vcpus):
            return None
        out.append(vcpus[hartid])
        mask ^= bit
    return out


def _send_ipi(vcpu: Vcpu, targets: list[Vcpu]) -> None:
    for target in targets:
        target.hart.post_mip(_core.MIP_SSIP)
        target.counters.ipis += 1
        target.kick()
    others = [t for t in targets if t is not vcpu]
    if others:
        vcpu.vm.directed_yield(others[0], sender=vcpu)


def _ipi(vcpu: Vcpu, fid: int) -> Result:
    if fid != 0:
        return _not_supported(vcpu, EXT_IPI)
    targets = _targets(vcpu, _arg(vcpu, 0), _arg(vcpu, 1))
    if targets is None:
        return ERR_INVALID_PARAM, 0
    _send_ipi(vcpu, targets)
    return SUCCESS, 0


def _remote_fence(targets: list[Vcpu], flush: TlbFlush) -> None:
    for target in targets:
        target.request_tlb_flush(flush)


def _rfence(vcpu: Vcpu, fid: int) -> Result:
    if fid > 2:  # the hfence.* functions need the H extension
        return _not_supported(vcpu, EXT_RFENCE)
    targets = _targets(vcpu, _arg(vcpu, 0), _arg(vcpu, 1))
    if targets is None:
        return ERR_INVALID_PARAM, 0
    if fid == 0:
        flush = TlbFlush("fence.i")
    elif fid == 1:
        flush = TlbFlush("vma", _arg(vcpu, 2), _arg(vcpu, 3))
    else:
        flush = TlbFlush("vma_asid", _arg(vcpu, 2), _arg(vcpu, 3), _arg(vcpu, 4))
    _remote_fence(targets, flush)
    return SUCCESS, 0


def _valid_entry(vcpu: Vcpu, addr: int) -> bool:
    # S-mode starts with satp = 0: the address is physical and must be RAM.
    return any(s.base <= addr < s.end for s in vcpu.vm.memory_slots)


def _hsm(vcpu: Vcpu, fid: int) -> Result:
    vcpus = vcpu.vm.vcpus
    if fid == 0:  # hart_start(hartid, start_addr, opaque)
        hartid, addr, opaque = _arg(vcpu, 0), _arg(vcpu, 1), _arg(vcpu, 2)
        if hartid >= len(vcpus):
            return ERR_INVALID_PARAM, 0
        target = vcpus[hartid]
        if target.hsm_state is not HsmState.STOPPED:
            return ERR_ALREADY_AVAILABLE, 0
        if not _valid_entry(vcpu, addr):
            return ERR_INVALID_ADDRESS, 0
        target.hsm_start(addr, opaque)
        return SUCCESS, 0
    if fid == 1:  # hart_stop(): does not return on success
        vcpu.hsm_stop()
        return None
    if fid == 2:  # hart_get_status(hartid)
        hartid = _arg(vcpu, 0)
        if hartid >= len(vcpus):
            return ERR_INVALID_PARAM, 0
        return SUCCESS, int(vcpus[hartid].hsm_state)
    if fid == 3:  # hart_suspend(suspend_type, resume_addr, opaque)
        kind, addr, opaque = _arg(vcpu, 0) & 0xFFFF_FFFF, _arg(vcpu, 1), _arg(vcpu, 2)
        retentive = kind == 0 or 0x1000_0000 <= kind <= 0x7FFF_FFFF
        non_retentive = kind == 0x8000_0000 or kind >= 0x9000_0000
        if not (retentive or non_retentive) or _arg(vcpu, 0) >> 32:
            return ERR_INVALID_PARAM, 0
        if non_retentive and not _valid_entry(vcpu, addr):
            return ERR_INVALID_ADDRESS, 0
        # A retentive suspend returns SUCCESS when the hart wakes: set it now.
        vcpu.hart.set_x(10, SUCCESS)
        vcpu.hart.set_x(11, 0)
        vcpu.hsm_suspend(None if retentive else (addr, opaque))
        return None
    return _not_supported(vcpu, EXT_HSM)


def _srst(vcpu: Vcpu, fid: int) -> Result:
    if fid != 0:
        return _not_supported(vcpu, EXT_SRST)
    kind, reason = _arg(vcpu, 0), _arg(vcpu, 1)
    if kind > 2 and not 0xF000_0000 <= kind <= 0xFFFF_FFFF:
        return ERR_INVALID_PARAM, 0
    if 2 <= reason < 0xE000_0000 or reason > 0xFFFF_FFFF:
        return ERR_INVALID_PARAM, 0
    if kind > 2:  # vendor-specific reset types: not offered
        return ERR_NOT_SUPPORTED, 0
    code = 0 if reason == 0 else 1  # 1 = "system failure"
    event = SystemEventKind.SHUTDOWN if kind == 0 else SystemEventKind.REBOOT
    return SystemEvent(vcpu.index, event, code)


def _dbcn_address(vcpu: Vcpu, lo: int, hi: int, length: int) -> int | None:
    if hi != 0:
        return None
    mem = vcpu.vm.guest_memory
    return lo if mem.contains(lo, length) else None


def _dbcn(vcpu: Vcpu, fid: int) -> Result:
    vm = vcpu.vm
    if fid == 0:  # console_write(num_bytes, base_addr_lo, base_addr_hi)
        n = min(_arg(vcpu, 0), DBCN_MAX)
        addr = _dbcn_address(vcpu, _arg(vcpu, 1), _arg(vcpu, 2), n)
        if addr is None:
            return ERR_INVALID_PARAM, 0
        vm.console_write(vm.guest_memory.read(addr, n))
        return SUCCESS, n
    if fid == 1:  # console_read(num_bytes, base_addr_lo, base_addr_hi)
        n = min(_arg(vcpu, 0), DBCN_MAX)
        addr = _dbcn_address(vcpu, _arg(vcpu, 1), _arg(vcpu, 2), n)
        if addr is None:
            return ERR_INVALID_PARAM, 0
        data = vm.console_read(n)
        vm.guest_memory.write(addr, data)
        return SUCCESS, len(data)
    if fid == 2:  # console_write_byte(byte)
        vm.console_write(bytes([_arg(vcpu, 0) & 0xFF]))
        return SUCCESS, 0
    return _not_supported(vcpu, EXT_DBCN)


# ------------------------------------------------------------- legacy (v0.1)


def _legacy_return(vcpu: Vcpu, value: int) -> None:
    vcpu.hart.set_x(10, value & XLEN_MASK)


def _legacy_mask(vcpu: Vcpu, pointer: int) -> list[Vcpu] | None:
    """Targets of a legacy call: the mask is read through a guest *pointer*
    (virtual, translated as the hart would load it); NULL means every hart."""
    if pointer == 0:
        return list(vcpu.vm.vcpus)
    paddr = vcpu.hart.translate(pointer, 0)
    if paddr is None or not vcpu.vm.guest_memory.contains(paddr, 8):
        return None
    mask = vcpu.vm.guest_memory.read_u64(paddr)
    return _targets(vcpu, mask, 0)


def _legacy(eid: int) -> Handler:
    def handler(vcpu: Vcpu, fid: int) -> Result:
        vm = vcpu.vm
        if eid == LEGACY_SET_TIMER:
            _set_timer(vcpu, _arg(vcpu, 0))
            _legacy_return(vcpu, 0)
        elif eid == LEGACY_CONSOLE_PUTCHAR:
            vm.console_write(bytes([_arg(vcpu, 0) & 0xFF]))
            _legacy_return(vcpu, 0)
        elif eid == LEGACY_CONSOLE_GETCHAR:
            data = vm.console_read(1)
            _legacy_return(vcpu, data[0] if data else -1)
        elif eid == LEGACY_CLEAR_IPI:
            mip = csr("mip")
            vcpu.hart.set_csr(mip, vcpu.hart.get_csr(mip) & ~_core.MIP_SSIP)
            _legacy_return(vcpu, 0)
        elif eid == LEGACY_SHUTDOWN:
            return SystemEvent(vcpu.index, SystemEventKind.SHUTDOWN, 0)
        else:
            targets = _legacy_mask(vcpu, _arg(vcpu, 0))
            if targets is None:
                _legacy_return(vcpu, ERR_INVALID_PARAM)
                return None
            if eid == LEGACY_SEND_IPI:
                _send_ipi(vcpu, targets)
            elif eid == LEGACY_REMOTE_FENCE_I:
                _remote_fence(targets, TlbFlush("fence.i"))
            elif eid == LEGACY_REMOTE_SFENCE_VMA:
                _remote_fence(targets, TlbFlush("vma", _arg(vcpu, 1), _arg(vcpu, 2)))
            else:
                flush = TlbFlush("vma_asid", _arg(vcpu, 1), _arg(vcpu, 2), _arg(vcpu, 3))
                _remote_fence(targets, flush)
            _legacy_return(vcpu, 0)
        vm.publish_sbi(vcpu, eid, fid, 0)
        return None

    return handler


EXTENSIONS: dict[int, Handler] = {
    EXT_BASE: _base,
    EXT_TIME: _time,
    EXT_IPI: _ipi,
    EXT_RFENCE: _rfence,
    EXT_HSM: _hsm,
    EXT_SRST: _srst,
    EXT_DBCN: _dbcn,
    **{eid: _legacy(eid) for eid in range(LEGACY_SET_TIMER, LEGACY_SHUTDOWN + 1)},
}
