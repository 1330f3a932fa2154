"""Traps, delegation, timers and the in-core CLINT/PLIC, as the VMM observes them."""

from __future__ import annotations

import time

from corerig import RAM_BASE, RigFactory

from avmm import _core as core

CLINT = 0x0200_0000
PLIC = 0x0C00_0000
MSTATUS_MIE = 1 << 3
MSTATUS_SIE = 1 << 1

# counts loop iterations in a0; the M-mode handler at +0x100 records mcause in
# a5 and the interrupted instret... and returns with interrupts disabled
COUNTER = """
.option norvc
    la t0, handler
    csrw mtvec, t0
1:  addi a0, a0, 1
    j 1b
.org 0x100
handler:
    csrr a5, mcause
    csrr a6, mepc
    li t0, 0x80
    csrc mstatus, t0
    mret
"""


def test_virtual_clock_timer_fires_at_the_exact_instruction(rig: RigFactory) -> None:
    seen = []
    for _ in range(2):
        r = rig(COUNTER)
        m, h = r.machine, r.hart
        m.set_clock(core.CLOCK_VIRTUAL, ips=10_000_000)  # one tick per instruction
        m.time = 0
        h.mtimecmp = 1000
        h.set_csr(core.CSRS["mie"], core.MIP_MTIP)
        h.set_csr(core.CSRS["mstatus"], MSTATUS_MIE)
        assert h.next_deadline() == 1000
        r.run(999)
        assert r.x(15) == 0  # not yet: time is 999
        r.run(1)
        assert m.time == 1000
        assert r.x(15) == 0
        r.run(1)  # the interrupt is taken before the 1001st instruction
        assert r.x(15) == (1 << 63) | 7
        assert h.stats()["interrupts"] == {7: 1}
        assert h.next_deadline() is None  # already pending
        seen.append((h.instret, r.x(10), r.x(16)))
    assert seen[0] == seen[1]


def test_virtual_time_is_shared_by_harts_and_warps(rig: RigFactory) -> None:
    r = rig("1: j 1b", harts=2)
    m = r.machine
    m.set_clock(core.CLOCK_VIRTUAL, ips=1_000_000_000)  # 100 instructions per tick
    m.time = 5
    r.run(1000, hart=0)
    r.run(500, hart=1)
    assert m.instret == 1500
    assert m.time == 5 + 15
    m.warp(100)
    assert m.time == 120


def test_interrupt_priority_and_delegation_to_s_mode(rig: RigFactory) -> None:
    src = """
.option norvc
1:  j 1b
.org 0x100
    csrr a5, mcause
    j .
.org 0x200
    csrr a4, scause
    j .
"""
    r = rig(src)
    h = r.hart
    h.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    h.set_csr(core.CSRS["stvec"], RAM_BASE + 0x200)
    h.set_csr(core.CSRS["mideleg"], core.MIP_SSIP | core.MIP_STIP | core.MIP_SEIP)
    h.set_csr(core.CSRS["mie"], core.MIP_SSIP | core.MIP_SEIP | core.MIP_MSIP)
    h.priv = core.PRIV_S
    h.set_csr(core.CSRS["sstatus"], MSTATUS_SIE)
    h.post_mip(core.MIP_SSIP)
    h.set_irq_line(core.MIP_SEIP, True)
    r.run(3)
    assert r.x(14) == (1 << 63) | 9  # SEI before SSI
    assert h.priv == core.PRIV_S
    assert h.get_csr(core.CSRS["sepc"]) == RAM_BASE

    h.set_irq_line(core.MIP_MSIP, True)  # M-level: taken from S even with SIE clear
    r.run(3)
    assert r.x(15) == (1 << 63) | 3
    assert h.priv == core.PRIV_M


def test_exception_delegation_and_sret(rig: RigFactory) -> None:
    src = """
.option norvc
    ecall
    li a0, 1
    j .
.org 0x200
    csrr a4, scause
    csrr t0, sepc
    addi t0, t0, 4
    csrw sepc, t0
    sret
"""
    r = rig(src)
    h = r.hart
    h.set_csr(core.CSRS["stvec"], RAM_BASE + 0x200)
    h.set_csr(core.CSRS["medeleg"], 1 << 8)
    h.priv = core.PRIV_U
    r.run(20)
    assert r.x(14) == 8
    assert r.x(10) == 1
    assert h.priv == core.PRIV_U


def test_vectored_tvec_for_interrupts_only(rig: RigFactory) -> None:
    src = """
.option norvc
    li a0, 7
1:  j 1b
.org 0x100
    li a1, 100
    j .
.org 0x10c
    li a1, 3
    j .
"""
    r = rig(src)
    h = r.hart
    h.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100 + 1)
    h.set_csr(core.CSRS["mie"], core.MIP_MSIP)
    h.set_csr(core.CSRS["mstatus"], MSTATUS_MIE)
    r.run(2)
    h.set_irq_line(core.MIP_MSIP, True)
    r.run(2)
    assert r.x(11) == 3


def test_clint_ipi_kicks_the_target_and_can_exit(rig: RigFactory) -> None:
    src = f"""
        li t0, {CLINT:#x}
        li t1, 1
        sw t1, 4(t0)
        li a0, 1
        j .
    """
    r = rig(src, harts=2)
    m = r.machine
    m.enable_clint(CLINT)
    assert r.run(10) == core.EXIT_BUDGET
    assert m.take_kicks() == 0b10
    assert m.take_kicks() == 0
    assert r.harts[1].get_csr(core.CSRS["mip"]) & core.MIP_MSIP

    r = rig(src, harts=2)
    m = r.machine
    m.enable_clint(CLINT)
    m.ipi_exit = True
    assert r.run(10) == core.EXIT_IPI
    assert r.x(10) == 0  # the slice ended right after the store
    assert m.take_kicks() == 0b10


def test_clint_mtimecmp_and_mtime(rig: RigFactory) -> None:
    src = f"""
        li t0, {CLINT:#x}
        li t1, 0x4000
        add t1, t0, t1
        li t2, 12345
        sd t2, 8(t1)
        li t3, 0xbff8
        add t3, t0, t3
        ld a0, 0(t3)
        lw a1, 0(t0)
        j .
    """
    r = rig(src, harts=2)
    m = r.machine
    m.enable_clint(CLINT)
    m.set_clock(core.CLOCK_VIRTUAL, ips=10_000_000)
    m.time = 1_000_000
    r.run(50)
    assert r.harts[1].mtimecmp == 12345
    assert 1_000_000 <= r.x(10) < 1_000_050


def test_plic_claim_and_complete(rig: RigFactory) -> None:
    # hart 0's S context is 1: enable source 5, priority 3, threshold 0
    src = f"""
        li s0, {PLIC:#x}
        li t1, 3
        sw t1, 20(s0)
        li t0, {PLIC + 0x2000 + 0x80:#x}
        li t1, 1 << 5
        sw t1, 0(t0)
        li s1, {PLIC + 0x201000:#x}
        sw zero, 0(s1)
        li a0, 1
    1:  j 1b
    .org 0x200
        lw a1, 4(s1)
        lw a2, 4(s1)
        sw a1, 4(s1)
        li a3, 1
    2:  j 2b
    """
    r = rig(src)
    m, h = r.machine, r.hart
    m.enable_plic(PLIC)
    h.set_csr(core.CSRS["stvec"], RAM_BASE + 0x200)
    h.set_csr(core.CSRS["mideleg"], core.MIP_SEIP)
    h.set_csr(core.CSRS["mie"], core.MIP_SEIP)
    h.priv = core.PRIV_S
    r.run(30)
    assert r.x(10) == 1
    m.set_irq(5, True)
    assert m.take_kicks() == 0b1
    assert h.get_csr(core.CSRS["mip"]) & core.MIP_SEIP
    h.set_csr(core.CSRS["sstatus"], MSTATUS_SIE)
    r.run(30)
    assert (r.x(11), r.x(12), r.x(13)) == (5, 0, 1)
    # completion does not sample the line again (QEMU's gateway): only a new
    # assertion makes the source pending
    assert not h.get_csr(core.CSRS["mip"]) & core.MIP_SEIP
    m.set_irq(5, True)
    assert h.get_csr(core.CSRS["mip"]) & core.MIP_SEIP
    m.set_irq(5, False)
    assert not h.get_csr(core.CSRS["mip"]) & core.MIP_SEIP
    state = m.irqchip_state()
    assert state["plic"]["priority"][5] == 3
    m.set_irqchip_state(state)
    assert m.irqchip_state() == state


def test_seip_from_the_irqchip_does_not_stick_through_mip_read_modify_write(
    rig: RigFactory,
) -> None:
    r = rig("csrsi mip, 2\ncsrr a0, mip\nj .")  # set SSIP: a read-modify-write of mip
    h = r.hart
    h.set_irq_line(core.MIP_SEIP, True)
    r.run(2)
    assert r.x(10) & (core.MIP_SEIP | core.MIP_SSIP) == core.MIP_SEIP | core.MIP_SSIP
    h.set_irq_line(core.MIP_SEIP, False)
    # the line's level was not copied into the software-writable SEIP bit
    assert h.get_csr(core.CSRS["mip"]) & core.MIP_SEIP == 0


def test_stimecmp_csr_needs_sstc_and_stce(rig: RigFactory) -> None:
    src = """
.option norvc
    li t0, 5000
    csrw stimecmp, t0
    csrr a0, stimecmp
    j .
.org 0x100
    csrr a5, mcause
    j .
"""
    r = rig(src)
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.hart.priv = core.PRIV_S
    r.run(10)
    assert r.x(15) == 2  # no Sstc: illegal

    r = rig(src)
    r.machine.sstc = True
    h = r.hart
    h.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    h.set_csr(core.CSRS["menvcfg"], 1 << 63)
    h.set_csr(core.CSRS["mcounteren"], 2)  # TM
    h.priv = core.PRIV_S
    r.machine.set_clock(core.CLOCK_VIRTUAL, ips=10_000_000)
    r.machine.time = 4000
    r.run(4)
    assert (r.x(10), h.stimecmp, r.x(15)) == (5000, 5000, 0)
    assert not h.get_csr(core.CSRS["mip"]) & core.MIP_STIP
    r.machine.warp(1000)
    assert h.get_csr(core.CSRS["mip"]) & core.MIP_STIP
    # with STCE, STIP is the comparator's alone: software cannot clear it
    h.set_csr(core.CSRS["mip"], 0)
    assert h.get_csr(core.CSRS["mip"]) & core.MIP_STIP


def test_the_stimecmp_comparator_works_without_sstc_for_sbi_set_timer(
    rig: RigFactory,
) -> None:
    src = """
.option norvc
1:  addi a0, a0, 1
    j 1b
.org 0x200
    csrr a4, scause
    j .
"""
    r = rig(src)
    h, m = r.hart, r.machine
    m.set_clock(core.CLOCK_VIRTUAL, ips=10_000_000)
    m.time = 0
    h.set_csr(core.CSRS["stvec"], RAM_BASE + 0x200)
    h.set_csr(core.CSRS["mideleg"], core.MIP_STIP)
    h.set_csr(core.CSRS["mie"], core.MIP_STIP)
    h.priv = core.PRIV_S
    h.set_csr(core.CSRS["sstatus"], MSTATUS_SIE)
    h.stimecmp = 300
    assert h.next_deadline() == 300
    r.run(300)
    assert r.x(14) == 0
    r.run(2)
    assert r.x(14) == (1 << 63) | 5
    assert h.instret == 302  # 300 before the interrupt, then the handler's two


def test_a_held_clock_stands_still_and_goes_on_from_there(rig: RigFactory) -> None:
    """Machine.clock_held (a debugger stopped every hart): host time passes, guest time
    does not; released, it goes on from there."""
    r = rig(COUNTER)
    m, h = r.machine, r.hart
    m.set_clock(core.CLOCK_HOST)
    m.time = 1_000
    m.clock_held = True
    held = m.time
    time.sleep(0.05)  # 500,000 ticks of host time at 10 MHz
    assert m.clock_held and m.time == held
    assert h.get_csr(core.CSRS["time"]) == held
    m.time = 7_000  # set while held: it stands still there
    assert m.time == 7_000
    m.clock_held = False
    assert 7_000 <= m.time < 7_000 + 250_000  # on from where it stood, not from the host's
    time.sleep(0.01)
    assert m.time > 7_000
