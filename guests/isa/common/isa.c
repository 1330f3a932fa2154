/* The ISA test harness: main, failure reports, trap expectations. */
#include <stdio.h>

#include "isa.h"

volatile struct trap_info m_trap, s_trap;
volatile uint64_t m_resume, s_resume;
volatile irq_hook_t m_irq, s_irq;
static volatile int m_armed, s_armed;

/* Where call_in_mode resumes in M-mode and the stack it left. */
extern char mode_return[], isa_wfi_site[], isa_wfi_site_lower[];
extern volatile uint64_t mode_saved_sp;
static volatile uint64_t s_stack_top;

void isa_fail(unsigned line, const char *what, uint64_t got, uint64_t want, int has_values) {
    console_lock();
    printf("FAIL %s:%u: %s", TEST_NAME, line, what);
    if (has_values)
        printf(" (got 0x%016lx, want 0x%016lx)", (unsigned long)got, (unsigned long)want);
    printf("\n");
    console_unlock();
    guest_exit((int)line);
}

/* Failure of a check written in assembly (line, got, want). */
__attribute__((noreturn)) void isa_c_fail(uint64_t line, uint64_t got, uint64_t want);
void isa_c_fail(uint64_t line, uint64_t got, uint64_t want) {
    isa_fail((unsigned)line, "assembly check", got, want, 1);
}

void m_expect(void) {
    m_trap.taken = 0;
    m_trap.cause = ~0ULL;
    m_armed = 1;
    fence();
}

void s_expect(void) {
    s_trap.taken = 0;
    s_trap.cause = ~0ULL;
    s_armed = 1;
    fence();
}

static int m_hook(struct trap_frame *f) {
    uint64_t prev = (f->status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
    if (f->cause & CAUSE_INTERRUPT) {
        irq_hook_t hook = m_irq;
        if (hook == NULL || !hook(f->cause, f))
            return 0;
        /* taken just before the wfi of wfi_interruptible/wfi_lower: skip it */
        if (f->epc == (uint64_t)isa_wfi_site || f->epc == (uint64_t)isa_wfi_site_lower)
            f->epc += 4;
        return 1;
    }
    if ((f->cause == CAUSE_USER_ECALL || f->cause == CAUSE_SUPERVISOR_ECALL) &&
        f->x[17] == MODE_MAGIC) {
        /* Return from call_in_mode: back to M at mode_return, a0 kept. */
        f->epc = (uint64_t)mode_return;
        f->status |= MSTATUS_MPP;
        f->x[2] = mode_saved_sp;
        if (s_stack_top != 0)
            csr_write(sscratch, s_stack_top); /* an S handler forwarded it */
        return 1;
    }
    if (!m_armed)
        return 0;
    m_armed = 0;
    m_trap.cause = f->cause;
    m_trap.tval = f->tval;
    m_trap.epc = f->epc;
    m_trap.prev_priv = prev;
    m_trap.status = f->status;
    m_trap.taken++;
    if (m_resume != 0) {
        f->epc = m_resume;
        m_resume = 0;
    } else if (f->cause == CAUSE_FETCH_ACCESS || f->cause == CAUSE_FETCH_PAGE_FAULT ||
               f->cause == CAUSE_MISALIGNED_FETCH) {
        isa_fail(__LINE__, "instruction fetch fault without m_resume", f->cause, f->epc, 1);
    } else {
        /* Read the instruction as the trapping mode would (MPRV), for traps
         * from S/U under paging. Only whole-page mappings are used. */
        uint64_t half;
        uint64_t mprv = prev != PRV_M ? MSTATUS_MPRV | MSTATUS_MXR : 0;
        uint64_t sum = MSTATUS_SUM;
        __asm__ volatile("csrs mstatus, %1\n\t"
                         "csrs mstatus, %2\n\t"
                         "lhu %0, 0(%3)\n\t"
                         "csrc mstatus, %1\n\t"
                         "csrc mstatus, %2"
                         : "=&r"(half)
                         : "r"(mprv), "r"(sum), "r"(f->epc)
                         : "memory");
        f->epc += (half & 3) == 3 ? 4 : 2;
    }
    return 1;
}

void s_trap_dispatch(struct trap_frame *f);
void s_trap_dispatch(struct trap_frame *f) {
    if (f->cause & CAUSE_INTERRUPT) {
        irq_hook_t hook = s_irq;
        if (hook != NULL && hook(f->cause, f))
            return;
        isa_fail(__LINE__, "unexpected interrupt in S-mode", f->cause, f->epc, 1);
    }
    if (f->cause == CAUSE_USER_ECALL && f->x[17] == MODE_MAGIC) {
        register uint64_t a0 __asm__("a0") = f->x[10];
        register uint64_t a7 __asm__("a7") = MODE_MAGIC;
        __asm__ volatile("ecall" ::"r"(a0), "r"(a7) : "memory");
        for (;;)
            ;
    }
    if (!s_armed)
        isa_fail(__LINE__, "unexpected trap in S-mode (scause got, sepc want)", f->cause, f->epc,
                 1);
    s_armed = 0;
    s_trap.cause = f->cause;
    s_trap.tval = f->tval;
    s_trap.epc = f->epc;
    s_trap.prev_priv = (f->status & MSTATUS_SPP) ? PRV_S : PRV_U;
    s_trap.status = f->status;
    s_trap.taken++;
    if (s_resume != 0) {
        f->epc = s_resume;
        s_resume = 0;
    } else if (f->cause == CAUSE_FETCH_ACCESS || f->cause == CAUSE_FETCH_PAGE_FAULT ||
               f->cause == CAUSE_MISALIGNED_FETCH) {
        isa_fail(__LINE__, "instruction fetch fault without s_resume", f->cause, f->epc, 1);
    } else {
        uint64_t half;
        __asm__ volatile("csrs sstatus, %1\n\t"
                         "lhu %0, 0(%2)\n\t"
                         "csrc sstatus, %1"
                         : "=&r"(half)
                         : "r"(MSTATUS_SUM | MSTATUS_MXR), "r"(f->epc)
                         : "memory");
        f->epc += (half & 3) == 3 ? 4 : 2;
    }
}

__attribute__((noreturn)) void s_trap_nested(uint64_t cause, uint64_t epc);
void s_trap_nested(uint64_t cause, uint64_t epc) {
    isa_fail(__LINE__, "trap inside the S-mode trap handler (scause got, sepc want)", cause, epc,
             1);
}

static uint8_t s_stack[8192] __attribute__((aligned(16)));

void s_trap_init(void) {
    s_stack_top = (uint64_t)(s_stack + sizeof s_stack);
    csr_write(sscratch, s_stack_top);
    csr_write(stvec, (uint64_t)s_trap_entry);
}

int main(void) {
    trap_set_hook(m_hook);
    test_main();
    printf("PASS %s\n", TEST_NAME);
    return 0;
}
