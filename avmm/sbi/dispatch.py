"""The SBI the VMM serves to direct-boot guests (KVM's ``vcpu_sbi.c``).

With ``Machine.sbi_in_vmm`` set, an ``ecall`` from S/U that would trap to
M-mode leaves the core as ``EXIT_ECALL`` with the pc already past it.
:func:`handle_ecall` reads a7 (extension id) and a6 (function id), calls the
extension's handler from :data:`EXTENSIONS` (one module per extension, as
KVM's ``vcpu_sbi_*.c``), writes the reply into a0 (error) and a1 (value),
and tells the VM once (:meth:`SbiVm.sbi_done`), which counts and publishes
the call. Legacy v0.1 calls return a single value in a0. Anything unknown
answers ``SBI_ERR_NOT_SUPPORTED``, is counted per extension, and the guest
goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from avmm.runtime.exits import Exit
from avmm.sbi import base, dbcn, hsm, ipi, legacy, rfence, srst, sta, time, vendor
from avmm.sbi.ext import NOT_SUPPORTED, Handler, Legacy
from avmm.sbi.spec import OFFERED, XLEN_MASK

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


EXTENSIONS: dict[int, Handler] = {
    **base.EXTENSION,
    **time.EXTENSION,
    **ipi.EXTENSION,
    **rfence.EXTENSION,
    **hsm.EXTENSION,
    **srst.EXTENSION,
    **dbcn.EXTENSION,
    **sta.EXTENSION,
    **vendor.EXTENSION,
    **legacy.EXTENSION,
}

# Extension ids are chosen by the guest: past this many distinct unknown ids, further
# ones are counted together under OTHER_EXTENSION, so a guest cannot grow the counters.
MAX_UNKNOWN_EXTENSIONS = 16
OTHER_EXTENSION = -1


@attrs.define
class SbiCounters:
    """Per-VM SBI counters (plain ints; read when scraped)."""

    calls: dict[int, int] = attrs.Factory(dict)  # extension id -> calls
    not_supported: dict[int, int] = attrs.Factory(dict)  # extension id -> unknown calls
    # extension id -> offered calls answered with an error (a malformed call)
    errors: dict[int, int] = attrs.Factory(dict)

    def count(self, table: dict[int, int], eid: int) -> None:
        if eid not in table and eid not in OFFERED:
            unknown = sum(1 for key in table if key not in OFFERED)
            if unknown >= MAX_UNKNOWN_EXTENSIONS:
                eid = OTHER_EXTENSION
        table[eid] = table.get(eid, 0) + 1


def handle_ecall(vcpu: SbiVcpu, vm: SbiVm) -> Exit | None:
    """Serve the SBI call in a0..a7 of ``vcpu``; return an Exit only for SRST."""
    hart = vcpu.hart
    eid = hart.get_x(17)
    fid = hart.get_x(16)
    handler = EXTENSIONS.get(eid)
    result = NOT_SUPPORTED if handler is None else handler(vcpu, vm, fid)
    vcpu.counters.sbi_calls += 1
    if isinstance(result, tuple):
        error, value = result
        hart.set_x(10, error & XLEN_MASK)
        hart.set_x(11, value & XLEN_MASK)
        vm.sbi_done(vcpu.index, eid, fid, error, result is NOT_SUPPORTED)
        return None
    if isinstance(result, Legacy):
        hart.set_x(10, result.value & XLEN_MASK)
        vm.sbi_done(vcpu.index, eid, fid, result.error, False)
        return None
    vm.sbi_done(vcpu.index, eid, fid, None, False)  # nothing answered: an Exit, or None
    return result
