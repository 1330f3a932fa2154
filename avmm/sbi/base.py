"""SBI BASE (0x10): spec and implementation versions, probing (KVM's vcpu_sbi_base.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm import _core
from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.para import PARA_VERSION
from avmm.sbi.spec import EXT_AVMM, EXT_BASE, IMPL_ID, OFFERED, SPEC_VERSION, SUCCESS
from avmm.version import __version__

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


_MACHINE_IDS = ("mvendorid", "marchid", "mimpid")


def impl_version() -> int:
    major, minor, patch = (int(p) for p in __version__.split(".")[:3])
    return major << 16 | minor << 8 | patch


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid == 0:
        return SUCCESS, SPEC_VERSION
    if fid == 1:
        return SUCCESS, IMPL_ID
    if fid == 2:
        return SUCCESS, impl_version()
    if fid == 3:
        eid = arg(vcpu, 0)
        # avmm's own extension answers with its version (the spec allows an
        # extension-specific non-zero value); the others with 1.
        return SUCCESS, PARA_VERSION if eid == EXT_AVMM else int(eid in OFFERED)
    if fid in (4, 5, 6):
        return SUCCESS, vcpu.hart.get_csr(_core.CSRS[_MACHINE_IDS[fid - 4]])
    return NOT_SUPPORTED


EXTENSION: dict[int, Handler] = {EXT_BASE: handle}
