"""What an SBI extension module provides: handlers of (vCPU, VM, function id).

A handler returns (error, value) for a0/a1, a :class:`Legacy` reply for a v0.1
call (a0 only), an :class:`~avmm.runtime.exits.Exit` that needs the caller
(SRST), or None when nothing is answered (the hart stopped or suspended).
Each extension module exports ``EXTENSION = {eid: handler}`` for the table in
:mod:`avmm.sbi.dispatch`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from avmm.runtime.exits import Exit
from avmm.sbi.spec import ERR_NOT_SUPPORTED, XLEN_MASK

if TYPE_CHECKING:
    from avmm.sbi.ports import SbiVcpu, SbiVm


@attrs.frozen
class Legacy:
    """A legacy (v0.1) reply: ``value`` in a0; ``error`` as published."""

    value: int
    error: int = 0


Result = tuple[int, int] | Legacy | Exit | None
Handler = Callable[["SbiVcpu", "SbiVm", int], Result]

# The reply to a function or extension avmm does not offer. Compared by identity:
# the dispatcher counts these per extension (an offered call may still answer
# ERR_NOT_SUPPORTED, e.g. SRST with a vendor reset type, and is not counted).
NOT_SUPPORTED: tuple[int, int] = (ERR_NOT_SUPPORTED, 0)


def arg(vcpu: SbiVcpu, n: int) -> int:
    """Argument register a<n> of the call."""
    return vcpu.hart.get_x(10 + n)


def targets(vm: SbiVm, mask: int, base: int) -> list[SbiVcpu] | None:
    """vCPUs named by (hart_mask, hart_mask_base); None if one does not exist."""
    vcpus = vm.vcpus
    if base == XLEN_MASK:
        return list(vcpus)
    out = []
    while mask:
        bit = mask & -mask
        hartid = base + bit.bit_length() - 1
        if hartid >= len(vcpus):
            return None
        out.append(vcpus[hartid])
        mask ^= bit
    return out
