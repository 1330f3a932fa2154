"""The pCPU TLB: (VMID, ASID) tagging, flush variants, broadcast sfence.vma."""

from __future__ import annotations

import pytest
from corerig import RAM_BASE, Rig, RigFactory
from test_mmu import DATA, RWX, A, D, PageTables, R, W

from avmm import _core as core

G = 1 << 5
VA = 0x4000_1000
VB = 0x4000_5000

LOADS = f"""
    li t0, {VA:#x}
    ld a0, 0(t0)
    li t0, {VB:#x}
    ld a1, 0(t0)
    li a2, 1
    j .
.org 0x100
    csrr a5, mcause
    j .
"""


def vm(rig: RigFactory, vmid: int, marker: int) -> tuple[Rig, PageTables]:
    r = rig(LOADS)
    r.machine.vmid = vmid
    pt = PageTables(r)
    pt.map(RAM_BASE, RAM_BASE, RWX | A | D, level=1)
    pt.map(VA, DATA, R | W | A | D)
    pt.map(VB, DATA + 0x1000, R | A | G)
    r.write64(DATA, marker)
    r.write64(DATA + 0x1000, marker + 1)
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    return r, pt


def enter(r: Rig, pt: PageTables, tlb: core.Tlb, asid: int = 1) -> None:
    h = r.hart
    h.pc = RAM_BASE
    h.priv = core.PRIV_S
    h.set_csr(core.CSRS["satp"], pt.satp(asid))
    h.set_x(12, 0)
    h.run(100, tlb)
    assert h.get_x(12) == 1, h.get_x(15)


def test_two_vms_sharing_a_tlb_do_not_see_each_others_entries(rig: RigFactory) -> None:
    tlb = core.Tlb(64)
    a, pa = vm(rig, 1, 100)
    b, pb = vm(rig, 2, 200)
    # VM b maps VA to another physical page: a stale hit would read the wrong marker
    pb.map(VA, DATA + 0x2000, R | W | A | D)
    b.write64(DATA + 0x2000, 222)
    enter(a, pa, tlb)
    enter(b, pb, tlb)
    assert (a.x(10), a.x(11)) == (100, 101)
    assert (b.x(10), b.x(11)) == (222, 201)
    stats = tlb.stats()
    assert stats["misses"] >= 6  # code, VA, VB for each VM
    assert stats["entries_valid"] == 6
    tlb.flush_vmid(1)
    assert tlb.stats()["entries_valid"] == 3


def test_flush_vmid_is_exact_for_vmids_sharing_a_generation_bucket(rig: RigFactory) -> None:
    # flush_vmid renews a generation per VMID bucket (vmid % 256) in O(1); VMIDs
    # that share a bucket must still flush only their own entries
    tlb = core.Tlb(64)
    a, pa = vm(rig, 3, 100)
    enter(a, pa, tlb)
    assert tlb.stats()["entries_valid"] == 3
    tlb.flush_vmid(3 + 256)  # the bucket holds VMID 3 only: nothing to drop
    assert tlb.stats()["entries_valid"] == 3
    b, pb = vm(rig, 3 + 256, 200)
    pb.map(VA, DATA + 0x2000, R | W | A | D)
    b.write64(DATA + 0x2000, 222)
    enter(b, pb, tlb)
    assert tlb.stats()["entries_valid"] == 6
    tlb.flush_vmid(3 + 256)
    assert tlb.stats()["entries_valid"] == 3
    enter(a, pa, tlb)
    assert (a.x(10), a.x(11)) == (100, 101)
    enter(b, pb, tlb)
    assert (b.x(10), b.x(11)) == (222, 201)
    tlb.flush_vmid(3)
    assert tlb.stats()["entries_valid"] == 3
    tlb.flush()
    assert tlb.stats()["entries_valid"] == 0
    enter(a, pa, tlb)  # after a whole flush the bucket is one VMID's again
    tlb.flush_vmid(3)
    assert tlb.stats()["entries_valid"] == 0
    assert tlb.stats()["flush_vmid"] == 4


def test_cached_translation_is_used_until_flushed(rig: RigFactory) -> None:
    tlb = core.Tlb()
    r, pt = vm(rig, 3, 10)
    enter(r, pt, tlb)
    pt.map(VA, DATA + 0x2000, R | W | A | D)  # remap without a fence
    r.write64(DATA + 0x2000, 55)
    enter(r, pt, tlb)
    assert r.x(10) == 10  # the TLB still holds the old translation
    hits = tlb.stats()["hits"]
    assert hits > 0
    tlb.flush_page(3, VA)
    enter(r, pt, tlb)
    assert r.x(10) == 55
    assert tlb.stats()["flush_page"] == 1


def test_flush_variants_respect_asid_and_global_entries(rig: RigFactory) -> None:
    tlb = core.Tlb()
    r, pt = vm(rig, 4, 0)
    enter(r, pt, tlb, asid=1)  # code, VA (asid 1) + VB (global)
    enter(r, pt, tlb, asid=2)  # code, VA (asid 2); VB hits the global entry
    assert tlb.stats()["entries_valid"] == 5
    tlb.flush_asid(4, 1)
    assert tlb.stats()["entries_valid"] == 3  # the global entry stays
    tlb.flush_page(4, VB, asid=2)
    assert tlb.stats()["entries_valid"] == 3  # with an ASID, globals stay
    tlb.flush_page(4, VB)
    assert tlb.stats()["entries_valid"] == 2
    tlb.flush_vmid(5)
    assert tlb.stats()["entries_valid"] == 2
    tlb.flush()
    s = tlb.stats()
    assert s["entries_valid"] == 0
    assert (s["flush_all"], s["flush_vmid"], s["flush_asid"], s["flush_page"]) == (1, 1, 1, 2)


def fence_vm(rig: RigFactory, fence: str) -> tuple[Rig, PageTables]:
    r = rig(LOADS.replace("li a2, 1", f"{fence}\nli a2, 1"))
    r.machine.vmid = 6
    pt = PageTables(r)
    pt.map(RAM_BASE, RAM_BASE, RWX | A | D, level=1)
    pt.map(VA, DATA, R | A)
    pt.map(VB, DATA, R | A)
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    return r, pt


def test_guest_sfence_flushes_every_broadcast_tlb(rig: RigFactory) -> None:
    r, pt = fence_vm(rig, "sfence.vma")
    t1, t2, other = core.Tlb(), core.Tlb(), core.Tlb()
    r.machine.broadcast_tlbs = (t1, t2)
    assert r.machine.broadcast_tlbs == (t1, t2)
    enter(r, pt, other)
    # the fence flushed t1, t2 and the running TLB; only the code page came back
    assert other.stats()["entries_valid"] == 1
    assert t1.stats()["flush_vmid"] == t2.stats()["flush_vmid"] == 1
    r.machine.broadcast_tlbs = [t1]
    enter(r, pt, t1)
    assert t1.stats()["flush_vmid"] == 2
    assert t2.stats()["flush_vmid"] == 1  # no longer a broadcast target
    assert other.stats()["flush_vmid"] == 1
    assert other.stats()["entries_valid"] == 1
    assert r.hart.stats()["sfence"] == 2
    with pytest.raises(TypeError):
        r.machine.broadcast_tlbs = (t1, "not a tlb")  # type: ignore[arg-type]


def test_sfence_by_address_only_drops_that_page(rig: RigFactory) -> None:
    r, pt = fence_vm(rig, f"li t1, {VA:#x}\nsfence.vma t1, zero")
    tlb = core.Tlb()
    enter(r, pt, tlb)
    s = tlb.stats()
    assert s["entries_valid"] == 2  # code and VB stay
    assert s["flush_page"] == 1


def test_sfence_is_illegal_in_u_mode_and_under_tvm(rig: RigFactory) -> None:
    for priv, mstatus in ((core.PRIV_U, 0), (core.PRIV_S, 1 << 20)):
        r = rig("sfence.vma\nj .\n.org 0x100\ncsrr a5, mcause\nj .")
        r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
        r.hart.set_csr(core.CSRS["mstatus"], mstatus)
        r.hart.priv = priv
        r.run(5)
        assert r.x(15) == 2


def test_tlb_rejects_bad_sizes() -> None:
    for n in (0, 8, 100, 1 << 17):
        with pytest.raises(ValueError):
            core.Tlb(n)
    assert core.Tlb(16).entries == 16
