"""Guest debug in the core: VMM watchpoints (debug exits) and Sdtrig triggers
(breakpoint exceptions to the guest), checked at the API level."""

from __future__ import annotations

from avmm import _core as core
from tests.core.corerig import RAM_BASE, RigFactory

DATA = RAM_BASE + 0x2000
CSR = core.CSRS
MCONTROL6 = 6 << 60
M, S, U, X, ST, LD = 1 << 6, 1 << 4, 1 << 3, 1 << 2, 1 << 1, 1 << 0

# a0 counts; loads and stores DATA (a1) in a loop
LOOP = f"""
.option norvc
li a1, {DATA:#x}
li a0, 0
1: ld a2, 0(a1)
addi a0, a0, 1
sd a0, 0(a1)
j 1b
"""


def test_store_watchpoint_stops_before_the_store_and_lets_it_go_once(rig: RigFactory) -> None:
    r = rig(LOOP)
    r.hart.set_watchpoint(DATA + 4, 4, core.WATCH_STORE)
    assert r.hart.debug_active
    assert r.run() == core.EXIT_DEBUG
    assert r.hart.debug_cause == core.DEBUG_WATCHPOINT
    assert (r.hart.debug_addr, r.hart.debug_write) == (DATA + 4, True)
    assert r.hart.pc == RAM_BASE + 0x10 + 8  # at the sd (li of a 32-bit value is 2 insns)
    assert r.read64(DATA) == 0  # not stored yet
    assert r.run() == core.EXIT_DEBUG  # the store goes ahead, the next one stops
    assert r.read64(DATA) == 1
    r.hart.clear_watchpoint(DATA + 4, 4, core.WATCH_STORE)
    assert not r.hart.debug_active
    assert r.run(100) == core.EXIT_BUDGET


def test_load_watchpoint_reports_a_read(rig: RigFactory) -> None:
    r = rig(LOOP)
    r.hart.set_watchpoint(DATA, 8, core.WATCH_LOAD)
    assert r.run() == core.EXIT_DEBUG
    assert (r.hart.debug_addr, r.hart.debug_write) == (DATA, False)
    r.hart.single_step = True
    assert r.run() == core.EXIT_DEBUG  # the load itself, stepped
    assert r.hart.debug_cause == core.DEBUG_STEP


def test_trigger_csrs_enumerate_four_triggers(rig: RigFactory) -> None:
    r = rig("j .")
    h = r.hart
    for i in range(4):
        h.set_csr(CSR["tselect"], i)
        assert h.get_csr(CSR["tselect"]) == i
    h.set_csr(CSR["tselect"], 4)
    assert h.get_csr(CSR["tselect"]) == 3  # out of range: unchanged
    assert h.get_csr(CSR["tinfo"]) & 0xFFFF == (1 << 2) | (1 << 6) | (1 << 15)
    h.set_csr(CSR["tdata1"], 0)
    assert h.get_csr(CSR["tdata1"]) >> 60 == 15  # disabled
    h.set_csr(CSR["tdata1"], MCONTROL6 | (1 << 59) | (1 << 12) | M | X)
    assert h.get_csr(CSR["tdata1"]) == MCONTROL6 | M | X  # dmode, action: 0


def test_execute_trigger_raises_a_breakpoint_with_the_address(rig: RigFactory) -> None:
    r = rig(".option norvc\nnop\nnop\nnop\nj .")
    h = r.hart
    h.set_csr(CSR["mtvec"], RAM_BASE + 0xC)
    h.set_csr(CSR["tcontrol"], 1 << 3)
    h.set_csr(CSR["tdata2"], RAM_BASE + 8)
    h.set_csr(CSR["tdata1"], MCONTROL6 | M | X)
    r.run(2)
    assert h.pc == RAM_BASE + 8
    r.run(1)
    assert h.get_csr(CSR["mcause"]) == 3
    assert (h.get_csr(CSR["mepc"]), h.get_csr(CSR["mtval"])) == (RAM_BASE + 8, RAM_BASE + 8)
    assert h.get_csr(CSR["tcontrol"]) == 1 << 7  # MPTE = MTE, MTE = 0


def test_m_mode_triggers_need_tcontrol_mte(rig: RigFactory) -> None:
    r = rig(LOOP)
    h = r.hart
    h.set_csr(CSR["mtvec"], RAM_BASE + 0x100)
    h.set_csr(CSR["tdata2"], DATA)
    h.set_csr(CSR["tdata1"], MCONTROL6 | M | ST)
    r.run(20)
    assert h.get_csr(CSR["mcause"]) == 0 and r.read64(DATA) > 0
