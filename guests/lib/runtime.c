/* Per-hart start-up after crt0, the trap dispatcher and its default report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

/* Per hart; picolibc needs a few bytes (errno). guest.ld checks the size. */
#define GUEST_TLS_SIZE 256

extern char __tdata_start[], __tdata_end[], __tbss_end[];
extern void __libc_init_array(void);

/* Initialised (in .tdata) so the TLS template is never empty: guest.ld
 * relies on it. */
__thread unsigned long guest_tls_hartid = ~0UL;

static char tls_blocks[GUEST_MAX_HARTS][GUEST_TLS_SIZE] __attribute__((aligned(64)));
static trap_hook_t volatile trap_hook;

/* Called by crt0 on each hart with its stack set up (hart 0 after .bss is
 * clear): give the hart its own copy of the thread-local data. */
void __guest_hart_init(unsigned long id);
void __guest_hart_init(unsigned long id) {
    size_t data = (size_t)(__tdata_end - __tdata_start);
    size_t total = (size_t)(__tbss_end - __tdata_start);
    char *block = tls_blocks[id];
    memcpy(block, __tdata_start, data);
    memset(block + data, 0, total - data);
    __asm__ volatile("mv tp, %0" ::"r"(block));
    guest_tls_hartid = id;
}

__attribute__((noreturn)) void __guest_start_main(void);
__attribute__((noreturn)) void __guest_start_main(void) {
    __libc_init_array();
    exit(main());
}

__attribute__((weak)) void secondary_main(unsigned long id) {
    (void)id;
    for (;;)
        wfi();
}

void trap_set_hook(trap_hook_t hook) {
    trap_hook = hook;
    fence();
}

static const char *cause_name(uint64_t cause) {
    static const char *const exceptions[] = {
        "instruction address misaligned", "instruction access fault", "illegal instruction",
        "breakpoint", "load address misaligned", "load access fault",
        "store/AMO address misaligned", "store/AMO access fault", "ecall from U-mode",
        "ecall from S-mode", "reserved", "ecall from M-mode", "instruction page fault",
        "load page fault", "reserved", "store/AMO page fault",
    };
    static const char *const interrupts[] = {
        "reserved", "S software interrupt", "reserved", "M software interrupt",
        "reserved", "S timer interrupt", "reserved", "M timer interrupt",
        "reserved", "S external interrupt", "reserved", "M external interrupt",
    };
    uint64_t code = cause & ~CAUSE_INTERRUPT;
    if (cause & CAUSE_INTERRUPT)
        return code < sizeof interrupts / sizeof *interrupts ? interrupts[code] : "interrupt";
    return code < sizeof exceptions / sizeof *exceptions ? exceptions[code] : "exception";
}

/* The console lock is re-entrant, so this works when the trap hit the
 * hart inside a console call. */
static void report_line(uint64_t hart, const char *what, uint64_t cause, uint64_t tval,
                        uint64_t epc) {
    console_lock();
    console_puts("\n*** ");
    console_puts(what);
    console_puts(" on hart ");
    console_put_dec(hart);
    console_puts(": mcause=");
    console_put_hex(cause);
    console_puts(" (");
    console_puts(cause_name(cause));
    console_puts(") mtval=");
    console_put_hex(tval);
    console_puts(" mepc=");
    console_put_hex(epc);
    console_puts("\n");
    console_unlock();
}

void trap_report(const struct trap_frame *frame, const char *what) {
    report_line(csr_read(mhartid), what, frame->cause, frame->tval, frame->epc);
    guest_exit(GUEST_EXIT_TRAP);
}

void trap_dispatch(struct trap_frame *frame);
void trap_dispatch(struct trap_frame *frame) {
    trap_hook_t hook = trap_hook;
    if (hook != NULL && hook(frame))
        return;
    trap_report(frame, "unexpected trap");
}

__attribute__((noreturn)) void trap_nested(uint64_t cause, uint64_t epc, uint64_t tval);
__attribute__((noreturn)) void trap_nested(uint64_t cause, uint64_t epc, uint64_t tval) {
    report_line(csr_read(mhartid), "trap inside the trap handler", cause, tval, epc);
    guest_exit(GUEST_EXIT_TRAP);
}
