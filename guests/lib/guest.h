/* avmm bare-metal guest runtime: everything a guest includes.
 *
 * Boot (crt0.S): every hart enters _start in M-mode. Each gets its own stack
 * and trap stack, mtvec = the runtime's trap entry and FP enabled. Hart 0
 * clears .bss, sets up thread-local storage and runs main(); exit(main()).
 * The other harts wait for that set-up, then call secondary_main(hartid),
 * whose weak default parks the hart in wfi.
 *
 * Console and exit are chosen when the guest is built (see toolchain.py):
 * HTIF (tohost/fromhost, Spike/avmm) or an NS16550A UART at 0x10000000, and
 * HTIF or the SiFive test device at 0x100000 (QEMU virt / avmm board).
 * picolibc's stdin/stdout/stderr write to the console. */
#ifndef AVMM_GUEST_H
#define AVMM_GUEST_H

#include <stdint.h>

#include "clint.h"
#include "config.h"
#include "csr.h"

/* Exit code of a run stopped by an unexpected trap. */
#define GUEST_EXIT_TRAP 255

/* ------------------------------------------------------------ console */
void console_putchar(char c);
void console_write(const char *s, unsigned long len);
void console_puts(const char *s); /* no newline added */
void console_put_hex(uint64_t value); /* 0x + 16 digits */
void console_put_dec(uint64_t value);
/* The console lock is per character by default; hold it around several
 * calls to keep a line together. Re-entrant on the same hart. */
void console_lock(void);
void console_unlock(void);

/* ------------------------------------------------------------ exit */
/* Ends the whole run (every hart): 0 = pass, anything else = fail code. */
__attribute__((noreturn)) void guest_exit(int code);

/* ------------------------------------------------------------ traps */
/* What the M-mode trap entry saved; hooks may change any of it (x[2] is sp,
 * epc/status are written back to mepc/mstatus before mret). */
struct trap_frame {
    uint64_t x[32];
    uint64_t epc;
    uint64_t cause;
    uint64_t tval;
    uint64_t status;
};
/* A hook returns nonzero when it handled the trap; otherwise the default
 * handler reports the unexpected trap (cause, tval, epc) and exits with
 * GUEST_EXIT_TRAP. The hook runs with interrupts off on the trap stack and
 * must not use FP registers (they are not saved). */
typedef int (*trap_hook_t)(struct trap_frame *frame);
void trap_set_hook(trap_hook_t hook);
/* The M-mode trap entry (mtvec, direct mode) installed by crt0. It keeps
 * the hart's trap stack in mscratch: guests must not change mscratch. */
extern char trap_entry[];
__attribute__((noreturn)) void trap_report(const struct trap_frame *frame, const char *what);

/* ------------------------------------------------------------ harts */
/* This hart's id, without a CSR read (works in any privilege mode). */
extern __thread unsigned long guest_tls_hartid;
static inline unsigned long hartid(void) { return guest_tls_hartid; }
int main(void);
void secondary_main(unsigned long id); /* weak default: wfi forever */

static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }

/* Minimal spinlock (amoswap acquire / release). */
typedef struct {
    volatile uint32_t locked;
} spinlock_t;
static inline void spin_lock(spinlock_t *l) {
    uint32_t one = 1, old;
    do {
        __asm__ volatile("amoswap.w.aq %0, %2, %1" : "=r"(old), "+A"(l->locked) : "r"(one) : "memory");
    } while (old != 0);
}
static inline void spin_unlock(spinlock_t *l) {
    __asm__ volatile("amoswap.w.rl zero, zero, %0" : "+A"(l->locked)::"memory");
}

#endif
