/* Harness of the ISA test programs in guests/isa/tests.
 *
 * A test defines test_main(); it passes when test_main returns (the harness
 * prints "PASS <name>" and exits 0). A failed CHECK prints
 * "FAIL <file>:<line>: <what>" and exits with the line number as the code,
 * so the exit code alone identifies the failing check.
 *
 * Traps: the harness's M-mode hook treats a trap as a failure unless the
 * test armed it with m_expect() (or s_expect() for a trap taken in S-mode
 * through s_trap_entry). An armed trap is recorded in m_trap / s_trap and
 * execution resumes after the trapping instruction (or at m_resume /
 * s_resume when set). Interrupts go to m_irq / s_irq when set.
 *
 * call_in_mode(PRV_S or PRV_U, fn, arg) runs fn(arg) in that mode and
 * returns its result in M-mode. */
#ifndef ISA_H
#define ISA_H

#ifndef TEST_NAME
#error "build with -DTEST_NAME=\"name\""
#endif

#define MODE_MAGIC 0x4d4f4445 /* a7 of the ecall that returns from call_in_mode */

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

void test_main(void);

__attribute__((noreturn)) void isa_fail(unsigned line, const char *what, uint64_t got,
                                        uint64_t want, int has_values);

#define CHECK(cond)                                  \
    do {                                             \
        if (!(cond))                                 \
            isa_fail(__LINE__, #cond, 0, 0, 0);      \
    } while (0)
#define CHECK_EQ(got, want)                                        \
    do {                                                           \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want); \
        if (got_ != want_)                                         \
            isa_fail(__LINE__, #got " == " #want, got_, want_, 1); \
    } while (0)

struct trap_info {
    uint64_t taken; /* traps recorded since the last *_expect() */
    uint64_t cause;
    uint64_t tval;
    uint64_t epc;
    uint64_t prev_priv; /* mode the trap came from (MPP / SPP) */
    uint64_t status;    /* mstatus / sstatus as the handler saw it */
};
extern volatile struct trap_info m_trap, s_trap;
extern volatile uint64_t m_resume, s_resume;
void m_expect(void);
void s_expect(void);

/* Exactly one trap with this cause since *_expect(). */
#define CHECK_TRAP(info, want_cause)                 \
    do {                                             \
        CHECK_EQ((info).taken, 1);                   \
        CHECK_EQ((info).cause, (want_cause));        \
    } while (0)
#define CHECK_NO_TRAP(info) CHECK_EQ((info).taken, 0)

/* Interrupt hooks: return nonzero when handled. */
typedef int (*irq_hook_t)(uint64_t cause, struct trap_frame *frame);
extern volatile irq_hook_t m_irq, s_irq;

/* Wait for an interrupt without losing one that arrives just before the
 * wfi: wfi_interruptible() in M (enables MIE around one wfi), wfi_lower()
 * in S or U. Call them in a loop that checks what the handler did. */
void wfi_interruptible(void);
void wfi_lower(void);

uint64_t call_in_mode(unsigned priv, uint64_t (*fn)(uint64_t), uint64_t arg);
/* Same with the lower mode's stack pointer (for U-mode under paging). */
uint64_t call_in_mode_sp(unsigned priv, uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t sp);

/* stvec = s_trap_entry with its own S-mode stack; s_trap_dispatch handles
 * s_expect()ed traps, s_irq and forwards call_in_mode returns to M. */
void s_trap_init(void);
extern char s_trap_entry[];

/* Length of the instruction at addr (2 or 4), read as the current mode. */
static inline unsigned insn_length(uint64_t addr) {
    return (*(volatile uint16_t *)addr & 3) == 3 ? 4 : 2;
}

#define USER_TEXT __attribute__((section(".user.text"), noinline))
#define USER_DATA __attribute__((section(".user.data")))
#endif

#endif
