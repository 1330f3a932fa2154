"""Slices and exits as a VMM sees them: budget, MMIO, ecall, wfi, pause, debug, HTIF."""

from __future__ import annotations

import pytest
from corerig import RAM_BASE, RigFactory

from avmm import _core as core
from avmm.errors import CoreError

UART = 0x1000_0000
EBREAK = (0x00100073).to_bytes(4, "little")
LOOP = """
    li a0, 0
1:  addi a0, a0, 1
    j 1b
"""


def test_budget_is_exact_and_counts_retired_instructions(rig: RigFactory) -> None:
    r = rig(LOOP)
    assert r.run(1000) == core.EXIT_BUDGET
    assert r.hart.instret == 1000
    assert r.machine.instret == 1000
    assert r.run(1) == core.EXIT_BUDGET
    assert r.hart.instret == 1001
    # li + 1000 iterations of (addi, j): a0 counts the addi's that ran
    assert r.x(10) == 500


def test_minstret_and_cycle_follow_retired_instructions(rig: RigFactory) -> None:
    r = rig("nop\nnop\nnop\ncsrr a0, minstret\ncsrr a1, cycle\nj .")
    r.run(5)
    assert r.x(10) == 3
    assert r.x(11) == 4


def test_budget_below_one_is_rejected(rig: RigFactory) -> None:
    r = rig(LOOP)
    with pytest.raises(ValueError):
        r.run(0)
    with pytest.raises(TypeError):
        r.hart.run(10, None)  # type: ignore[arg-type]


def test_mmio_write_exit_retires_the_store(rig: RigFactory) -> None:
    r = rig(f".option norvc\nli t0, {UART:#x}\nli t1, 0x1234\nsh t1, 2(t0)\nebreak")
    assert r.run() == core.EXIT_MMIO_WRITE
    h = r.hart
    assert (h.mmio_addr, h.mmio_size, h.mmio_value) == (UART + 2, 2, 0x1234)
    assert r.machine.read_phys(h.pc, 4) == EBREAK  # pc is past the store
    assert h.instret == 4
    assert h.stats()["mmio"] == {"read": 0, "write": 1}


@pytest.mark.parametrize(
    ("insn", "size", "value", "expected"),
    [
        ("lb", 1, 0x80, 0xFFFF_FFFF_FFFF_FF80),
        ("lbu", 1, 0x80, 0x80),
        ("lh", 2, 0x8001, 0xFFFF_FFFF_FFFF_8001),
        ("lhu", 2, 0x8001, 0x8001),
        ("lw", 4, 0x8000_0001, 0xFFFF_FFFF_8000_0001),
        ("lwu", 4, 0x8000_0001, 0x8000_0001),
        ("ld", 8, 0x8000_0000_0000_0001, 0x8000_0000_0000_0001),
    ],
)
def test_mmio_read_completion_extends_into_rd(
    rig: RigFactory, insn: str, size: int, value: int, expected: int
) -> None:
    r = rig(f"li t0, {UART:#x}\n{insn} a5, 8(t0)\naddi a6, a5, 0\nj .")
    assert r.run() == core.EXIT_MMIO_READ
    h = r.hart
    assert (h.mmio_addr, h.mmio_size) == (UART + 8, size)
    before = h.instret
    load_pc = h.pc
    # the VMM may hand back more bits than the access had: only `size` bytes count
    h.complete_mmio_read(value | (0xAB << (8 * size) if size < 8 else value))
    assert h.instret == before + 1
    assert h.pc == load_pc + 4
    assert h.get_x(15) == expected
    r.run(1)
    assert h.get_x(16) == expected


def test_run_without_mmio_completion_raises_core_error(rig: RigFactory) -> None:
    r = rig(f"li t0, {UART:#x}\nlw a0, 0(t0)\nj .")
    assert r.run() == core.EXIT_MMIO_READ
    with pytest.raises(CoreError):
        r.run()
    r.hart.complete_mmio_read(7)
    assert r.x(10) == 7
    with pytest.raises(CoreError):
        r.hart.complete_mmio_read(7)


def test_mmio_read_into_x0_discards_the_value(rig: RigFactory) -> None:
    r = rig(f"li t0, {UART:#x}\nlw zero, 0(t0)\nj .")
    assert r.run() == core.EXIT_MMIO_READ
    r.hart.complete_mmio_read(5)
    assert r.x(0) == 0


def test_misaligned_mmio_access_is_an_access_fault(rig: RigFactory) -> None:
    r = rig(
        f"""
        la t0, handler
        csrw mtvec, t0
        li t0, {UART:#x}
        lw a0, 2(t0)
        j .
        .align 2
    handler:
        csrr a1, mcause
        csrr a2, mtval
        j handler
    """
    )
    r.run(20)
    assert r.x(11) == 5
    assert r.x(12) == UART + 2


def test_ecall_exits_to_the_vmm_only_in_direct_boot(rig: RigFactory) -> None:
    src = """
        la t0, handler
        csrw mtvec, t0
        li a7, 0x10
        ecall
        li a2, 1
        j .
        .align 2
    handler:
        csrr a3, mcause
        j .
    """
    r = rig(src)
    r.machine.sbi_in_vmm = True
    assert r.run() == core.EXIT_ECALL
    pc = r.hart.pc
    assert r.machine.read_phys(pc - 4, 4) == (0x00000073).to_bytes(4, "little")
    r.hart.set_x(10, 0)
    r.run(2)
    assert r.x(12) == 1

    r = rig(src)
    assert r.run(20) == core.EXIT_BUDGET
    assert r.x(13) == 11  # ecall from M-mode, taken by the guest
    assert r.hart.stats()["exceptions"] == {11: 1}


def test_other_traps_to_m_in_direct_boot_are_internal_errors(rig: RigFactory) -> None:
    r = rig("li t0, 0x40000000\nld a0, 0(t0)\n.word 0\n")
    r.hart.priv = core.PRIV_S
    r.machine.sbi_in_vmm = True
    r.machine.add_ram(0x4000_0000, 0x1000)
    assert r.run() == core.EXIT_INTERNAL_ERROR
    assert "illegal instruction" in r.hart.error
    assert "direct boot" in r.hart.error
    assert f"pc {RAM_BASE + 8:#x}" in r.hart.error


def test_wfi_exits_when_nothing_is_pending_and_is_a_nop_otherwise(rig: RigFactory) -> None:
    r = rig("wfi\nli a0, 1\nj .")
    assert r.run() == core.EXIT_WFI
    assert r.hart.pc == RAM_BASE + 4
    assert not r.hart.wakeup_pending()

    r = rig("li t0, 8\ncsrw mie, t0\nwfi\nli a0, 1\nj .")
    r.hart.set_irq_line(core.MIP_MSIP, True)  # pending and enabled, MIE=0: no trap
    assert r.run(4) == core.EXIT_BUDGET
    assert r.x(10) == 1
    assert r.hart.wakeup_pending()


def test_a_wfi_loop_that_cannot_sleep_yields_at_the_window_th_wfi(rig: RigFactory) -> None:
    # OpenSBI's HSM wait: wfi in a loop with an IPI pending and MIE=0, so no wfi sleeps
    src = "li t0, 8\ncsrw mie, t0\n1:\nwfi\naddi a0, a0, 1\nj 1b"
    r = rig(src)
    r.hart.set_irq_line(core.MIP_MSIP, True)
    assert r.machine.wfi_window == 16  # on by default
    assert r.run(10_000) == core.EXIT_WFI
    assert r.hart.instret == 2 + 16 * 3 - 2  # 16 wfis; the last one retires and exits
    assert r.x(10) == 15
    assert r.hart.wakeup_pending()  # the VMM yields the pCPU instead of halting
    assert r.hart.stats()["wfi_yields"] == 1
    assert r.run(10_000) == core.EXIT_WFI  # the window counts per slice
    assert r.hart.stats()["wfi_yields"] == 2

    r = rig(src)
    r.hart.set_irq_line(core.MIP_MSIP, True)
    r.machine.wfi_window = 0  # off: every such wfi is a nop
    assert r.run(10_000) == core.EXIT_BUDGET
    assert r.hart.instret == 10_000
    assert r.hart.stats()["wfi_yields"] == 0
    with pytest.raises(ValueError):
        r.machine.wfi_window = -1


def test_in_firmware_call_means_m_mode_entered_from_below(rig: RigFactory) -> None:
    # M-mode code that never left M (MPP is U after reset) is not in a firmware call
    src = """
        la t0, handler
        csrw mtvec, t0
        la t0, smode
        csrw mepc, t0
        li t0, 1 << 11
        csrw mstatus, t0
        j 1f
    1:  j 2f
    2:  mret
    smode:
        ecall
    handler:
        csrr t1, mepc
        addi t1, t1, 4
        csrw mepc, t1
    3:  j 3b
    """
    r = rig(src)
    while r.hart.priv == core.PRIV_M:  # up to the mret into S
        assert not r.hart.in_firmware_call
        r.run(1)
    assert not r.hart.in_firmware_call
    r.run(1)  # the ecall traps into M
    assert r.hart.priv == core.PRIV_M and r.hart.in_firmware_call
    r.run(10)
    assert r.hart.in_firmware_call  # still in the handler's loop
    r.hart.set_csr(core.CSRS["mstatus"], 1 << 11)
    r.hart.pc = RAM_BASE + 4 * 4 + 4  # any M-mode code: still inside the call until mret
    assert r.hart.in_firmware_call


def test_wfi_is_illegal_in_u_mode_and_in_s_mode_with_tw(rig: RigFactory) -> None:
    r = rig("wfi\nj .")
    r.hart.priv = core.PRIV_U
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(1)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 2
    assert r.hart.get_csr(core.CSRS["mtval"]) == 0x10500073

    r = rig("wfi\nj .")
    r.hart.priv = core.PRIV_S
    r.hart.set_csr(core.CSRS["mstatus"], 1 << 21)
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(1)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 2


def test_pause_exits_at_the_window_th_pause(rig: RigFactory) -> None:
    src = "1:\n.word 0x0100000f\naddi a0, a0, 1\nj 1b"
    r = rig(src)
    assert r.run(30) == core.EXIT_BUDGET  # off by default: a nop
    r = rig(src)
    r.machine.pause_exit = True
    assert r.run(30) == core.EXIT_PAUSE
    assert r.hart.instret == 1
    assert r.x(10) == 0
    r.machine.pause_window = 3
    assert r.run(100) == core.EXIT_PAUSE
    assert r.hart.instret == 1 + 9  # (addi, j, pause) three times
    with pytest.raises(ValueError):
        r.machine.pause_window = 0


def test_breakpoint_stops_before_the_instruction_and_resumes_past_it(rig: RigFactory) -> None:
    r = rig(".option norvc\nli a0, 0\n1: addi a0, a0, 1\nj 1b")
    bp = RAM_BASE + 4
    r.hart.set_breakpoint(bp)
    assert r.run() == core.EXIT_DEBUG
    assert r.hart.debug_cause == core.DEBUG_BREAKPOINT
    assert (r.hart.pc, r.x(10)) == (bp, 0)
    assert r.run() == core.EXIT_DEBUG  # executes the addi, loops, stops again
    assert (r.hart.pc, r.x(10)) == (bp, 1)
    r.hart.clear_breakpoint(bp)
    assert r.run(10) == core.EXIT_BUDGET


def test_single_step_retires_exactly_one_instruction(rig: RigFactory) -> None:
    r = rig(LOOP)
    r.hart.single_step = True
    for i in range(1, 6):
        assert r.run(1000) == core.EXIT_DEBUG
        assert r.hart.debug_cause == core.DEBUG_STEP
        assert r.hart.instret == i


def test_ebreak_traps_or_exits_when_debugging(rig: RigFactory) -> None:
    r = rig("ebreak\nj .")
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(1)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 3
    assert r.hart.get_csr(core.CSRS["mtval"]) == RAM_BASE
    assert r.hart.instret == 0

    r = rig("ebreak\nj .")
    r.hart.debug_ebreak = True
    assert r.run() == core.EXIT_DEBUG
    assert r.hart.debug_cause == core.DEBUG_EBREAK
    assert r.hart.pc == RAM_BASE


def test_htif_exit_on_nonzero_tohost_store(rig: RigFactory) -> None:
    tohost = RAM_BASE + 0x1000
    r = rig(
        f"""
        li t0, {tohost:#x}
        sd zero, 0(t0)
        sd zero, 0(t0)
        li t1, 1
        sd t1, 0(t0)
        li a0, 9
        j .
    """
    )
    r.machine.set_htif(tohost)
    assert r.run() == core.EXIT_HTIF
    assert r.hart.htif_value == 1
    assert r.x(10) == 0
    r.write64(tohost, 0)
    r.run(1)  # the store retired: the next instruction is li a0, 9
    assert r.x(10) == 9


def test_illegal_instruction_traps_with_its_bits(rig: RigFactory) -> None:
    r = rig(".word 0xffffffff\n")
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(1)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 2
    assert r.hart.get_csr(core.CSRS["mtval"]) == 0xFFFF_FFFF
    assert r.hart.get_csr(core.CSRS["mepc"]) == RAM_BASE

    r = rig(".half 0\n")  # the all-zero compressed instruction is illegal
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(1)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 2
    assert r.hart.get_csr(core.CSRS["mtval"]) == 0


def test_a_trap_storm_still_ends_the_slice(rig: RigFactory) -> None:
    r = rig(".word 0\n")
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE)  # the handler is the illegal word
    assert r.run(500) == core.EXIT_BUDGET
    assert r.hart.instret == 0
    assert r.hart.stats()["exceptions"] == {2: 500}


def test_fetch_outside_ram_is_an_instruction_access_fault(rig: RigFactory) -> None:
    r = rig("li t0, 0x20000000\njr t0\n.org 0x100\nj .")
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.run(4)
    assert r.hart.get_csr(core.CSRS["mcause"]) == 1
    assert r.hart.get_csr(core.CSRS["mtval"]) == 0x2000_0000


def test_exit_names_and_counts(rig: RigFactory) -> None:
    assert core.EXIT_NAMES[core.EXIT_BUDGET] == "budget"
    assert core.EXIT_NAMES[core.EXIT_MMIO_READ] == "mmio_read"
    assert len(core.EXIT_NAMES) == 10
    r = rig(LOOP)
    r.run(10)
    r.run(10)
    assert r.hart.stats()["exits"]["budget"] == 2
