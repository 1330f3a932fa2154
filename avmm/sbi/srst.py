"""SBI SRST (0x53525354): system reset becomes a SystemEvent exit for the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.spec import ERR_INVALID_PARAM, ERR_NOT_SUPPORTED, EXT_SRST

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid != 0:
        return NOT_SUPPORTED
    kind, reason = arg(vcpu, 0), arg(vcpu, 1)
    if kind > 2 and not 0xF000_0000 <= kind <= 0xFFFF_FFFF:
        return ERR_INVALID_PARAM, 0
    if 2 <= reason < 0xE000_0000 or reason > 0xFFFF_FFFF:
        return ERR_INVALID_PARAM, 0
    if kind > 2:  # vendor-specific reset types: not offered (not an unknown call)
        return ERR_NOT_SUPPORTED, 0
    code = 0 if reason == 0 else 1  # 1 = "system failure"
    event = SystemEventKind.SHUTDOWN if kind == 0 else SystemEventKind.REBOOT
    return SystemEvent(vcpu.index, event, code)


EXTENSION: dict[int, Handler] = {EXT_SRST: handle}
