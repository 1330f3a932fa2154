"""SBI DBCN (0x4442434E, SBI 2.0): the debug console, through the VM's SBI console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avmm.sbi.ext import NOT_SUPPORTED, Handler, Result, arg
from avmm.sbi.spec import DBCN_MAX, ERR_INVALID_PARAM, EXT_DBCN, SUCCESS

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


def _buffer(vm: SbiVm, lo: int, hi: int, length: int) -> int | None:
    if hi != 0:
        return None
    return lo if vm.guest_memory.contains(lo, length) else None


def handle(vcpu: SbiVcpu, vm: SbiVm, fid: int) -> Result:
    if fid in (0, 1):  # console_write / console_read(num_bytes, base_addr_lo, base_addr_hi)
        n = min(arg(vcpu, 0), DBCN_MAX)
        addr = _buffer(vm, arg(vcpu, 1), arg(vcpu, 2), n)
        if addr is None:
            return ERR_INVALID_PARAM, 0
        if fid == 0:
            vm.sbi_console.write(vm.guest_memory.read(addr, n))
            return SUCCESS, n
        data = vm.sbi_console.read(n)
        vm.guest_memory.write(addr, data)
        return SUCCESS, len(data)
    if fid == 2:  # console_write_byte(byte)
        vm.sbi_console.write(bytes([arg(vcpu, 0) & 0xFF]))
        return SUCCESS, 0
    return NOT_SUPPORTED


EXTENSION: dict[int, Handler] = {EXT_DBCN: handle}
