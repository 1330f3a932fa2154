/* Trap and interrupt delegation: medeleg / mideleg route traps from S and U
 * to the S-mode handler (scause, sepc, stval, SPP, SPIE, SIE), never traps
 * from M; delegated interrupts follow sstatus.SIE in S, are always enabled
 * in U and never taken in M; sret / mret update the status stack; mret to a
 * lower mode clears MPRV. */
#include "isa.h"

static uint64_t ecall_at(uint64_t arg) {
    (void)arg;
    uint64_t at;
    __asm__ volatile("lla %0, 1f\n\t"
                     "li a7, 0\n"
                     "1:\tecall"
                     : "=&r"(at)::"a7", "memory");
    return at;
}

static uint64_t u_ecall(uint64_t arg) {
    s_expect();
    return ecall_at(arg);
}

static uint64_t s_illegal(uint64_t arg) {
    (void)arg;
    csr_set(sstatus, MSTATUS_SIE);
    s_expect();
    uint64_t at;
    __asm__ volatile("lla %0, 1f\n"
                     "1:\t.4byte 0x0000000b"
                     : "=&r"(at)::"memory");
    /* sret restored SIE from SPIE */
    CHECK_EQ(csr_read(sstatus) & MSTATUS_SIE, MSTATUS_SIE);
    csr_clear(sstatus, MSTATUS_SIE);
    return at;
}

static uint64_t u_ebreak(uint64_t arg) {
    (void)arg;
    s_expect();
    __asm__ volatile("ebreak");
    return 0;
}

static void exceptions(void) {
    s_trap_init();
    /* U ecall to S */
    csr_write(medeleg, BIT(CAUSE_USER_ECALL));
    m_expect();
    uint64_t at = call_in_mode(PRV_U, u_ecall, 0);
    CHECK_TRAP(s_trap, CAUSE_USER_ECALL);
    CHECK_EQ(s_trap.epc, at);
    CHECK_EQ(s_trap.tval, 0);
    CHECK_EQ(s_trap.prev_priv, PRV_U);
    CHECK_NO_TRAP(m_trap); /* M saw only call_in_mode's return */
    /* S ecall is not delegated: M */
    m_expect();
    at = call_in_mode(PRV_S, ecall_at, 0);
    CHECK_TRAP(m_trap, CAUSE_SUPERVISOR_ECALL);
    CHECK_EQ(m_trap.epc, at);

    /* illegal instruction in S to S: SPP = S, SPIE = SIE, SIE = 0 */
    csr_write(medeleg, BIT(CAUSE_ILLEGAL_INSTRUCTION) | BIT(CAUSE_BREAKPOINT));
    at = call_in_mode(PRV_S, s_illegal, 0);
    CHECK_TRAP(s_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(s_trap.epc, at);
    CHECK(s_trap.tval == 0 || s_trap.tval == 0x0000000b);
    CHECK_EQ(s_trap.prev_priv, PRV_S);
    CHECK_EQ(s_trap.status & (MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP),
             MSTATUS_SPIE | MSTATUS_SPP);
    /* breakpoint in U to S */
    call_in_mode(PRV_U, u_ebreak, 0);
    CHECK_TRAP(s_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(s_trap.prev_priv, PRV_U);
    /* delegation never applies to traps taken in M */
    m_expect();
    __asm__ volatile(".4byte 0x0000000b");
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    csr_write(medeleg, 0);
    /* and without delegation the same trap from S goes to M */
    m_expect();
    call_in_mode(PRV_S, ecall_at, 0);
    CHECK_TRAP(m_trap, CAUSE_SUPERVISOR_ECALL);
}

/* ---------------------------------------------------------------- interrupts */
static volatile uint64_t s_irqs, m_irqs, last_irq;

static int s_ssip_handler(uint64_t cause, struct trap_frame *f) {
    (void)f;
    last_irq = cause;
    s_irqs++;
    csr_clear(sip, MIP_SSIP);
    return 1;
}

static int m_ssip_handler(uint64_t cause, struct trap_frame *f) {
    (void)f;
    last_irq = cause;
    m_irqs++;
    csr_clear(mip, MIP_SSIP);
    return 1;
}

/* in S: pending SSIP waits for SIE, then traps to the S handler */
static uint64_t s_soft_irq(uint64_t arg) {
    (void)arg;
    csr_clear(sstatus, MSTATUS_SIE);
    csr_set(sip, MIP_SSIP);
    __asm__ volatile("nop");
    uint64_t before = s_irqs;
    csr_set(sstatus, MSTATUS_SIE);
    __asm__ volatile("nop");
    csr_clear(sstatus, MSTATUS_SIE);
    return before * 16 + s_irqs;
}

/* in U: a delegated interrupt is taken whatever sstatus.SIE says */
static uint64_t u_wait(uint64_t arg) {
    (void)arg;
    for (int i = 0; i < 100 && s_irqs + m_irqs == 0; i++)
        __asm__ volatile("nop");
    return s_irqs * 16 + m_irqs;
}

/* in S with SIE = 0: an interrupt not delegated goes to M */
static uint64_t s_wait(uint64_t arg) {
    return u_wait(arg);
}

static void interrupts(void) {
    s_irq = s_ssip_handler;
    m_irq = m_ssip_handler;
    csr_write(mideleg, MIP_SSIP);
    csr_write(mie, MIP_SSIP);
    /* S-mode, SIE gating */
    s_irqs = m_irqs = 0;
    CHECK_EQ(call_in_mode(PRV_S, s_soft_irq, 0), 0x01);
    CHECK_EQ(last_irq, CAUSE_INTERRUPT | IRQ_S_SOFT);
    CHECK_EQ(m_irqs, 0);
    /* U-mode: taken by S although sstatus.SIE = 0 */
    s_irqs = m_irqs = 0;
    csr_clear(mstatus, MSTATUS_SIE);
    csr_set(mip, MIP_SSIP);
    CHECK_EQ(call_in_mode(PRV_U, u_wait, 0), 0x10);
    /* M-mode: a delegated interrupt is never taken, even with MIE = 1 */
    s_irqs = m_irqs = 0;
    csr_set(mip, MIP_SSIP);
    csr_set(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100; i++)
        __asm__ volatile("nop");
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK_EQ(s_irqs + m_irqs, 0);
    CHECK_EQ(csr_read(mip) & MIP_SSIP, MIP_SSIP);
    csr_clear(mip, MIP_SSIP);
    /* not delegated: taken in M from S even with MIE = 0 */
    csr_write(mideleg, 0);
    s_irqs = m_irqs = 0;
    csr_set(mip, MIP_SSIP);
    CHECK_EQ(call_in_mode(PRV_S, s_wait, 0), 0x01);
    CHECK_EQ(last_irq, CAUSE_INTERRUPT | IRQ_S_SOFT);
    csr_write(mie, 0);
    s_irq = NULL;
    m_irq = NULL;
}

/* ---------------------------------------------------------------- xRET */
static uint64_t s_sret(uint64_t arg) {
    (void)arg;
    uint64_t status;
    /* sret to S: SIE = SPIE, SPIE = 1, SPP = U */
    csr_set(sstatus, MSTATUS_SPP);
    csr_clear(sstatus, MSTATUS_SPIE | MSTATUS_SIE);
    __asm__ volatile("lla t0, 1f\n\t"
                     "csrw sepc, t0\n\t"
                     "sret\n"
                     "1:\tcsrr %0, sstatus"
                     : "=r"(status)::"t0", "memory");
    CHECK_EQ(status & (MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE), MSTATUS_SPIE);
    csr_set(sstatus, MSTATUS_SPP | MSTATUS_SPIE);
    __asm__ volatile("lla t0, 1f\n\t"
                     "csrw sepc, t0\n\t"
                     "sret\n"
                     "1:\tcsrr %0, sstatus"
                     : "=r"(status)::"t0", "memory");
    CHECK_EQ(status & (MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE), MSTATUS_SPIE | MSTATUS_SIE);
    csr_clear(sstatus, MSTATUS_SIE);
    return 1;
}

static void xret(void) {
    uint64_t status;
    /* mret to M: MIE = MPIE (0), MPIE = 1, MPP = U */
    csr_set(mstatus, MSTATUS_MPP | MSTATUS_MIE);
    csr_clear(mstatus, MSTATUS_MPIE);
    __asm__ volatile("lla t0, 1f\n\t"
                     "csrw mepc, t0\n\t"
                     "mret\n"
                     "1:\tcsrr %0, mstatus"
                     : "=r"(status)::"t0", "memory");
    CHECK_EQ(status & (MSTATUS_MIE | MSTATUS_MPIE), MSTATUS_MPIE);
    CHECK_EQ((status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_U);
    CHECK_EQ(call_in_mode(PRV_S, s_sret, 0), 1);
#ifndef QEMU_DEVIATIONS
    /* mret to a lower mode clears MPRV (privileged spec 1.12; QEMU 7.2
     * leaves it set) */
    csr_set(mstatus, MSTATUS_MPRV);
    s_irqs = m_irqs = 0;
    CHECK_EQ(call_in_mode(PRV_S, s_wait, 0), 0);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_MPRV, 0);
#endif
}

void test_main(void) {
    exceptions();
    interrupts();
    xret();
}
