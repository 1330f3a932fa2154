"""SBI v0.1 legacy calls (0x00..0x08): a single value in a0, hart masks by pointer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm import _core
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.sbi.ext import Handler, Legacy, Result, arg, targets
from avmm.sbi.ipi import send_ipi
from avmm.sbi.rfence import remote_fence
from avmm.sbi.spec import (
    ERR_INVALID_PARAM,
    LEGACY,
    LEGACY_CLEAR_IPI,
    LEGACY_CONSOLE_GETCHAR,
    LEGACY_CONSOLE_PUTCHAR,
    LEGACY_REMOTE_FENCE_I,
    LEGACY_REMOTE_SFENCE_VMA,
    LEGACY_SEND_IPI,
    LEGACY_SET_TIMER,
    LEGACY_SHUTDOWN,
    TlbFlush,
)
from avmm.sbi.time import set_timer

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


_MIP = _core.CSRS["mip"]


def _mask(vcpu: SbiVcpu, vm: SbiVm, pointer: int) -> list[SbiVcpu] | None:
    """Targets of a legacy call: the mask is read through a guest *pointer*
    (virtual, translated as the hart would load it); NULL means every hart."""
    if pointer == 0:
        return list(vm.vcpus)
    paddr = vcpu.hart.translate(pointer, 0)
    if paddr is None or not vm.guest_memory.contains(paddr, 8):
        return None
    return targets(vm, vm.guest_memory.read_u64(paddr), 0)


def _handler(eid: int) -> Handler:
    def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
        if eid == LEGACY_SET_TIMER:
            set_timer(vcpu, arg(vcpu, 0))
            return Legacy(0)
        if eid == LEGACY_CONSOLE_PUTCHAR:
            vm.sbi_console.write(bytes([arg(vcpu, 0) & 0xFF]))
            return Legacy(0)
        if eid == LEGACY_CONSOLE_GETCHAR:
            data = vm.sbi_console.read(1)
            return Legacy(data[0] if data else -1)
        if eid == LEGACY_CLEAR_IPI:
            vcpu.hart.set_csr(_MIP, vcpu.hart.get_csr(_MIP) & ~_core.MIP_SSIP)
            return Legacy(0)
        if eid == LEGACY_SHUTDOWN:
            return SystemEvent(vcpu.index, SystemEventKind.SHUTDOWN, 0)
        to = _mask(vcpu, vm, arg(vcpu, 0))
        if to is None:
            return Legacy(ERR_INVALID_PARAM, ERR_INVALID_PARAM)
        if eid == LEGACY_SEND_IPI:
            send_ipi(vcpu, to)
        elif eid == LEGACY_REMOTE_FENCE_I:
            remote_fence(to, TlbFlush("fence.i"))
        elif eid == LEGACY_REMOTE_SFENCE_VMA:
            remote_fence(to, TlbFlush("vma", arg(vcpu, 1), arg(vcpu, 2)))
        else:
            remote_fence(to, TlbFlush("vma_asid", arg(vcpu, 1), arg(vcpu, 2), arg(vcpu, 3)))
        return Legacy(0)

    return handle


EXTENSION: dict[int, Handler] = {eid: _handler(eid) for eid in LEGACY}
