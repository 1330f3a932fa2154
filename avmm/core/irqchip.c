/*
 * In-core CLINT and PLIC (the fast path when the VM wants its irqchip in the
 * core). Register layouts follow QEMU's virt board (README, "The machine").
 */
#include "core.h"

#define CLINT_SIZE 0x10000u
#define CLINT_MTIMECMP 0x4000u
#define CLINT_MTIME 0xbff8u
#define PLIC_SIZE 0x600000u
#define PLIC_PENDING 0x1000u
#define PLIC_ENABLE 0x2000u
#define PLIC_CONTEXT 0x200000u

bool clint_hit(machine_t *m, uint64_t pa)
{
    return m->clint_on && pa - m->clint_base < CLINT_SIZE;
}

bool plic_hit(machine_t *m, uint64_t pa)
{
    return m->plic && pa - m->plic->base < PLIC_SIZE;
}

/* 64-bit register read as 64 bits or as a 32-bit half */
static uint64_t reg64_read(uint64_t v, uint64_t off, unsigned size)
{
    if (size == 8 && !(off & 7))
        return v;
    if (size == 4 && !(off & 3))
        return (off & 4) ? v >> 32 : (uint32_t)v;
    return 0;
}

uint64_t clint_read(machine_t *m, uint64_t off, unsigned size)
{
    if (off < CLINT_MTIMECMP) {
        uint64_t j = off / 4;
        if (size == 4 && !(off & 3) && j < (uint64_t)m->nharts)
            return (m->harts[j]->lines & MIP_MSIP) ? 1 : 0;
        return 0;
    }
    if (off < CLINT_MTIME) {
        uint64_t j = (off - CLINT_MTIMECMP) / 8;
        if (j < (uint64_t)m->nharts)
            return reg64_read(m->harts[j]->mtimecmp, off, size);
        return 0;
    }
    if (off < CLINT_MTIME + 8)
        return reg64_read(machine_time(m), off, size);
    return 0;
}

int clint_write(machine_t *m, hart_t *by, uint64_t off, unsigned size, uint64_t val)
{
    if (off < CLINT_MTIMECMP) {
        uint64_t j = off / 4;
        if (size != 4 || (off & 3) || j >= (uint64_t)m->nharts)
            return MEM_OK;
        hart_t *t = m->harts[j];
        uint64_t old = t->lines;
        t->lines = (val & 1) ? old | MIP_MSIP : old & ~MIP_MSIP;
        if (val & 1)
            t->st.ipis++;
        if (t == by)
            return old != t->lines ? MEM_RECHECK : MEM_OK;
        if (old != t->lines || (val & 1))
            m->kicks |= 1ull << j;
        if ((val & 1) && m->ipi_exit) {
            by->exit_reason = EXIT_IPI;
            return MEM_EXIT;
        }
        return MEM_OK;
    }
    if (off < CLINT_MTIME) {
        uint64_t j = (off - CLINT_MTIMECMP) / 8;
        if (j >= (uint64_t)m->nharts)
            return MEM_OK;
        hart_t *t = m->harts[j];
        if (size == 8 && !(off & 7))
            t->mtimecmp = val;
        else if (size == 4 && !(off & 3)) {
            if (off & 4)
                t->mtimecmp = (t->mtimecmp & 0xffffffffull) | (val << 32);
            else
                t->mtimecmp = (t->mtimecmp & ~0xffffffffull) | (uint32_t)val;
        } else
            return MEM_OK;
        if (t == by)
            return MEM_RECHECK;
        m->kicks |= 1ull << j;
        return MEM_OK;
    }
    return MEM_OK; /* mtime is read-only here, as in the Python model */
}

/* ------------------------------------------------------------ PLIC */

static inline bool bit(const uint32_t *a, uint32_t i)
{
    return (a[i >> 5] >> (i & 31)) & 1;
}
static inline void set_bit(uint32_t *a, uint32_t i, bool v)
{
    if (v)
        a[i >> 5] |= 1u << (i & 31);
    else
        a[i >> 5] &= ~(1u << (i & 31));
}

static uint32_t nctx(machine_t *m)
{
    return 2u * (uint32_t)m->nharts;
}

/* highest-priority pending, enabled source above the context's threshold */
static uint32_t plic_best(plic_t *p, uint32_t ctx)
{
    uint32_t best = 0, bestp = p->threshold[ctx];
    for (uint32_t w = 0; w < (p->ndev + 31) / 32; w++) {
        uint32_t bits = p->pending[w] & ~p->claimed[w] & p->enable[ctx][w];
        while (bits) {
            uint32_t s = w * 32 + (uint32_t)__builtin_ctz(bits);
            bits &= bits - 1;
            if (s && s < p->ndev && p->prio[s] > bestp) {
                best = s;
                bestp = p->prio[s];
            }
        }
    }
    return best;
}

void plic_update(machine_t *m, hart_t *by)
{
    plic_t *p = m->plic;
    if (!p)
        return;
    for (int h = 0; h < m->nharts; h++) {
        hart_t *t = m->harts[h];
        uint64_t lines = t->lines & ~(MIP_MEIP | MIP_SEIP);
        if (plic_best(p, 2u * (uint32_t)h))
            lines |= MIP_MEIP;
        if (plic_best(p, 2u * (uint32_t)h + 1))
            lines |= MIP_SEIP;
        if (lines != t->lines) {
            t->lines = lines;
            if (t != by)
                m->kicks |= 1ull << h;
        }
    }
}

void plic_set_irq(machine_t *m, uint32_t src, bool level)
{
    plic_t *p = m->plic;
    if (!p || src == 0 || src >= p->ndev)
        return;
    /* QEMU virt's gateway: every assertion is a request (a device asserts
     * again when it has something new), a deassertion withdraws one; a request
     * made while the source is in service waits for its completion */
    set_bit(p->line, src, level);
    set_bit(p->pending, src, level);
    plic_update(m, NULL);
}

uint64_t plic_read(machine_t *m, hart_t *by, uint64_t off, unsigned size)
{
    plic_t *p = m->plic;
    if (size != 4 || (off & 3))
        return 0;
    if (off < PLIC_PENDING) {
        uint64_t s = off / 4;
        return (s && s < p->ndev) ? p->prio[s] : 0;
    }
    if (off < PLIC_ENABLE) {
        uint64_t w = (off - PLIC_PENDING) / 4;
        return w < PLIC_MAX_SRC / 32 ? p->pending[w] : 0;
    }
    if (off < PLIC_CONTEXT) {
        uint64_t ctx = (off - PLIC_ENABLE) / 0x80, w = ((off - PLIC_ENABLE) % 0x80) / 4;
        return (ctx < nctx(m) && w < PLIC_MAX_SRC / 32) ? p->enable[ctx][w] : 0;
    }
    uint64_t ctx = (off - PLIC_CONTEXT) / 0x1000, reg = (off - PLIC_CONTEXT) % 0x1000;
    if (ctx >= nctx(m))
        return 0;
    if (reg == 0)
        return p->threshold[ctx];
    if (reg == 4) {
        uint32_t s = plic_best(p, (uint32_t)ctx);
        if (s) {
            set_bit(p->pending, s, false);
            set_bit(p->claimed, s, true);
            plic_update(m, by);
        }
        return s;
    }
    return 0;
}

int plic_write(machine_t *m, hart_t *by, uint64_t off, unsigned size, uint64_t val)
{
    plic_t *p = m->plic;
    if (size != 4 || (off & 3))
        return MEM_OK;
    uint32_t v = (uint32_t)val;
    if (off < PLIC_PENDING) {
        uint64_t s = off / 4;
        if (!s || s >= p->ndev)
            return MEM_OK;
        p->prio[s] = v & 7;
    } else if (off < PLIC_ENABLE) {
        return MEM_OK; /* pending bits are read-only */
    } else if (off < PLIC_CONTEXT) {
        uint64_t ctx = (off - PLIC_ENABLE) / 0x80, w = ((off - PLIC_ENABLE) % 0x80) / 4;
        if (ctx >= nctx(m) || w >= PLIC_MAX_SRC / 32)
            return MEM_OK;
        uint32_t valid = ~0u;
        if (w == 0)
            valid &= ~1u; /* source 0 does not exist */
        if ((w + 1) * 32 > p->ndev)
            valid &= p->ndev > w * 32 ? (1u << (p->ndev - w * 32)) - 1 : 0;
        p->enable[ctx][w] = v & valid;
    } else {
        uint64_t ctx = (off - PLIC_CONTEXT) / 0x1000, reg = (off - PLIC_CONTEXT) % 0x1000;
        if (ctx >= nctx(m))
            return MEM_OK;
        if (reg == 0) {
            p->threshold[ctx] = v & 7;
        } else if (reg == 4) {
            if (!v || v >= p->ndev || !bit(p->claimed, v))
                return MEM_OK;
            /* the line is not sampled again: only a new assertion (or one
             * made while in service) makes the source pending */
            set_bit(p->claimed, v, false);
        } else {
            return MEM_OK;
        }
    }
    uint64_t before = by->lines;
    plic_update(m, by);
    return by->lines != before ? MEM_RECHECK : MEM_OK;
}
