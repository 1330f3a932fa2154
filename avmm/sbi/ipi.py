"""SBI IPI (0x735049): send_ipi sets SSIP on the targets; the first other one runs next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from avmm import _core
from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg, targets
from avmm.sbi.spec import ERR_INVALID_PARAM, EXT_IPI, SUCCESS

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def send_ipi(vcpu: SbiVcpu, to: Sequence[SbiVcpu]) -> None:
    for target in to:
        target.hart.post_mip(_core.MIP_SSIP)
        target.counters.ipis += 1
        target.kick()
    others = [t for t in to if t is not vcpu]
    if others:
        vcpu.directed_yield(others[0])


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid != 0:
        return NOT_SUPPORTED
    to = targets(vm, arg(vcpu, 0), arg(vcpu, 1))
    if to is None:
        return ERR_INVALID_PARAM, 0
    send_ipi(vcpu, to)
    return SUCCESS, 0


EXTENSION: dict[int, Handler] = {EXT_IPI: handle}
