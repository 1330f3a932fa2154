"""avmm's own SBI extension (0x0A766D6D, firmware range): a per-vCPU para-state page.

Modelled on KVM's first paravirtual interface, where a guest handed the host
the address of a per-vCPU descriptor page: the host checked that it was a
page of guest memory, read the guest's API version and record size, wrote
back its own version and a return code, and refused a guest newer than
itself. Here the page is registered with an SBI call instead of an MSR, and
the VMM keeps it filled (:mod:`.para`) with what the vCPU cannot see from
inside: the pCPU it runs on, its VM's VMID and generation, its exits, slices
and steal time. ``yield_to`` passes a "run vCPU n next" hint to the
scheduler's directed yield. README "The avmm SBI extension" is the spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.constants import PAGE_SIZE
from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.para import PARA_GUEST_VERSION, PARA_RECORD_SIZE, PARA_SIZE, PARA_VERSION
from avmm.sbi.spec import (
    ERR_ALREADY_AVAILABLE,
    ERR_INVALID_ADDRESS,
    ERR_INVALID_PARAM,
    ERR_NO_SHMEM,
    ERR_NOT_SUPPORTED,
    EXT_AVMM,
    SUCCESS,
    HsmState,
)

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm

FID_GET_VERSION = 0
FID_REGISTER = 1
FID_DEREGISTER = 2
FID_YIELD_TO = 3


def register(vcpu: SbiVcpu, vm: SbiVm, lo: int, hi: int, flags: int) -> Result:
    """Checks of the call first (nothing written), then the handshake in the page."""
    if flags != 0 or lo % PAGE_SIZE:
        return ERR_INVALID_PARAM, 0
    mem = vm.guest_memory
    if hi != 0 or not mem.contains(lo, PAGE_SIZE):
        return ERR_INVALID_ADDRESS, 0
    para = vcpu.para
    if para.page is not None:
        return ERR_ALREADY_AVAILABLE, 0
    guest_version = mem.read_u32(lo + PARA_GUEST_VERSION)
    size = mem.read_u32(lo + PARA_SIZE)
    if not 1 <= guest_version <= PARA_VERSION:
        error = ERR_NOT_SUPPORTED  # a newer guest: it learns our version from the record
    elif not PARA_RECORD_SIZE <= size <= PAGE_SIZE:
        error = ERR_INVALID_PARAM
    else:
        para.page_register(mem, lo, vcpu.para_info())
        return SUCCESS, PARA_VERSION
    para.page_refuse(mem, lo, error)
    return error, PARA_VERSION


def yield_to(vcpu: SbiVcpu, vm: SbiVm, hartid: int) -> Result:
    """Ask the scheduler to run ``hartid`` next; value 1 if the hint was passed on."""
    vcpus = vm.vcpus
    if hartid >= len(vcpus) or hartid == vcpu.index:
        return ERR_INVALID_PARAM, 0
    target = vcpus[hartid]
    if target.hsm_state is not HsmState.STARTED or not vcpu.directed_yield(target):
        return SUCCESS, 0
    vcpu.para.yields += 1
    return SUCCESS, 1


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid == FID_GET_VERSION:
        return SUCCESS, PARA_VERSION
    if fid == FID_REGISTER:  # register(page_lo, page_hi, flags)
        return register(vcpu, vm, arg(vcpu, 0), arg(vcpu, 1), arg(vcpu, 2))
    if fid == FID_DEREGISTER:
        if vcpu.para.page is None:
            return ERR_NO_SHMEM, 0
        vcpu.para.page_deregister()
        return SUCCESS, 0
    if fid == FID_YIELD_TO:  # yield_to(hartid)
        return yield_to(vcpu, vm, arg(vcpu, 0))
    return NOT_SUPPORTED


EXTENSION: dict[int, Handler] = {EXT_AVMM: handle}
