/* Runtime self-test: a load from an unmapped address is reported by the
 * default trap handler (cause, tval, epc) and ends the run with
 * GUEST_EXIT_TRAP; a hook can handle a trap and resume. */
#include <stdio.h>

#include "guest.h"

static int ebreak_hook(struct trap_frame *f) {
    if (f->cause != CAUSE_BREAKPOINT)
        return 0;
    f->x[10] = 0x1234; /* a0 */
    f->epc += 2;       /* c.ebreak */
    return 1;
}

int main(void) {
    trap_set_hook(ebreak_hook);
    register long a0 __asm__("a0") = 0;
    __asm__ volatile("c.ebreak" : "+r"(a0));
    if (a0 != 0x1234)
        return 1;
    printf("hook handled ebreak\n");
    trap_set_hook(NULL);
    volatile uint64_t *bad = (volatile uint64_t *)0x50000000UL;
    (void)*bad;
    return 0;
}
