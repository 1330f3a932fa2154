"""SBI HSM (0x48534D): hart start, stop, status and suspend (SMP bring-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.spec import (
    ERR_ALREADY_AVAILABLE,
    ERR_INVALID_ADDRESS,
    ERR_INVALID_PARAM,
    EXT_HSM,
    SUCCESS,
    HsmState,
)

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def _valid_entry(vm: SbiVm, addr: int) -> bool:
    # S-mode starts with satp = 0: the address is physical and must be RAM.
    return vm.guest_memory.contains(addr, 1)


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    vcpus = vm.vcpus
    if fid == 0:  # hart_start(hartid, start_addr, opaque)
        hartid, addr, opaque = arg(vcpu, 0), arg(vcpu, 1), arg(vcpu, 2)
        if hartid >= len(vcpus):
            return ERR_INVALID_PARAM, 0
        target = vcpus[hartid]
        if target.hsm_state is not HsmState.STOPPED:
            return ERR_ALREADY_AVAILABLE, 0
        if not _valid_entry(vm, addr):
            return ERR_INVALID_ADDRESS, 0
        target.hsm_start(addr, opaque)
        return SUCCESS, 0
    if fid == 1:  # hart_stop(): does not return on success
        vcpu.hsm_stop()
        return None
    if fid == 2:  # hart_get_status(hartid)
        hartid = arg(vcpu, 0)
        if hartid >= len(vcpus):
            return ERR_INVALID_PARAM, 0
        return SUCCESS, int(vcpus[hartid].hsm_state)
    if fid == 3:  # hart_suspend(suspend_type, resume_addr, opaque)
        kind, addr, opaque = arg(vcpu, 0) & 0xFFFF_FFFF, arg(vcpu, 1), arg(vcpu, 2)
        retentive = kind == 0 or 0x1000_0000 <= kind <= 0x7FFF_FFFF
        non_retentive = kind == 0x8000_0000 or kind >= 0x9000_0000
        if not (retentive or non_retentive) or arg(vcpu, 0) >> 32:
            return ERR_INVALID_PARAM, 0
        if non_retentive and not _valid_entry(vm, addr):
            return ERR_INVALID_ADDRESS, 0
        # A retentive suspend returns SUCCESS when the hart wakes: set it now.
        vcpu.hart.set_x(10, SUCCESS)
        vcpu.hart.set_x(11, 0)
        vcpu.hsm_suspend(None if retentive else (addr, opaque))
        return None
    return NOT_SUPPORTED


EXTENSION: dict[int, Handler] = {EXT_HSM: handle}
