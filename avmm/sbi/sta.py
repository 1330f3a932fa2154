"""SBI STA (0x535441, SBI 2.0): steal-time accounting (KVM's ``vcpu_sbi_sta.c``).

``set_shmem(lo, hi, flags)`` registers the calling vCPU's 64-byte record, or
turns reporting off with all-ones in both words. The VMM then keeps the
record's ``steal`` (nanoseconds of guest time the vCPU was runnable but had
no modelled pCPU, :mod:`avmm.runtime.steal`) and ``preempted`` up to date
(:mod:`.para`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.spec import (
    ERR_INVALID_ADDRESS,
    ERR_INVALID_PARAM,
    EXT_STA,
    SHMEM_DISABLE,
    STA_SHMEM_ALIGN,
    STA_SHMEM_SIZE,
    SUCCESS,
)

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def set_shmem(vcpu: SbiVcpu, vm: SbiVm, lo: int, hi: int, flags: int) -> Result:
    """The spec's checks, in its order of errors: flags and alignment are bad
    parameters, an address that is not writable RAM is a bad address."""
    if flags != 0:
        return ERR_INVALID_PARAM, 0
    if lo == SHMEM_DISABLE and hi == SHMEM_DISABLE:
        vcpu.para.sta_disable()
        return SUCCESS, 0
    if lo % STA_SHMEM_ALIGN:
        return ERR_INVALID_PARAM, 0
    # RV64: the high word is the address above bit 63, beyond any RAM of the board.
    if hi != 0 or not vm.guest_memory.contains(lo, STA_SHMEM_SIZE):
        return ERR_INVALID_ADDRESS, 0
    vcpu.para.sta_register(vm.guest_memory, lo, vcpu.steal_ns)
    return SUCCESS, 0


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid == 0:  # steal_time_set_shmem(shmem_phys_lo, shmem_phys_hi, flags)
        return set_shmem(vcpu, vm, arg(vcpu, 0), arg(vcpu, 1), arg(vcpu, 2))
    return NOT_SUPPORTED


EXTENSION: dict[int, Handler] = {EXT_STA: handle}
