/* Runtime self-test: a hook handles a trap and resumes; without a hook the
 * default handler reports an unexpected trap (cause, tval, epc) and ends
 * the run with GUEST_EXIT_TRAP, even when gp and tp hold garbage. */
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
    /* the report must not rely on the trapping code's gp and tp */
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "li gp, 0x1234\n\t"
                     "li tp, 0x5678\n"
                     ".globl unexpected_insn\n"
                     "unexpected_insn:\n\t"
                     ".4byte 0x0000000b\n\t" /* custom-0: illegal */
                     ".option pop");
    return 0;
}
