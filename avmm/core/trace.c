/*
 * Traces of what the core does on its own: traps and interrupts taken, and
 * fetched instructions (pc, raw bits), into a per-hart buffer the VMM drains
 * (Hart.take_trace). Off, a hart pays one flag test per trap and per slow
 * fetch; instruction tracing turns off the fetch fast path (every fetch takes
 * the slow path), as breakpoints do. A full buffer ends the slice with
 * EXIT_DEBUG / DEBUG_TRACE before the next traced fetch; a trap that finds it
 * full is counted in trace_lost.
 */
#include <stdlib.h>

#include "core.h"

bool trace_set(hart_t *h, unsigned flags, uint64_t lo, uint64_t hi, uint32_t capacity)
{
    if (!flags) {
        free(h->trace_buf);
        h->trace_buf = NULL;
        h->trace_cap = h->trace_len = 0;
        h->trace_flags = 0;
        return true;
    }
    if (capacity < 16)
        capacity = 16;
    if (capacity != h->trace_cap) {
        trace_rec_t *buf = realloc(h->trace_buf, capacity * sizeof(*buf));
        if (!buf)
            return false;
        h->trace_buf = buf;
        h->trace_cap = capacity;
        if (h->trace_len > capacity)
            h->trace_len = capacity;
    }
    h->trace_flags = flags;
    h->trace_lo = lo;
    h->trace_hi = hi;
    return true;
}

void trace_trap(hart_t *h, uint64_t pc, uint64_t cause, uint64_t tval, bool irq, int from)
{
    if (h->trace_len >= h->trace_cap) {
        h->trace_lost++;
        return;
    }
    trace_rec_t *r = &h->trace_buf[h->trace_len++];
    r->pc = pc;
    r->a = cause;
    r->b = tval;
    r->kind = irq ? TR_IRQ : TR_TRAP;
    r->from = (uint8_t)from;
    r->to = (uint8_t)h->priv;
}

bool trace_insn(hart_t *h, uint64_t pc, uint32_t insn)
{
    if (pc < h->trace_lo || pc > h->trace_hi)
        return true;
    /* keep room for the traps this instruction may take */
    if (h->trace_len + 4 > h->trace_cap)
        return false;
    trace_rec_t *r = &h->trace_buf[h->trace_len++];
    r->pc = pc;
    r->a = insn;
    r->b = 0;
    r->kind = TR_INSN;
    r->from = r->to = (uint8_t)h->priv;
    return true;
}
