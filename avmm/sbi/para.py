"""A vCPU's paravirtual state: its STA steal-time record and its avmm para-state page.

Both are guest memory the guest registered through an SBI call (:mod:`.sta`,
:mod:`.vendor`) and the VMM keeps writing while the vCPU runs. This module
owns their layouts and the writes; the vCPU's run loop calls :meth:`VcpuPara.run`
when the vCPU gets a pCPU and :meth:`VcpuPara.preempt` when it loses one while
still runnable, the spec's two update points. Writes go through
:class:`~avmm.runtime.guestmem.GuestMemory` (bounds-checked, dirty-logged) to
addresses that were checked at registration, and the state is one address per
record per vCPU, so no guest call can make the VMM write outside RAM or keep
more than that.

:meth:`VcpuPara.state` and :meth:`VcpuPara.restore` carry the registrations as
plain data (for snapshots); :meth:`VcpuPara.reset` forgets them (reboot, HSM
start), as the spec asks that nothing is written while the guest cannot run.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import attrs

from avmm.constants import PAGE_SIZE
from avmm.errors import GuestMemoryError
from avmm.sbi.spec import STA_SHMEM_ALIGN, STA_SHMEM_SIZE

if TYPE_CHECKING:
    from avmm.runtime.guestmem import GuestMemory, Window

# ---------------------------------------------------------------- STA record
# sequence u32 @0 (odd while the VMM updates steal), flags u32 @4 (0),
# steal u64 @8 (ns), preempted u8 @16, padding to 64 bytes.
STA_SEQUENCE = 0
STA_STEAL = 8
STA_PREEMPTED = 16

# ------------------------------------------------------- avmm para-state page
# The host version avmm speaks; a guest asking for a newer one is refused.
PARA_VERSION = 1
# Bytes of the version-1 record; a guest must reserve at least this many (and the
# record lives in one 4 KiB page, so at most that).
PARA_RECORD_SIZE = 128
# Offsets (README "The avmm SBI extension" has the same table).
PARA_GUEST_VERSION = 0  # u32, guest
PARA_SIZE = 4  # u32, guest
PARA_HOST_VERSION = 8  # u32, host
PARA_RET = 12  # i32, host: 0 or the SBI error of the last register call
PARA_SEQUENCE = 16  # u32, host: odd while the fields below are written
# From here the host's fields: vcpu @20, pcpu @24, flags @28 (u32), then vmid @32,
# generation @40, exits @48, slices @56, steal_ns @64, yields @72 (u64); zeros to 128.
PARA_BODY = 20
_BODY = struct.Struct("<IIIQQQQQQ")
_HEADER = struct.Struct("<II")  # host_version, ret
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MASK32 = 0xFFFF_FFFF
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF


@attrs.frozen
class ParaInfo:
    """What a para-state page reports, gathered by the vCPU when it gets a pCPU."""

    vcpu: int
    pcpu: int
    vmid: int
    generation: int
    exits: int
    slices: int
    steal_ns: int


@attrs.define
class VcpuPara:
    """One vCPU's paravirtual registrations (None: not registered) and counters."""

    sta: int | None = None  # guest-physical address of the STA record
    sta_steal_ns: int = 0  # the steal value the record holds
    sta_preempted: bool = False
    # the vCPU's steal total (ns) when the record was last updated; None: take the
    # next figure as the base (after registration or a restore)
    sta_mark: int | None = None
    page: int | None = None  # guest-physical address of the para-state page
    yields: int = 0  # yield_to hints this vCPU made that were passed on
    # the records' windows into guest RAM, checked once, by record size: one each for
    # the STA record and the para page (not state: made again on use)
    _windows: dict[int, tuple[GuestMemory, Window]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    @property
    def active(self) -> bool:
        return self.sta is not None or self.page is not None

    # ----------------------------------------------------------- STA

    def sta_register(self, mem: GuestMemory, addr: int, steal_ns: int) -> None:
        """Start reporting into the 64 bytes at ``addr`` (checked by the caller):
        zeroed now, steal counted from here."""
        mem.write(addr, bytes(STA_SHMEM_SIZE))
        self.sta = addr
        self.sta_steal_ns = 0
        self.sta_preempted = False
        self.sta_mark = steal_ns

    def sta_disable(self) -> None:
        self.sta = None
        self.sta_mark = None

    # ---------------------------------------------------- para page

    def page_register(self, mem: GuestMemory, addr: int, info: ParaInfo) -> None:
        self.page = addr
        mem.write(addr + PARA_HOST_VERSION, _HEADER.pack(PARA_VERSION, 0))
        mem.write(addr + PARA_SEQUENCE, bytes(PARA_RECORD_SIZE - PARA_SEQUENCE))
        self._write_page(mem, info)

    def page_refuse(self, mem: GuestMemory, addr: int, error: int) -> None:
        """A refused registration: only the host version and the error are written."""
        mem.write(addr + PARA_HOST_VERSION, _HEADER.pack(PARA_VERSION, error & 0xFFFF_FFFF))

    def page_deregister(self) -> None:
        self.page = None

    # ------------------------------------------------- update points

    def run(self, mem: GuestMemory, info: ParaInfo) -> None:
        """The vCPU got a pCPU: bring steal up to date, clear preempted, refresh the page."""
        try:
            if self.sta is not None:
                self._write_sta(mem, info.steal_ns)
            if self.page is not None:
                self._write_page(mem, info)
        except GuestMemoryError:
            # Checked at registration and RAM never shrinks; should it happen, stop
            # writing rather than fail the vCPU.
            self.sta = self.page = None

    def preempt(self, mem: GuestMemory) -> None:
        """The vCPU lost its pCPU while runnable: an advisory preempted flag."""
        if self.sta is not None and not self.sta_preempted:
            self.sta_preempted = True
            try:
                w = self._window(mem, self.sta, STA_SHMEM_SIZE)
            except GuestMemoryError:
                self.sta = None
                return
            w.view[STA_PREEMPTED] = 1
            w.wrote()

    # These run at every slice of a registered vCPU, so they write through a
    # window checked once. avmm runs one vCPU at a time: no guest reader can see a
    # record half-written, so each update is written whole, the sequence counter
    # already advanced by two (odd-then-even, as the spec's readers expect).

    def _window(self, mem: GuestMemory, addr: int, size: int) -> Window:
        """The record of ``size`` bytes at ``addr``: the window of the last call for
        that size while the registration stands, a new one (checked) after it moved."""
        held = self._windows.get(size)
        if held is not None and held[0] is mem and held[1].addr == addr:
            return held[1]
        w = mem.window(addr, size)
        self._windows[size] = (mem, w)
        return w

    def _write_sta(self, mem: GuestMemory, steal_ns: int) -> None:
        addr = self.sta
        assert addr is not None
        mark = self.sta_mark
        self.sta_mark = steal_ns
        grown = 0 if mark is None else max(steal_ns - mark, 0)
        if not grown and not self.sta_preempted:
            return
        w = self._window(mem, addr, STA_SHMEM_SIZE)
        view = w.view
        if grown:
            self.sta_steal_ns += grown
            seq = _U32.unpack_from(view, STA_SEQUENCE)[0]
            _U32.pack_into(view, STA_SEQUENCE, (seq + 2) & _MASK32)
            _U64.pack_into(view, STA_STEAL, self.sta_steal_ns & _MASK64)
        if self.sta_preempted:
            self.sta_preempted = False
            view[STA_PREEMPTED] = 0
        w.wrote()

    def _write_page(self, mem: GuestMemory, info: ParaInfo) -> None:
        addr = self.page
        assert addr is not None
        w = self._window(mem, addr, PARA_RECORD_SIZE)
        view = w.view
        odd = _U32.unpack_from(view, PARA_SEQUENCE)[0] | 1  # odd while the body changes
        _BODY.pack_into(
            view,
            PARA_BODY,
            info.vcpu,
            info.pcpu,
            0,
            info.vmid,
            info.generation,
            info.exits & _MASK64,
            info.slices & _MASK64,
            info.steal_ns & _MASK64,
            self.yields & _MASK64,
        )
        _U32.pack_into(view, PARA_SEQUENCE, (odd + 1) & _MASK32)
        w.wrote()

    # ------------------------------------------------ reset, snapshots

    def reset(self) -> None:
        """Forget every registration (reboot, HSM start): nothing is written any more."""
        self.sta = None
        self.sta_steal_ns = 0
        self.sta_preempted = False
        self.sta_mark = None
        self.page = None
        self.yields = 0

    def state(self) -> dict[str, int | bool | None]:
        """Plain data for a snapshot: the registrations and what the records hold."""
        return {
            "sta": self.sta,
            "sta_steal_ns": self.sta_steal_ns,
            "sta_preempted": self.sta_preempted,
            "sta_mark": self.sta_mark,
            "page": self.page,
            "yields": self.yields,
        }

    def restore(self, state: dict[str, int | bool | None]) -> None:
        """Take back :meth:`state`'s data. Steal goes on from the value the record
        held: with ``sta_mark`` (the vCPU's steal total at the record's last update,
        which a snapshot carries with the vCPU's steal) the next update adds what
        accrued since, as it would have; without it, only what accrues after the
        restore."""
        sta, page = state["sta"], state["page"]
        mark = state.get("sta_mark")
        if not (mark is None or (isinstance(mark, int) and not isinstance(mark, bool))):
            raise ValueError(f"para state: sta_mark {mark!r} is not a count")
        steal, preempted, yields = state["sta_steal_ns"], state["sta_preempted"], state["yields"]
        if not (sta is None or (isinstance(sta, int) and not isinstance(sta, bool))):
            raise ValueError(f"para state: sta {sta!r} is not an address")
        if not (page is None or (isinstance(page, int) and not isinstance(page, bool))):
            raise ValueError(f"para state: page {page!r} is not an address")
        if not isinstance(steal, int) or isinstance(steal, bool) or steal < 0:
            raise ValueError(f"para state: sta_steal_ns {steal!r} is not a count")
        if not isinstance(yields, int) or isinstance(yields, bool) or yields < 0:
            raise ValueError(f"para state: yields {yields!r} is not a count")
        if not isinstance(preempted, bool):
            raise ValueError(f"para state: sta_preempted {preempted!r} is not a bool")
        if sta is not None and sta % STA_SHMEM_ALIGN:
            raise ValueError(f"para state: sta {sta:#x} is not {STA_SHMEM_ALIGN}-byte aligned")
        if page is not None and page % PAGE_SIZE:
            raise ValueError(f"para state: page {page:#x} is not page-aligned")
        self.sta = sta
        self.sta_steal_ns = steal
        self.sta_preempted = preempted
        self.sta_mark = mark if sta is not None else None
        self.page = page
        self.yields = yields
