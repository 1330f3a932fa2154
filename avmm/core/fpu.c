/*
 * F and D instruction semantics (thin version: not implemented yet, every
 * F/D computational instruction is an illegal instruction).
 */
#include "core.h"

int exec_fp(hart_t *h, uint32_t insn)
{
    h->exc_cause = CAUSE_ILLEGAL;
    h->exc_tval = insn;
    return MEM_EXC;
}
