/*
 * Sdtrig (debug specification 1.0, the parts a hart without Debug Mode has):
 * NTRIG address-match triggers of type 2 (mcontrol) and 6 (mcontrol6) on
 * execute, load and store in M, S and U, raising breakpoint exceptions
 * (action 0); tinfo, tcontrol (MTE/MPTE), mcontext and scontext. Also the
 * VMM's own watchpoints (the debugger's, not taken from the guest's triggers),
 * which end the slice with EXIT_DEBUG instead.
 *
 * All checks live in the slow paths: a page a trigger or watchpoint may match
 * never gets a fast-cache entry for that access type.
 *
 * Choices: dmode, chain, select, timing, size, hit and the textra fields of
 * tdata3 are hardwired to 0 (address match, before the access, any size);
 * match 0 (equal), 1 (NAPOT), 2 (>=) and 3 (<) are supported, others read 0.
 * A load or store matches when any byte it accesses does; an AMO and an SC are
 * checked as both a load and a store.
 */
#include "core.h"

enum {
    CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3,
    CSR_TINFO = 0x7a4, CSR_TCONTROL = 0x7a5, CSR_MCONTEXT = 0x7a8, CSR_SCONTEXT = 0x5a8,
};

#define TD_LOAD (1ull << 0)
#define TD_STORE (1ull << 1)
#define TD_EXEC (1ull << 2)
#define TD_U (1ull << 3)
#define TD_S (1ull << 4)
#define TD_M (1ull << 6)
#define TD_MATCH(v) (((v) >> 7) & 15)
#define TD_TYPE(v) ((unsigned)((v) >> 60))
#define TYPE_MCONTROL 2
#define TYPE_MCONTROL6 6
#define TYPE_DISABLED 15
#define TCONTROL_MTE (1ull << 3)
#define TCONTROL_MPTE (1ull << 7)
#define TINFO_VERSION_1_0 (1ull << 24)

void trig_reset(hart_t *h)
{
    h->tselect = 0;
    for (int i = 0; i < NTRIG; i++) {
        h->tdata1[i] = (uint64_t)TYPE_MCONTROL << 60; /* matches nothing */
        h->tdata2[i] = 0;
    }
    h->tcontrol = h->mcontext = h->scontext = 0;
    trig_update(h);
}

void trig_update(hart_t *h)
{
    bool fetch = false, data = h->nwps > 0;
    for (int i = 0; i < NTRIG; i++) {
        uint64_t t = h->tdata1[i];
        if (!(t & (TD_M | TD_S | TD_U)))
            continue;
        fetch |= (t & TD_EXEC) != 0;
        data |= (t & (TD_LOAD | TD_STORE)) != 0;
    }
    h->watch_fetch = fetch;
    h->watch_data = data;
}

static uint64_t legal_tdata1(uint64_t v)
{
    unsigned type = TD_TYPE(v);
    if (type != TYPE_MCONTROL && type != TYPE_MCONTROL6)
        return (uint64_t)TYPE_DISABLED << 60;
    unsigned match = TD_MATCH(v);
    if (match > 3)
        match = 0;
    return ((uint64_t)type << 60) | ((uint64_t)match << 7) |
           (v & (TD_LOAD | TD_STORE | TD_EXEC | TD_U | TD_S | TD_M));
}

int trig_csr_read(hart_t *h, int csr, uint64_t *val)
{
    switch (csr) {
    case CSR_TSELECT: *val = h->tselect; return MEM_OK;
    case CSR_TDATA1: *val = h->tdata1[h->tselect]; return MEM_OK;
    case CSR_TDATA2: *val = h->tdata2[h->tselect]; return MEM_OK;
    case CSR_TDATA3: *val = 0; return MEM_OK;
    case CSR_TINFO:
        *val = TINFO_VERSION_1_0 | (1u << TYPE_MCONTROL) | (1u << TYPE_MCONTROL6) |
               (1u << TYPE_DISABLED);
        return MEM_OK;
    case CSR_TCONTROL: *val = h->tcontrol; return MEM_OK;
    case CSR_MCONTEXT: *val = h->mcontext; return MEM_OK;
    case CSR_SCONTEXT: *val = h->scontext; return MEM_OK;
    default: return -1;
    }
}

int trig_csr_write(hart_t *h, int csr, uint64_t v, int *effects)
{
    switch (csr) {
    case CSR_TSELECT:
        if (v < NTRIG) /* WARL: a trigger that does not exist keeps the old value */
            h->tselect = (unsigned)v;
        return MEM_OK;
    case CSR_TDATA1:
        h->tdata1[h->tselect] = legal_tdata1(v);
        break;
    case CSR_TDATA2:
        h->tdata2[h->tselect] = v;
        break;
    case CSR_TDATA3:
    case CSR_TINFO:
        return MEM_OK; /* tdata3 reads 0; tinfo writes are ignored (1.0) */
    case CSR_TCONTROL:
        h->tcontrol = v & (TCONTROL_MTE | TCONTROL_MPTE);
        break;
    case CSR_MCONTEXT:
        h->mcontext = v & 0x3fff; /* HCONTEXT width for RV64 without H: 14 bits */
        return MEM_OK;
    case CSR_SCONTEXT:
        h->scontext = v & 0xffffffffull;
        return MEM_OK;
    default:
        return -1;
    }
    trig_update(h);
    *effects |= CSR_FLUSH; /* pages cached before may need checks now */
    return MEM_OK;
}

/* may a trigger with action 0 fire in the current mode (mode bits and the re-entry rules)? */
static bool may_fire(hart_t *h, uint64_t t)
{
    switch (h->priv) {
    case PRIV_M:
        return (t & TD_M) && (h->tcontrol & TCONTROL_MTE);
    case PRIV_S:
        /* a breakpoint delegated to S with S interrupts off would re-enter its handler */
        if (!(t & TD_S))
            return false;
        return !((h->medeleg >> CAUSE_BREAKPOINT) & 1) || (h->mstatus & MSTATUS_SIE);
    default:
        return (t & TD_U) != 0;
    }
}

/* does [lo, hi] match tdata2 under `match`? */
static bool addr_match(unsigned match, uint64_t t2, uint64_t lo, uint64_t hi)
{
    switch (match) {
    case 0:
        return lo <= t2 && t2 <= hi;
    case 1: { /* NAPOT: the trailing ones of tdata2 and the bit above them are a mask */
        unsigned ones = (unsigned)__builtin_ctzll(~t2);
        uint64_t mask = ones >= 63 ? 0 : ~((2ull << ones) - 1);
        uint64_t base = t2 & mask;
        return lo <= (base | ~mask) && hi >= base;
    }
    case 2:
        return hi >= t2;
    default:
        return lo < t2;
    }
}

static void fire(hart_t *h, uint64_t tval)
{
    h->exc_cause = CAUSE_BREAKPOINT;
    h->exc_tval = tval;
}

int trig_fetch(hart_t *h, uint64_t pc)
{
    if (!h->watch_fetch)
        return MEM_OK;
    for (int i = 0; i < NTRIG; i++) {
        uint64_t t = h->tdata1[i];
        if ((t & TD_EXEC) && may_fire(h, t) && addr_match(TD_MATCH(t), h->tdata2[i], pc, pc)) {
            fire(h, pc);
            return MEM_EXC;
        }
    }
    return MEM_OK;
}

static bool page_may_match(unsigned match, uint64_t t2, uint64_t va)
{
    uint64_t lo = va & PAGE_MASK;
    return addr_match(match, t2, lo, lo + PAGE_SIZE - 1);
}

bool trig_fetch_page_quiet(hart_t *h, uint64_t pc)
{
    if (!h->watch_fetch)
        return true;
    for (int i = 0; i < NTRIG; i++) {
        uint64_t t = h->tdata1[i];
        if ((t & TD_EXEC) && (t & (TD_M | TD_S | TD_U)) &&
            page_may_match(TD_MATCH(t), h->tdata2[i], pc))
            return false;
    }
    return true;
}

int trig_data(hart_t *h, uint64_t va, unsigned size, unsigned kind)
{
    uint64_t hi = va + size - 1;
    bool resume = h->wp_resume && h->wp_resume_at == h->st.instret;
    h->wp_resume = false;
    if (!resume) {
        for (int i = 0; i < h->nwps; i++) {
            uint64_t a = h->wps[i].addr;
            unsigned k = h->wps[i].kind & kind;
            if (k && va <= a + h->wps[i].len - 1 && a <= hi) {
                h->exit_reason = EXIT_DEBUG;
                h->debug_cause = DEBUG_WATCHPOINT;
                h->debug_addr = a;
                h->debug_write = (k & WATCH_STORE) != 0;
                h->wp_resume = true;
                h->wp_resume_at = h->st.instret;
                return MEM_EXIT;
            }
        }
    }
    uint64_t want = ((kind & WATCH_LOAD) ? TD_LOAD : 0) | ((kind & WATCH_STORE) ? TD_STORE : 0);
    for (int i = 0; i < NTRIG; i++) {
        uint64_t t = h->tdata1[i];
        if ((t & want) && may_fire(h, t) && addr_match(TD_MATCH(t), h->tdata2[i], va, hi)) {
            fire(h, va);
            return MEM_EXC;
        }
    }
    return MEM_OK;
}

bool trig_data_page_quiet(hart_t *h, uint64_t va, int acc)
{
    if (!h->watch_data)
        return true;
    uint64_t lo = va & PAGE_MASK, hi = lo + PAGE_SIZE - 1;
    unsigned kind = acc == ACC_STORE ? WATCH_STORE : WATCH_LOAD;
    for (int i = 0; i < h->nwps; i++)
        if ((h->wps[i].kind & kind) && lo <= h->wps[i].addr + h->wps[i].len - 1 &&
            h->wps[i].addr <= hi)
            return false;
    uint64_t want = acc == ACC_STORE ? TD_STORE : TD_LOAD;
    for (int i = 0; i < NTRIG; i++) {
        uint64_t t = h->tdata1[i];
        if ((t & want) && (t & (TD_M | TD_S | TD_U)) &&
            page_may_match(TD_MATCH(t), h->tdata2[i], va))
            return false;
    }
    return true;
}

void trig_trap_to_m(hart_t *h)
{
    uint64_t c = h->tcontrol;
    h->tcontrol = (c & TCONTROL_MTE) ? TCONTROL_MPTE : 0;
}

void trig_mret(hart_t *h)
{
    uint64_t c = h->tcontrol;
    h->tcontrol = (c & TCONTROL_MPTE) | ((c & TCONTROL_MPTE) ? TCONTROL_MTE : 0);
}
