"""SBI TIME (0x54494D45): set_timer (KVM's vcpu_sbi_replace.c, the TIME part)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.spec import EXT_TIME, SUCCESS, XLEN_MASK

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def set_timer(vcpu: SbiVcpu, when: int) -> None:
    # STIP follows the comparator: pending while time >= stimecmp, so a new
    # deadline in the future clears it, as the spec asks.
    vcpu.hart.stimecmp = when & XLEN_MASK
    vcpu.timer_changed()


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid != 0:
        return NOT_SUPPORTED
    set_timer(vcpu, arg(vcpu, 0))
    return SUCCESS, 0


EXTENSION: dict[int, Handler] = {EXT_TIME: handle}
