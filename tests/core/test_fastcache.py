"""The per-hart fast cache kept across slices, and what must drop it in between.

A hart keeps its fast cache (virtual page -> host address, per access type) from
one slice to the next only while nothing that can invalidate it happened
(avmm/core/README.md, "Address translation"). Each test here fills the cache in
one slice, changes something from the host or another hart between slices, and
checks that the next slice sees the change; each fails if that event does not
invalidate the cache. Every test runs with the translator on and off (the
translated loops use the same cache).
"""

from __future__ import annotations

import pytest
from corerig import RAM_BASE, Rig, RigFactory
from test_mmu import DATA, PageTables, s_mode

from avmm import _core as core

R, W, A, D = 2, 4, 0x40, 0x80
VA = 0x4000_1000
OTHER = DATA + 0x1000  # a second physical page

# S-mode: load VA into a0 forever (a1 counts iterations)
LOAD_LOOP = f"li t0, {VA:#x}\n1: ld a0, 0(t0)\naddi a1, a1, 1\nj 1b"
# a store loop at RAM_BASE (hart 0: stores a2 to 0(t0) forever) and, at
# RAM_BASE + 0x200, an LR of 0(t0) followed by an SC of a3 (hart 1)
STORE_AND_LRSC = """
1:  sd a2, 0(t0)
    addi a1, a1, 1
    j 1b
.org 0x200
    lr.d a0, (t0)
    sc.d a4, a3, (t0)
    j .
"""

jit = pytest.mark.parametrize("translate", [True, False], ids=["jit", "interp"])


def loaded(r: Rig, tlb: core.Tlb | None = None, budget: int = 200) -> int:
    r.hart.run(budget, tlb or r.tlb)
    return r.x(10)


def s_load_rig(rig: RigFactory, translate: bool) -> tuple[Rig, PageTables]:
    r, pt = s_mode(rig, LOAD_LOOP)
    r.machine.jit = translate
    pt.map(VA, DATA, R | W | A | D)
    r.write64(DATA, 0x1111)
    r.write64(OTHER, 0x2222)
    return r, pt


@jit
def test_the_fast_cache_is_kept_across_slices(rig: RigFactory, translate: bool) -> None:
    r, _ = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    before = r.hart.stats()
    assert loaded(r) == 0x1111
    after = r.hart.stats()
    assert after["instret"] > before["instret"]
    # every load of the second slice hit the fast cache: no TLB lookup at all
    assert after["tlb_lookups"] == before["tlb_lookups"]
    assert after["tlb_l1_hits"] > before["tlb_l1_hits"]


@jit
@pytest.mark.parametrize("how", ["flush", "flush_vmid", "flush_asid", "flush_page"])
def test_a_remote_tlb_flush_between_slices_drops_it(
    rig: RigFactory, translate: bool, how: str
) -> None:
    r, pt = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    pt.map(VA, OTHER, R | W | A | D)  # the guest's page table changes, then a remote fence
    vmid = r.machine.vmid
    {
        "flush": lambda: r.tlb.flush(),
        "flush_vmid": lambda: r.tlb.flush_vmid(vmid),
        "flush_asid": lambda: r.tlb.flush_asid(vmid, 0),
        "flush_page": lambda: r.tlb.flush_page(vmid, VA),
    }[how]()
    assert loaded(r) == 0x2222


@jit
def test_another_hart_s_sfence_through_broadcast_tlbs_drops_it(
    rig: RigFactory, translate: bool
) -> None:
    r, pt = s_load_rig(rig, translate)
    r.machine.broadcast_tlbs = (r.tlb,)
    assert loaded(r) == 0x1111
    pt.map(VA, OTHER, R | W | A | D)
    # hart 1 runs an sfence.vma on a TLB of its own; the broadcast reaches ours
    other = r.machine.create_hart()
    r.machine.write_phys(RAM_BASE + 0x800, (0x12000073).to_bytes(4, "little"))  # sfence.vma
    other.reset(RAM_BASE + 0x800, core.PRIV_S)
    other.run(1, core.Tlb())
    assert loaded(r) == 0x2222


@jit
def test_running_on_another_tlb_drops_it(rig: RigFactory, translate: bool) -> None:
    r, pt = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    pt.map(VA, OTHER, R | W | A | D)
    # a fresh pCPU TLB holds nothing: the hart walks the changed table
    assert loaded(r, core.Tlb()) == 0x2222


@jit
def test_a_vmid_change_drops_it(rig: RigFactory, translate: bool) -> None:
    r, pt = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    pt.map(VA, OTHER, R | W | A | D)
    r.machine.vmid = r.machine.vmid + 1  # no entry of the new VMID in the TLB
    assert loaded(r) == 0x2222


@jit
def test_host_changes_of_the_translation_context_drop_it(rig: RigFactory, translate: bool) -> None:
    r, pt = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    pt.map(VA, OTHER, R | W | A | D)
    # satp written by the host: another ASID, whose entries the TLB does not hold
    r.hart.set_csr(core.CSRS["satp"], pt.satp(asid=1))
    assert loaded(r) == 0x2222


def lrsc_rig(rig: RigFactory, translate: bool) -> Rig:
    r = rig(STORE_AND_LRSC, harts=2)
    r.machine.jit = translate
    for h in r.harts:
        h.set_x(5, DATA)  # t0
    r.harts[1].reset(RAM_BASE + 0x200)
    r.harts[1].set_x(5, DATA)
    r.harts[0].set_x(12, 7)  # a2: what hart 0 stores
    r.harts[1].set_x(13, 9)  # a3: what hart 1's SC stores
    return r


@jit
def test_another_hart_s_lr_between_slices_drops_store_entries(
    rig: RigFactory, translate: bool
) -> None:
    r = lrsc_rig(rig, translate)
    r.run(100, hart=0)  # hart 0 holds a store entry for DATA's page
    assert r.read64(DATA) == 7
    r.run(1, hart=1)  # LR: hart 1 reserves DATA
    r.harts[1].set_x(10, 0)
    r.write64(DATA + 8, 0)  # (a host write elsewhere in the page breaks nothing)
    r.run(100, hart=0)  # hart 0 stores to DATA: the reservation must break
    r.run(1, hart=1)  # SC
    assert r.x(14, hart=1) == 1, "SC succeeded after another hart's store"
    assert r.read64(DATA) == 7


@jit
def test_lr_and_sc_without_a_store_in_between_succeed(rig: RigFactory, translate: bool) -> None:
    r = lrsc_rig(rig, translate)
    r.run(100, hart=0)
    r.run(2, hart=1)  # LR, SC
    assert r.x(14, hart=1) == 0
    assert r.read64(DATA) == 9


@jit
def test_dirty_logging_switched_on_between_slices_records_the_next_store(
    rig: RigFactory, translate: bool
) -> None:
    r = lrsc_rig(rig, translate)
    r.run(100)  # a store entry for DATA's page
    page = (DATA - RAM_BASE) >> 12
    r.ram.dirty_logging = True
    assert not r.ram.get_dirty_log()[page >> 3] & (1 << (page & 7))
    r.run(100)
    assert r.ram.get_dirty_log()[page >> 3] & (1 << (page & 7))
    # cleared by get_dirty_log: the page is clean again, and its next store is logged
    r.run(100)
    assert r.ram.get_dirty_log()[page >> 3] & (1 << (page & 7))


@jit
def test_tohost_moved_into_a_cached_page_between_slices(rig: RigFactory, translate: bool) -> None:
    r = lrsc_rig(rig, translate)
    r.run(100)  # a store entry for DATA's page
    r.machine.set_htif(DATA)
    assert r.run(100) == core.EXIT_HTIF
    assert r.hart.htif_value == 7


@jit
def test_a_breakpoint_set_between_slices_stops_the_hart(rig: RigFactory, translate: bool) -> None:
    r, _ = s_load_rig(rig, translate)
    assert loaded(r) == 0x1111
    target = r.hart.pc
    r.hart.set_breakpoint(target)
    assert r.run(200) == core.EXIT_DEBUG
    assert r.hart.pc == target
