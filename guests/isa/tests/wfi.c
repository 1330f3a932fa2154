/* WFI: completes at once when an enabled interrupt is pending (even with
 * MIE = 0), sleeps until the timer fires otherwise (MIE = 0: execution goes
 * on after the wfi; MIE = 1: the interrupt is taken first); with
 * mstatus.TW = 1, wfi in S with nothing pending is an illegal instruction,
 * and so is wfi in U. */
#include "isa.h"

static volatile unsigned irqs;

static int on_irq(uint64_t cause, struct trap_frame *f) {
    (void)f;
    irqs++;
    if (cause == (CAUSE_INTERRUPT | IRQ_M_TIMER))
        clint_disarm(0);
    else if (cause == (CAUSE_INTERRUPT | IRQ_M_SOFT))
        clint_msip(0, 0);
    else
        return 0;
    return 1;
}

static uint64_t s_wfi(uint64_t arg) {
    (void)arg;
    m_expect();
    wfi();
    return m_trap.taken;
}

static uint64_t s_wfi_until_irq(uint64_t before) {
    while (irqs == before)
        wfi_lower();
    return irqs;
}

void test_main(void) {
    m_irq = on_irq;
    clint_disarm(0);
    /* pending and enabled in mie, MIE = 0: wfi is a nop, no trap */
    csr_write(mie, MIP_MSIP);
    clint_msip(0, 1);
    for (int i = 0; i < 10; i++)
        wfi();
    CHECK_EQ(irqs, 0);
    CHECK_EQ(csr_read(mip) & MIP_MSIP, MIP_MSIP);
    clint_msip(0, 0);

    /* timer wakes a wfi with MIE = 0 */
    csr_write(mie, MIP_MTIP);
    uint64_t deadline = clint_mtime() + 5000;
    clint_set_mtimecmp(0, deadline);
    while ((csr_read(mip) & MIP_MTIP) == 0)
        wfi();
    CHECK(clint_mtime() >= deadline);
    CHECK_EQ(irqs, 0);

    /* with MIE = 1 the interrupt is taken, then execution follows the wfi */
    deadline = clint_mtime() + 5000;
    clint_set_mtimecmp(0, deadline);
    while (irqs == 0)
        wfi_interruptible();
    CHECK_EQ(irqs, 1);
    CHECK(clint_mtime() >= deadline);

    /* TW = 1: wfi in S that would wait is an illegal instruction */
    csr_write(mie, 0);
    csr_set(mstatus, MSTATUS_TW);
    CHECK_EQ(call_in_mode(PRV_S, s_wfi, 0), 1);
    CHECK_EQ(m_trap.cause, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    csr_clear(mstatus, MSTATUS_TW);
    /* with S-mode present, wfi in U that would wait is an illegal instruction
     * (whatever TW says) */
    csr_write(mie, 0);
    CHECK_EQ(call_in_mode(PRV_U, s_wfi, 0), 1);
    CHECK_EQ(m_trap.cause, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.prev_priv, PRV_U);
    /* TW = 0: wfi in S sleeps until the M timer interrupt, taken from S
     * whatever MIE says */
    csr_write(mie, MIP_MTIP);
    deadline = clint_mtime() + 5000;
    clint_set_mtimecmp(0, deadline);
    CHECK_EQ(call_in_mode(PRV_S, s_wfi_until_irq, 1), 2);
    CHECK(clint_mtime() >= deadline);
    csr_write(mie, 0);
}
