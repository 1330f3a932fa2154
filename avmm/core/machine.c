/*
 * The machine: RAM slots, harts, guest clock, reservations and dirty logs.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "core.h"
#include "jit.h"

const char *const exit_names[EXIT_COUNT] = {
    "budget", "mmio_read", "mmio_write", "ecall", "wfi",
    "pause", "debug", "htif", "ipi", "internal_error",
};

uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

machine_t *machine_new(uint64_t timebase)
{
    machine_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->timebase = timebase;
    m->ips = 100000000;
    m->pause_window = 1;
    m->wfi_window = 16;
    m->clock_mode = CLOCK_HOST;
    m->host_origin_ns = host_ns();
    /* zeroed entries are valid: raw 0 decodes to the illegal instruction */
    m->dc = calloc((size_t)1 << DC_BITS, sizeof(dinsn_t));
    if (!m->dc) {
        free(m);
        return NULL;
    }
    /* translation is on by default; AVMM_JIT=0 in the environment turns it off */
    const char *env = getenv("AVMM_JIT");
    m->jit_on = jit_unavailable_reason() == NULL && !(env && strcmp(env, "0") == 0);
    return m;
}

void machine_free(machine_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nharts; i++) {
        free(m->harts[i]->trace_buf);
        free(m->harts[i]);
    }
    free(m->plic);
    free(m->btlbs);
    free(m->dc);
    jit_free(m);
    free(m);
}

/* ------------------------------------------------------------ RAM */

ram_slot_t *ram_slot_new(uint64_t base, uint64_t size)
{
    ram_slot_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->maplen = size + 2 * PAGE_SIZE;
    /* lazily committed; one PROT_NONE guard page on each side so a stray
     * host access faults instead of corrupting a neighbour */
    s->map = mmap(NULL, s->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
    if (s->map == MAP_FAILED)
        goto fail;
    s->host = (uint8_t *)s->map + PAGE_SIZE;
    if (mprotect(s->host, size, PROT_READ | PROT_WRITE) != 0) {
        munmap(s->map, s->maplen);
        goto fail;
    }
    s->dirty = calloc((size / PAGE_SIZE + 7) / 8 + 1, 1);
    s->jit_hostw = calloc((size / PAGE_SIZE + 63) / 64 + 1, sizeof(uint64_t));
    if (!s->dirty || !s->jit_hostw) {
        free(s->dirty);
        free(s->jit_hostw);
        munmap(s->map, s->maplen);
        goto fail;
    }
    s->base = base;
    s->size = size;
    return s;
fail:
    free(s);
    return NULL;
}

void ram_slot_free(ram_slot_t *s)
{
    if (!s)
        return;
    munmap(s->map, s->maplen);
    free(s->dirty);
    if (s->jit_snap)
        for (uint64_t pg = 0; pg < s->size >> 12; pg++)
            free(s->jit_snap[pg]);
    free(s->jit_snap);
    free(s->jit_pages);
    free(s->jit_smc);
    free(s->jit_hostw);
    free(s);
}

const char *machine_add_slot(machine_t *m, ram_slot_t *s)
{
    if (m->nslots >= MAX_SLOTS)
        return "too many RAM slots";
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *o = m->slots[i];
        if (s->base < o->base + o->size && o->base < s->base + s->size)
            return "RAM slot overlaps another slot";
    }
    s->index = m->nslots;
    m->slots[m->nslots++] = s;
    machine_fc_invalidate(m, false);
    return NULL;
}

void ram_mark_dirty(ram_slot_t *s, uint64_t off, uint64_t len)
{
    if (!len || off >= s->size)
        return;
    if (len > s->size - off)
        len = s->size - off;
    for (uint64_t pg = off >> 12; pg <= (off + len - 1) >> 12; pg++)
        s->dirty[pg >> 3] |= (uint8_t)(1u << (pg & 7));
}

void machine_host_wrote(machine_t *m, uint64_t pa, uint64_t len)
{
    if (!len)
        return;
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        uint64_t lo = pa > s->base ? pa : s->base;
        uint64_t end = pa + len, send = s->base + s->size;
        uint64_t hi = end < send ? end : send;
        if (lo < hi && s->dirty_logging)
            ram_mark_dirty(s, lo - s->base, hi - lo);
    }
    break_reservations(m, NULL, pa, len);
    jit_note_host_write(m, pa, len);
}

/* ------------------------------------------------------------ harts */

hart_t *machine_new_hart(machine_t *m)
{
    if (m->nharts >= MAX_HARTS)
        return NULL;
    hart_t *h = aligned_alloc(64, (sizeof(hart_t) + 63) & ~(size_t)63);
    if (!h)
        return NULL;
    memset(h, 0, sizeof(*h));
    h->m = m;
    h->hartid = m->nharts;
    h->fc_nlog = FC_LOG + 1; /* nothing initialised yet: the first flush clears all */
    hart_reset(h, 0, PRIV_M);
    m->harts[m->nharts++] = h;
    return h;
}

void hart_reset(hart_t *h, uint64_t pc, int priv)
{
    machine_t *m = h->m;
    hart_clear_resv(h);
    /* a reset often follows a loader's writes through a RamSlot buffer */
    jit_reset(m);
    memset(h->x, 0, sizeof(h->x));
    memset(h->f, 0, sizeof(h->f));
    fc_flush(h);
    h->pc = pc;
    h->priv = priv;
    h->fw_call = false;
    /* MXL = 2 (64-bit); I M A F D C S U */
    h->misa = (2ull << 62) | (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 8) |
              (1u << 12) | (1u << 18) | (1u << 20);
    h->mstatus = MSTATUS_UXL & (2ull << 32);
    h->mstatus |= MSTATUS_SXL & (2ull << 34);
    h->medeleg = h->mideleg = h->mie = h->mip_sw = 0;
    h->mtvec = h->stvec = h->mscratch = h->sscratch = 0;
    h->mepc = h->sepc = h->mcause = h->scause = h->mtval = h->stval = 0;
    h->mcounteren = h->scounteren = h->mcountinhibit = 0;
    h->menvcfg = h->senvcfg = h->satp = 0;
    h->mcycle = h->minstret = 0;
    memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
    memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
    h->fflags = h->frm = 0;
    h->mtimecmp = h->stimecmp = DISARMED;
    h->lines = 0;
    h->timer_bits = 0;
    h->mmio_pending = false;
    h->exit_reason = EXIT_BUDGET;
    h->debug_cause = DEBUG_NONE;
    h->bp_resume = false;
    h->wp_resume = false;
    trig_reset(h);
    h->error[0] = 0;
    (void)m;
}

void hart_error(hart_t *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error, sizeof(h->error), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ reservations */

void hart_clear_resv(hart_t *h)
{
    if (h->resv_valid) {
        h->resv_valid = false;
        h->m->nresv--;
    }
}

/* A store breaks every other hart's reservation whose 8-byte granule it touches. */
void break_reservations(machine_t *m, hart_t *by, uint64_t pa, uint64_t len)
{
    if (m->nresv == 0 || (by && m->nresv == 1 && by->resv_valid))
        return;
    for (int i = 0; i < m->nharts; i++) {
        hart_t *o = m->harts[i];
        if (o == by || !o->resv_valid)
            continue;
        uint64_t g = o->resv_addr & ~7ull;
        uint64_t gend = ((o->resv_addr + o->resv_size + 7) & ~7ull);
        if (pa < gend && g < pa + len)
            hart_clear_resv(o);
    }
}

bool page_has_foreign_resv(machine_t *m, hart_t *h, uint64_t pa)
{
    if (m->nresv == 0 || (m->nresv == 1 && h->resv_valid))
        return false;
    for (int i = 0; i < m->nharts; i++) {
        hart_t *o = m->harts[i];
        if (o != h && o->resv_valid && ((o->resv_addr ^ pa) & PAGE_MASK) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ clock */

static uint64_t raw_time(machine_t *m)
{
    if (m->clock_mode == CLOCK_VIRTUAL)
        return (uint64_t)((unsigned __int128)m->instret * m->timebase / m->ips);
    uint64_t ns = host_ns() - m->host_origin_ns;
    return (uint64_t)((unsigned __int128)ns * m->timebase / 1000000000u);
}

uint64_t machine_time(machine_t *m)
{
    if (unlikely(m->clock_held))
        return m->held_time;
    return m->time_offset + raw_time(m);
}

void machine_set_time(machine_t *m, uint64_t t)
{
    if (m->clock_held)
        m->held_time = t;
    else
        m->time_offset = t - raw_time(m);
}

void machine_hold_clock(machine_t *m, bool hold)
{
    if (hold == m->clock_held)
        return;
    if (hold) {
        m->held_time = machine_time(m);
        m->clock_held = true;
    } else {
        m->clock_held = false;
        machine_set_time(m, m->held_time); /* on from where it stood */
    }
}

void machine_set_clock(machine_t *m, int mode, uint64_t ips)
{
    uint64_t now = machine_time(m);
    m->clock_mode = mode;
    m->ips = ips;
    if (mode == CLOCK_HOST)
        m->host_origin_ns = host_ns();
    machine_set_time(m, now); /* guest time stays continuous */
}

uint64_t machine_insns_until(machine_t *m, uint64_t t)
{
    if (m->clock_mode != CLOCK_VIRTUAL)
        return UINT64_MAX;
    uint64_t now = machine_time(m);
    if (now >= t)
        return 0;
    unsigned __int128 raw_now = (unsigned __int128)m->instret * m->timebase / m->ips;
    unsigned __int128 target = raw_now + (t - now);
    if (target >> 64)
        return UINT64_MAX; /* keeps target * ips inside 128 bits */
    /* smallest I with floor(I * tb / ips) >= target */
    unsigned __int128 need = (target * m->ips + m->timebase - 1) / m->timebase;
    if (need <= m->instret)
        return 1;
    unsigned __int128 d = need - m->instret;
    return d > UINT64_MAX ? UINT64_MAX : (uint64_t)d;
}
