/* Two harts: hart 0 wakes hart 1 from wfi with a software interrupt
 * through the CLINT (first with MIE = 0, then taken as an interrupt), and
 * both harts sleep on their own mtimecmp until their timers fire. */
#include "isa.h"

static volatile uint64_t state __attribute__((aligned(64)));
static volatile uint64_t irqs_on_1;
static volatile uint64_t timers_fired;

static int on_irq(uint64_t cause, struct trap_frame *f) {
    (void)f;
    unsigned long me = hartid();
    if (cause == (CAUSE_INTERRUPT | IRQ_M_SOFT)) {
        clint_msip(me, 0);
        if (me == 1)
            irqs_on_1++;
        return 1;
    }
    if (cause == (CAUSE_INTERRUPT | IRQ_M_TIMER)) {
        clint_disarm(me);
        __atomic_fetch_add(&timers_fired, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    return 0;
}

static void sleep_on_timer(unsigned long me, uint64_t ticks) {
    uint64_t before = timers_fired;
    csr_write(mie, MIP_MTIP);
    uint64_t deadline = clint_mtime() + ticks;
    clint_set_mtimecmp(me, deadline);
    while (timers_fired == before)
        wfi_interruptible();
    csr_write(mie, 0);
    CHECK(clint_mtime() >= deadline);
}

void secondary_main(unsigned long id) {
    if (id != 1)
        for (;;)
            wfi();
    /* 1: woken with MIE = 0 */
    csr_write(mie, MIP_MSIP);
    state = 1;
    while ((csr_read(mip) & MIP_MSIP) == 0)
        wfi();
    clint_msip(1, 0);
    state = 2;
    /* 2: the interrupt is taken */
    state = 3;
    while (irqs_on_1 == 0)
        wfi_interruptible();
    csr_write(mie, 0);
    state = 4;
    /* 3: sleep on its own timer */
    sleep_on_timer(1, 3000);
    state = 5;
    for (;;)
        wfi();
}

void test_main(void) {
    m_irq = on_irq;
    clint_disarm(0);
    clint_disarm(1);
    while (state < 1)
        ;
    clint_msip(1, 1);
    while (state < 2)
        ;
    CHECK_EQ(*CLINT_MSIP(1), 0);
    while (state < 3)
        ;
    clint_msip(1, 1);
    while (state < 4)
        ;
    CHECK_EQ(irqs_on_1, 1);
    /* both harts asleep on timers at the same time */
    sleep_on_timer(0, 6000);
    while (state < 5)
        ;
    CHECK_EQ(timers_fired, 2);
}
