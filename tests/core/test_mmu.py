"""Sv39/Sv48 translation: mappings, superpages, A/D updates, fault causes and tval."""

from __future__ import annotations

import pytest
from corerig import RAM_BASE, Rig, RigFactory

from avmm import _core as core

V, R, W, X, U, G, A, D = (1 << i for i in range(8))
RWX = R | W | X
ROOT = RAM_BASE + 0x10_0000  # page tables live from here
DATA = RAM_BASE + 0x20_0000  # a 2 MiB-aligned physical data area

# S-mode code runs identity-mapped at RAM_BASE; traps go to M-mode (bare) at
# RAM_BASE + 0x100, which records mcause/mtval/mepc in a5/a6/a7 and stops.
HANDLER = """
.org 0x100
    csrr a5, mcause
    csrr a6, mtval
    csrr a7, mepc
    j .
"""


class PageTables:
    """Builds Sv39/Sv48 tables in guest RAM, allocating table pages after ROOT."""

    def __init__(self, rig: Rig, levels: int = 3) -> None:
        self.rig = rig
        self.levels = levels
        self.next = ROOT + 0x1000
        rig.machine.write_phys(ROOT, bytes(0x1000))

    def satp(self, asid: int = 0) -> int:
        mode = 8 if self.levels == 3 else 9
        return (mode << 60) | (asid << 44) | (ROOT >> 12)

    def pte_addr(self, va: int, level: int) -> int:
        """Address of the PTE for va at `level`, creating intermediate tables."""
        table = ROOT
        for lvl in range(self.levels - 1, level, -1):
            addr = table + ((va >> (12 + 9 * lvl)) & 511) * 8
            pte = self.rig.read64(addr)
            if not pte & V:
                self.rig.machine.write_phys(self.next, bytes(0x1000))
                pte = ((self.next >> 12) << 10) | V
                self.rig.write64(addr, pte)
                self.next += 0x1000
            table = (pte >> 10) << 12
        return table + ((va >> (12 + 9 * level)) & 511) * 8

    def map(self, va: int, pa: int, flags: int, level: int = 0) -> int:
        addr = self.pte_addr(va, level)
        self.rig.write64(addr, ((pa >> 12) << 10) | flags | V)
        return addr


def s_mode(rig: RigFactory, body: str, levels: int = 3) -> tuple[Rig, PageTables]:
    r = rig(body + "\n" + HANDLER)
    pt = PageTables(r, levels)
    pt.map(RAM_BASE, RAM_BASE, RWX | A | D, level=1)  # code, identity, 2 MiB
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.hart.set_csr(core.CSRS["satp"], pt.satp())
    r.hart.priv = core.PRIV_S
    return r, pt


def fault(r: Rig) -> tuple[int, int]:
    return r.x(15), r.x(16)


def test_sv39_load_and_store_through_a_4k_mapping(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40001000\nld a0, 8(t0)\nsd a0, 16(t0)\nli a1, 1\nj .")
    pt.map(0x4000_1000, DATA, R | W | A | D)
    r.write64(DATA + 8, 0x1122_3344_5566_7788)
    r.run(50)
    assert r.x(11) == 1, fault(r)
    assert r.x(10) == 0x1122_3344_5566_7788
    assert r.read64(DATA + 16) == 0x1122_3344_5566_7788
    assert r.hart.translate(0x4000_1010) == DATA + 0x10
    assert r.hart.stats()["page_walks"] >= 2


def test_superpages_translate_whole_ranges(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40123458\nld a0, 0(t0)\nli a1, 1\nj .")
    pt.map(0x4000_0000, DATA, R | A, level=1)  # 2 MiB
    r.write64(DATA + 0x12_3458, 42)
    r.run(50)
    assert r.x(11) == 1, fault(r)
    assert r.x(10) == 42
    pt.map(0xC000_0000, RAM_BASE, R | X | A, level=2)  # 1 GiB at a 1 GiB-aligned PA
    assert r.hart.translate(0xC012_3456) == RAM_BASE + 0x12_3456


def test_sv48_reaches_beyond_the_sv39_range(rig: RigFactory) -> None:
    va = 0x0000_4000_0000_2000
    r, pt = s_mode(rig, f"li t0, {va:#x}\nld a0, 0(t0)\nli a1, 1\nj .", levels=4)
    pt.map(va, DATA, R | A)
    r.write64(DATA, 77)
    r.run(50)
    assert r.x(11) == 1, fault(r)
    assert r.x(10) == 77


def test_walker_sets_accessed_and_dirty(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40001000\nld a0, 0(t0)\nli a1, 1\nsd a0, 8(t0)\nli a2, 1\nj .")
    pte = pt.map(0x4000_1000, DATA, R | W)
    assert r.hart.translate(0x4000_1000) == DATA  # no side effects:
    assert r.read64(pte) & (A | D) == 0
    r.hart.single_step = True
    while r.x(11) != 1:
        r.run(1)
    assert r.read64(pte) & (A | D) == A
    while r.x(12) != 1:
        r.run(1)
    assert r.read64(pte) & (A | D) == A | D


@pytest.mark.parametrize(
    ("code", "flags", "cause"),
    [
        ("ld a0, 0(t0)", 0, 13),  # not mapped (V=0)
        ("ld a0, 0(t0)", W | A | D | V, 13),  # W without R is reserved
        ("ld a0, 0(t0)", X | A | V, 13),  # execute-only without MXR
        ("sd a0, 0(t0)", R | A | V, 15),  # read-only
        ("jr t0", R | W | A | V, 12),  # not executable
        ("ld a0, 0(t0)", R | U | A | V, 13),  # user page from S without SUM
        ("ld a0, 0(t0)", R | A | V | (1 << 54), 13),  # reserved high bits
    ],
)
def test_page_faults_report_cause_and_vaddr(
    rig: RigFactory, code: str, flags: int, cause: int
) -> None:
    va = 0x4000_1238
    r, pt = s_mode(rig, f"li t0, {va:#x}\n{code}\nj .")
    addr = pt.pte_addr(va, 0)
    r.write64(addr, ((DATA >> 12) << 10) | flags)
    assert r.hart.translate(va, {13: 0, 15: 1, 12: 2}[cause]) is None
    r.run(50)
    assert fault(r) == (cause, va)


def test_sum_and_mxr_widen_s_mode_access(rig: RigFactory) -> None:
    src = "li t0, 0x40001000\nld a0, 0(t0)\nli t0, 0x40002000\nld a1, 0(t0)\nj ."
    r, pt = s_mode(rig, src)
    pt.map(0x4000_1000, DATA, R | U | A)
    pt.map(0x4000_2000, DATA + 0x1000, X | A)
    r.write64(DATA, 5)
    r.write64(DATA + 0x1000, 6)
    r.hart.set_csr(core.CSRS["sstatus"], (1 << 18) | (1 << 19))  # SUM, MXR
    r.run(50)
    assert (r.x(10), r.x(11)) == (5, 6), fault(r)


def test_misaligned_superpage_is_a_page_fault(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40000000\nld a0, 0(t0)\nj .")
    pt.map(0x4000_0000, DATA + 0x1000, R | A, level=1)  # PPN not 2 MiB aligned
    r.run(50)
    assert fault(r) == (13, 0x4000_0000)


def test_page_table_outside_ram_is_an_access_fault(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40000000\nld a0, 0(t0)\nj .")
    addr = pt.pte_addr(0x4000_0000, 1)
    r.write64(addr, ((0x2000_0000 >> 12) << 10) | V)  # next level at a non-RAM address
    r.run(50)
    assert fault(r) == (5, 0x4000_0000)


def test_non_canonical_address_is_a_page_fault(rig: RigFactory) -> None:
    va = 0x0000_0080_0000_0000  # bit 39 set, bits above clear: not Sv39-canonical
    r, _ = s_mode(rig, f"li t0, {va:#x}\nsd a0, 0(t0)\nj .")
    r.run(50)
    assert fault(r) == (15, va)


def test_misaligned_access_across_pages_is_performed(rig: RigFactory) -> None:
    r, pt = s_mode(rig, "li t0, 0x40001ffc\nld a0, 0(t0)\nsd a0, 8(t0)\nli a1, 1\nj .")
    pt.map(0x4000_1000, DATA + 0x3000, R | W | A | D)
    pt.map(0x4000_2000, DATA, R | W | A | D)  # discontiguous physical pages
    r.machine.write_phys(DATA + 0x3FFC, bytes([1, 2, 3, 4]))
    r.machine.write_phys(DATA, bytes([5, 6, 7, 8]))
    r.run(50)
    assert r.x(11) == 1, fault(r)
    assert r.x(10) == 0x0807_0605_0403_0201
    assert r.machine.read_phys(DATA + 4, 8) == bytes([1, 2, 3, 4, 5, 6, 7, 8])


def test_misaligned_access_faults_on_the_second_page_with_its_address(
    rig: RigFactory,
) -> None:
    r, pt = s_mode(rig, "li t0, 0x40001ffe\nlw a0, 0(t0)\nj .")
    pt.map(0x4000_1000, DATA, R | A)
    r.run(50)
    assert fault(r) == (13, 0x4000_2000)


def test_unsupported_satp_mode_is_ignored(rig: RigFactory) -> None:
    r = rig("li t0, 10\nslli t0, t0, 60\ncsrw satp, t0\ncsrr a0, satp\nj .")
    r.hart.set_csr(core.CSRS["satp"], 8 << 60)
    r.run(10)
    assert r.x(10) == 8 << 60


def test_mprv_translates_m_mode_loads_at_mpp(rig: RigFactory) -> None:
    src = """
        li t0, (1 << 17) | (1 << 11)
        csrs mstatus, t0
        li t0, 0x40001000
        ld a0, 0(t0)
        j .
    """
    r = rig(src + HANDLER)
    pt = PageTables(r)
    pt.map(0x4000_1000, DATA, R | A)
    r.write64(DATA, 99)
    r.hart.set_csr(core.CSRS["satp"], pt.satp())
    r.run(20)
    assert r.x(10) == 99
