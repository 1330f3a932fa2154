"""Facts from the RISC-V SBI specification (v2.0), as avmm offers them.

Extension ids BASE 0x10, TIME 0x54494D45, IPI 0x735049, RFENCE 0x52464E43,
HSM 0x48534D, SRST 0x53525354, DBCN 0x4442434E, STA 0x535441, PMU 0x504D55
(not offered), legacy 0x00..0x08, and avmm's own firmware extension
0x0A766D6D (README "The avmm SBI extension"); error codes 0, -1 .. -9; a hart
mask base of -1 means "every hart". Also the two requests an SBI call leaves
on a vCPU: an HSM state and a remote TLB flush.
"""

from __future__ import annotations

import enum

import attrs

XLEN_MASK = (1 << 64) - 1

# Extension ids
EXT_BASE = 0x10
EXT_TIME = 0x54494D45
EXT_IPI = 0x735049
EXT_RFENCE = 0x52464E43
EXT_HSM = 0x48534D
EXT_SRST = 0x53525354
EXT_DBCN = 0x4442434E
EXT_PMU = 0x504D55
EXT_STA = 0x535441
# The firmware-specific range is 0x0A000000..0x0AFFFFFF, and the spec asks that the low
# 24 bits of such an id match the low 24 bits of the implementation id (IMPL_ID, "avmm"):
# 0x0A000000 | 0x766D6D. The vendor range (0x09xxxxxx) would have to match mvendorid,
# which is 0 on avmm's harts (no JEDEC id), so it is not avmm's to use.
EXT_AVMM = 0x0A76_6D6D
LEGACY_SET_TIMER = 0x00
LEGACY_CONSOLE_PUTCHAR = 0x01
LEGACY_CONSOLE_GETCHAR = 0x02
LEGACY_CLEAR_IPI = 0x03
LEGACY_SEND_IPI = 0x04
LEGACY_REMOTE_FENCE_I = 0x05
LEGACY_REMOTE_SFENCE_VMA = 0x06
LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07
LEGACY_SHUTDOWN = 0x08
LEGACY = tuple(range(LEGACY_SET_TIMER, LEGACY_SHUTDOWN + 1))

# What avmm offers (BASE probe_extension answers from this; the dispatch table has
# exactly these keys, which a test checks).
OFFERED = frozenset(
    {EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN, EXT_STA, EXT_AVMM}
    | set(LEGACY)
)

# Error codes
SUCCESS = 0
ERR_FAILED = -1
ERR_NOT_SUPPORTED = -2
ERR_INVALID_PARAM = -3
ERR_DENIED = -4
ERR_INVALID_ADDRESS = -5
ERR_ALREADY_AVAILABLE = -6
ERR_ALREADY_STARTED = -7
ERR_ALREADY_STOPPED = -8
ERR_NO_SHMEM = -9

# 2.0: major in bits 30:24, minor in 23:0. 2.0 is what DBCN and STA belong to, and
# Linux uses either only when BASE reports at least 2.0.
SPEC_VERSION = 0x0200_0000
# Implementation id: the registered ids (0 BBL, 1 OpenSBI, 2 Xvisor, 3 KVM, 4 RustSBI,
# ... 11 bhyve) name other projects, and guests may apply their quirks. avmm is none
# of them, so it reports "avmm" in ASCII, recognisable in a guest's boot log.
IMPL_ID = 0x61766D6D

# DBCN: the most bytes one console_write/read moves (the spec allows partial transfers).
DBCN_MAX = 4096
# STA: the shared record is 64 bytes at a 64-byte aligned physical address; all-ones in
# both address words turns reporting off.
STA_SHMEM_SIZE = 64
STA_SHMEM_ALIGN = 64
SHMEM_DISABLE = XLEN_MASK
# RFENCE: above this many pages a ranged flush becomes a whole-VMID/ASID flush.
RFENCE_MAX_PAGES = 64


class HsmState(enum.IntEnum):
    """SBI HSM hart states (values as ``hart_get_status`` returns them)."""

    STARTED = 0
    STOPPED = 1
    START_PENDING = 2
    STOP_PENDING = 3
    SUSPENDED = 4
    SUSPEND_PENDING = 5
    RESUME_PENDING = 6


@attrs.frozen
class TlbFlush:
    """A remote fence request, applied before the target vCPU next runs."""

    kind: str  # "fence.i", "vma" or "vma_asid"
    start: int = 0
    size: int = 0  # 0 (with start 0) or 2**64-1: the whole address space
    asid: int = 0

    @property
    def everything(self) -> bool:
        return (self.start == 0 and self.size == 0) or self.size == XLEN_MASK
