"""SBI RFENCE (0x52464E43): remote fences become TLB-flush requests on the targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg, targets
from avmm.sbi.spec import ERR_INVALID_PARAM, EXT_RFENCE, SUCCESS, TlbFlush

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def remote_fence(to: Sequence[SbiVcpu], flush: TlbFlush) -> None:
    for target in to:
        target.request_tlb_flush(flush)


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid > 2:  # the hfence.* functions need the H extension
        return NOT_SUPPORTED
    to = targets(vm, arg(vcpu, 0), arg(vcpu, 1))
    if to is None:
        return ERR_INVALID_PARAM, 0
    if fid == 0:
        flush = TlbFlush("fence.i")
    elif fid == 1:
        flush = TlbFlush("vma", arg(vcpu, 2), arg(vcpu, 3))
    else:
        flush = TlbFlush("vma_asid", arg(vcpu, 2), arg(vcpu, 3), arg(vcpu, 4))
    remote_fence(to, flush)
    return SUCCESS, 0


EXTENSION: dict[int, Handler] = {EXT_RFENCE: handle}
