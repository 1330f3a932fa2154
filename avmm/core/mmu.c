/*
 * Address translation (Sv39/Sv48), the pCPU TLB, and the slow paths of guest
 * memory accesses (which fill the per-hart fast cache).
 */
#include "core.h"
#include "jit.h"

#include <stdlib.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the core assumes a little-endian host"
#endif

#define PTE_V 0x01u
#define PTE_R 0x02u
#define PTE_W 0x04u
#define PTE_X 0x08u
#define PTE_U 0x10u
#define PTE_G 0x20u
#define PTE_A 0x40u
#define PTE_D 0x80u
#define PTE_PPN_MASK ((1ull << 44) - 1)

/* ------------------------------------------------------------ TLB */

tlb_t *tlb_new(uint32_t entries)
{
    tlb_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    static uint64_t serials;
    t->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    t->entries = entries;
    t->nsets = entries / TLB_WAYS;
    t->e = calloc(entries, sizeof(tlb_entry_t));
    t->victim = calloc(t->nsets, 1);
    if (!t->e || !t->victim) {
        tlb_free(t);
        return NULL;
    }
    return t;
}

void tlb_free(tlb_t *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->victim);
    free(t);
}

static inline uint32_t tlb_set(const tlb_t *t, uint64_t vpn, int level)
{
    uint64_t k = vpn ^ (vpn >> 13) ^ ((uint64_t)level * 0x9e37u);
    return (uint32_t)k & (t->nsets - 1);
}

/* Flushes by VMID (sfence.vma without operands, remote fences, migration
 * flushes) and whole flushes are O(1) in the common case: an entry is live only
 * while its gen equals the gen of its VMID's bucket, and such a flush gives the
 * bucket a new gen, unless entries of several VMIDs were filled into the bucket
 * since its gen was set, where flush_vmid walks the entries as before. */
static inline tlb_vbucket_t *tlb_vb(tlb_t *t, uint32_t vmid)
{
    return &t->vb[vmid % TLB_VBUCKETS];
}

static inline bool tlb_live(tlb_t *t, const tlb_entry_t *e)
{
    return e->perm && e->gen == tlb_vb(t, e->vmid)->gen;
}

/* a generation no entry holds */
static uint32_t tlb_new_gen(tlb_t *t)
{
    if (unlikely(++t->next_gen == 0)) {
        /* wrapped: old entries could match again, so clear them for real */
        for (uint32_t i = 0; i < t->entries; i++)
            t->e[i].perm = 0;
        for (unsigned b = 0; b < TLB_VBUCKETS; b++)
            t->vb[b].gen = 0;
        t->next_gen = 1;
    }
    return t->next_gen;
}

static void tlb_vb_renew(tlb_t *t, tlb_vbucket_t *b)
{
    uint32_t g = tlb_new_gen(t);
    b->gen = g;
    b->used = false;
    b->mixed = false;
}

static inline bool tlb_match(const tlb_entry_t *e, uint32_t vmid, uint32_t gen, uint16_t asid,
                             uint64_t vpn, int level)
{
    return e->perm && e->level == level && e->vpn == vpn && e->vmid == vmid && e->gen == gen &&
           (e->asid == asid || (e->perm & PTE_G));
}

static tlb_entry_t *tlb_lookup(tlb_t *t, uint32_t vmid, uint16_t asid, uint64_t va, int levels)
{
    uint32_t gen = tlb_vb(t, vmid)->gen;
    for (int lvl = 0; lvl < levels; lvl++) {
        uint64_t vpn = va >> (12 + 9 * lvl);
        tlb_entry_t *set = &t->e[(size_t)tlb_set(t, vpn, lvl) * TLB_WAYS];
        for (int w = 0; w < TLB_WAYS; w++)
            if (tlb_match(&set[w], vmid, gen, asid, vpn, lvl))
                return &set[w];
    }
    return NULL;
}

static void tlb_fill(tlb_t *t, uint32_t vmid, uint16_t asid, uint64_t va, int level,
                     uint64_t ppn, unsigned perm)
{
    uint64_t vpn = va >> (12 + 9 * level);
    uint32_t si = tlb_set(t, vpn, level);
    tlb_vbucket_t *b = tlb_vb(t, vmid);
    tlb_entry_t *set = &t->e[(size_t)si * TLB_WAYS], *e = NULL;
    for (int w = 0; w < TLB_WAYS && !e; w++)
        if (!tlb_live(t, &set[w]) || tlb_match(&set[w], vmid, b->gen, asid, vpn, level))
            e = &set[w];
    if (!e) {
        e = &set[t->victim[si]];
        t->victim[si] = (uint8_t)((t->victim[si] + 1) % TLB_WAYS);
    }
    if (b->used && b->owner != vmid)
        b->mixed = true;
    b->owner = vmid;
    b->used = true;
    e->vpn = vpn;
    e->ppn = ppn;
    e->vmid = vmid;
    e->gen = b->gen;
    e->asid = asid;
    e->level = (uint8_t)level;
    e->perm = (uint8_t)(perm | PTE_V);
}

void tlb_flush_all(tlb_t *t)
{
    t->flush_all++;
    t->gen++;
    for (unsigned b = 0; b < TLB_VBUCKETS; b++)
        tlb_vb_renew(t, &t->vb[b]);
}

void tlb_flush_vmid(tlb_t *t, uint32_t vmid)
{
    t->flush_vmid++;
    t->gen++;
    tlb_vbucket_t *b = tlb_vb(t, vmid);
    if (!b->mixed) {
        if (!b->used || b->owner == vmid)
            tlb_vb_renew(t, b); /* every live entry of the bucket is vmid's */
        return;                 /* else the live entries are another VMID's */
    }
    for (uint32_t i = 0; i < t->entries; i++)
        if (t->e[i].vmid == vmid)
            t->e[i].perm = 0;
}

void tlb_flush_asid(tlb_t *t, uint32_t vmid, uint16_t asid)
{
    t->flush_asid++;
    t->gen++;
    for (uint32_t i = 0; i < t->entries; i++) {
        tlb_entry_t *e = &t->e[i];
        if (e->vmid == vmid && e->asid == asid && !(e->perm & PTE_G))
            e->perm = 0;
    }
}

void tlb_flush_page(tlb_t *t, uint32_t vmid, uint64_t va, int asid)
{
    t->flush_page++;
    t->gen++;
    for (int lvl = 0; lvl < 4; lvl++) {
        uint64_t vpn = va >> (12 + 9 * lvl);
        tlb_entry_t *set = &t->e[(size_t)tlb_set(t, vpn, lvl) * TLB_WAYS];
        for (int w = 0; w < TLB_WAYS; w++) {
            tlb_entry_t *e = &set[w];
            if (!e->perm || e->level != lvl || e->vpn != vpn || e->vmid != vmid)
                continue;
            /* with an ASID, global mappings stay (sfence.vma rs2 != x0) */
            if (asid >= 0 && (e->asid != (uint16_t)asid || (e->perm & PTE_G)))
                continue;
            e->perm = 0;
        }
    }
}

uint32_t tlb_valid_entries(tlb_t *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->entries; i++)
        n += tlb_live(t, &t->e[i]);
    return n;
}

/* ------------------------------------------------------------ faults */

static int page_fault(hart_t *h, int acc, uint64_t va)
{
    h->exc_cause = acc == ACC_FETCH   ? CAUSE_FETCH_PAGE
                   : acc == ACC_LOAD ? CAUSE_LOAD_PAGE
                                     : CAUSE_STORE_PAGE;
    h->exc_tval = va;
    return MEM_EXC;
}

static int access_fault(hart_t *h, int acc, uint64_t va)
{
    h->exc_cause = acc == ACC_FETCH   ? CAUSE_FETCH_ACCESS
                   : acc == ACC_LOAD ? CAUSE_LOAD_ACCESS
                                     : CAUSE_STORE_ACCESS;
    h->exc_tval = va;
    return MEM_EXC;
}

/* ------------------------------------------------------------ walk */

static inline int eff_priv(hart_t *h, int acc)
{
    if (acc != ACC_FETCH && (h->mstatus & MSTATUS_MPRV) && h->priv == PRIV_M)
        return (int)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    return h->priv;
}

static inline bool perm_ok(hart_t *h, int priv, int acc, unsigned pte)
{
    bool ok;
    if (acc == ACC_FETCH)
        ok = pte & PTE_X;
    else if (acc == ACC_LOAD)
        ok = (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
    else
        ok = pte & PTE_W;
    if (pte & PTE_U) {
        if (priv == PRIV_S && (acc == ACC_FETCH || !(h->mstatus & MSTATUS_SUM)))
            ok = false;
    } else if (priv == PRIV_U) {
        ok = false;
    }
    return ok;
}

enum { WALK_OK = 0, WALK_PAGE_FAULT, WALK_ACCESS_FAULT };

/* Walk the page table. fx: perform side effects (A/D updates). */
static int walk(hart_t *h, uint64_t va, int acc, int priv, int levels, bool fx, int *level_out,
                uint64_t *ppn_out, unsigned *perm_out)
{
    machine_t *m = h->m;
    uint64_t a = (h->satp & SATP_PPN_MASK) << 12;
    uint64_t pte = 0;
    uint8_t *p = NULL;
    int i;
    if (fx)
        h->st.page_walks++;
    for (i = levels - 1;; i--) {
        uint64_t pte_addr = a + ((va >> (12 + 9 * i)) & 511) * 8;
        p = ram_ptr(m, pte_addr, 8);
        if (!p)
            return WALK_ACCESS_FAULT;
        memcpy(&pte, p, 8);
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte >> 54))
            return WALK_PAGE_FAULT;
        if (pte & (PTE_R | PTE_X))
            break;
        if (i == 0)
            return WALK_PAGE_FAULT;
        a = ((pte >> 10) & PTE_PPN_MASK) << 12;
    }
    uint64_t ppn = (pte >> 10) & PTE_PPN_MASK;
    if (!perm_ok(h, priv, acc, (unsigned)pte))
        return WALK_PAGE_FAULT;
    if (i > 0 && (ppn & ((1ull << (9 * i)) - 1)))
        return WALK_PAGE_FAULT; /* misaligned superpage */
    uint64_t need = PTE_A | (acc == ACC_STORE ? PTE_D : 0);
    if (fx && (pte & need) != need) {
        /* hardware A/D update, as QEMU does */
        pte |= need;
        memcpy(p, &pte, 8);
        uint64_t pte_pa = a + ((va >> (12 + 9 * i)) & 511) * 8;
        ram_slot_t *s = ram_find(m, pte_pa, 8);
        if (s && s->dirty_logging)
            ram_mark_dirty(s, pte_pa - s->base, 8);
        if (s && unlikely(s->jit_pages) && jit_code_page(s, pte_pa))
            jit_smc(m, s, pte_pa, 8);
        break_reservations(m, h, pte_pa, 8);
    }
    *level_out = i;
    *ppn_out = ppn;
    *perm_out = (unsigned)pte & 0xff;
    return WALK_OK;
}

static inline bool canonical(uint64_t va, int levels)
{
    unsigned sh = 64 - (12 + 9 * levels);
    return (uint64_t)((int64_t)(va << sh) >> sh) == va;
}

int mmu_translate(hart_t *h, uint64_t va, int acc, uint64_t *pa, unsigned *perm)
{
    int priv = eff_priv(h, acc);
    unsigned mode = (unsigned)(h->satp >> SATP_MODE_SHIFT);
    if (priv == PRIV_M || mode == 0) {
        if (va >> PA_BITS)
            return access_fault(h, acc, va);
        *pa = va;
        *perm = 0xff;
        return MEM_OK;
    }
    int levels = mode == 8 ? 3 : 4;
    if (!canonical(va, levels))
        return page_fault(h, acc, va);
    uint16_t asid = (uint16_t)((h->satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK);
    uint32_t vmid = h->m->vmid;
    tlb_t *t = h->tlb;
    if (t) {
        h->st.tlb_lookups++;
        tlb_entry_t *e = tlb_lookup(t, vmid, asid, va, levels);
        if (e) {
            if (perm_ok(h, priv, acc, e->perm) && (acc != ACC_STORE || (e->perm & PTE_D))) {
                t->hits++;
                *pa = (e->ppn << 12) + (va & ((1ull << (12 + 9 * e->level)) - 1));
                *perm = e->perm;
                return MEM_OK;
            }
            e->perm = 0; /* stale or insufficient: walk again */
        }
        t->misses++;
    }
    int level;
    uint64_t ppn;
    unsigned pbits;
    int r = walk(h, va, acc, priv, levels, true, &level, &ppn, &pbits);
    if (r == WALK_PAGE_FAULT)
        return page_fault(h, acc, va);
    if (r == WALK_ACCESS_FAULT)
        return access_fault(h, acc, va);
    if (t)
        tlb_fill(t, vmid, asid, va, level, ppn, pbits);
    *pa = (ppn << 12) + (va & ((1ull << (12 + 9 * level)) - 1));
    *perm = pbits;
    return MEM_OK;
}

bool mmu_probe(hart_t *h, uint64_t va, int acc, uint64_t *pa)
{
    int priv = eff_priv(h, acc);
    unsigned mode = (unsigned)(h->satp >> SATP_MODE_SHIFT);
    if (priv == PRIV_M || mode == 0) {
        if (va >> PA_BITS)
            return false;
        *pa = va;
        return true;
    }
    int levels = mode == 8 ? 3 : 4;
    if (!canonical(va, levels))
        return false;
    int level;
    uint64_t ppn;
    unsigned pbits;
    if (walk(h, va, acc, priv, levels, false, &level, &ppn, &pbits) != WALK_OK)
        return false;
    *pa = (ppn << 12) + (va & ((1ull << (12 + 9 * level)) - 1));
    return true;
}

void exec_sfence(hart_t *h, uint64_t va, bool has_va, uint64_t asid, bool has_asid)
{
    machine_t *m = h->m;
    h->st.sfence++;
    fc_flush(h);
    bool cur_done = false;
    for (int i = 0; i <= m->nbtlbs; i++) {
        tlb_t *t;
        if (i < m->nbtlbs) {
            t = m->btlbs[i];
            if (t == h->tlb)
                cur_done = true;
        } else {
            t = h->tlb;
            if (!t || cur_done)
                break;
        }
        if (!has_va && !has_asid)
            tlb_flush_vmid(t, m->vmid);
        else if (!has_va)
            tlb_flush_asid(t, m->vmid, (uint16_t)asid);
        else
            tlb_flush_page(t, m->vmid, va, has_asid ? (int)(uint16_t)asid : -1);
    }
}

/* ------------------------------------------------------------ slow paths */

static inline uint64_t rd_le(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, p, size);
    return v;
}

static inline void wr_le(uint8_t *p, unsigned size, uint64_t v)
{
    memcpy(p, &v, size);
}

static inline void fc_install(hart_t *h, int acc, uint64_t va, uint8_t *host_page)
{
    size_t i = (va >> 12) & FC_MASK;
    if (h->fc_nlog < FC_LOG)
        h->fc_log[h->fc_nlog] = (uint16_t)((unsigned)acc * FC_SIZE + i);
    if (h->fc_nlog <= FC_LOG)
        h->fc_nlog++;
    h->fc[acc][i].tag = va & PAGE_MASK;
    h->fc[acc][i].add = (uintptr_t)host_page - (uintptr_t)(va & PAGE_MASK);
}

static inline bool htif_page(machine_t *m, uint64_t pa)
{
    return m->htif_on &&
           (((pa ^ m->tohost) & PAGE_MASK) == 0 || ((pa ^ (m->tohost + 7)) & PAGE_MASK) == 0);
}

/* side effects of a guest store to RAM: dirty log, reservations, HTIF */
static int ram_stored(hart_t *h, ram_slot_t *s, uint64_t pa, unsigned size)
{
    machine_t *m = h->m;
    if (s->dirty_logging)
        ram_mark_dirty(s, pa - s->base, size);
    if (unlikely(s->jit_pages) && jit_code_page(s, pa))
        jit_smc(m, s, pa, size); /* a store to translated code */
    break_reservations(m, h, pa, size);
    if (m->htif_on && pa < m->tohost + 8 && m->tohost < pa + size) {
        uint8_t *p = ram_ptr(m, m->tohost, 8);
        if (p) {
            uint64_t v = rd_le(p, 8);
            if (v) {
                h->htif_value = v;
                h->exit_reason = EXIT_HTIF;
                return MEM_EXIT;
            }
        }
    }
    return MEM_OK;
}

uintptr_t mem_fc_fill(hart_t *h, uint64_t va, unsigned acc, unsigned size)
{
    machine_t *m = h->m;
    if ((va & 0xfff) + size > PAGE_SIZE || h->watch_data)
        return 0; /* across pages (the slow path performs it), or watched */
    int priv = eff_priv(h, (int)acc);
    unsigned mode = (unsigned)(h->satp >> SATP_MODE_SHIFT);
    uint64_t pa;
    unsigned perm;
    tlb_t *t = NULL;
    if (priv == PRIV_M || mode == 0) {
        if (va >> PA_BITS)
            return 0;
        pa = va;
        perm = 0xff;
    } else {
        int levels = mode == 8 ? 3 : 4;
        t = h->tlb;
        if (!t || !canonical(va, levels))
            return 0;
        uint16_t asid = (uint16_t)((h->satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK);
        tlb_entry_t *e = tlb_lookup(t, m->vmid, asid, va, levels);
        if (!e || !perm_ok(h, priv, (int)acc, e->perm) ||
            (acc == ACC_STORE && !(e->perm & PTE_D)))
            return 0; /* a walk, or a stale entry: mmu_translate's business */
        pa = (e->ppn << 12) + (va & ((1ull << (12 + 9 * e->level)) - 1));
        perm = e->perm;
    }
    ram_slot_t *s = ram_find(m, pa, size);
    if (!s)
        return 0;
    /* mem_store_slow's conditions for a store entry */
    if (acc == ACC_STORE && (!(perm & PTE_D) || htif_page(m, pa) || page_clean_logged(s, pa) ||
                             page_has_foreign_resv(m, h, pa) || jit_code_page(s, pa)))
        return 0;
    if (t) { /* what the slow path's Tlb hit counts (nothing when it runs instead) */
        h->st.tlb_lookups++;
        t->hits++;
    }
    uint8_t *p = s->host + (pa - s->base);
    fc_install(h, (int)acc, va, p - (va & 0xfff));
    return (uintptr_t)p;
}

/* a misaligned access that crosses a page: both parts must be RAM */
static int cross_page(hart_t *h, uint64_t va, unsigned size, int acc, uint8_t *part[2],
                      ram_slot_t *slot[2], uint64_t pa_out[2], unsigned *n0)
{
    uint64_t va1 = (va & PAGE_MASK) + PAGE_SIZE;
    unsigned first = (unsigned)(va1 - va);
    uint64_t vas[2] = {va, va1};
    unsigned lens[2] = {first, size - first};
    for (int k = 0; k < 2; k++) {
        uint64_t pa;
        unsigned perm;
        int r = mmu_translate(h, vas[k], acc, &pa, &perm);
        if (r)
            return r;
        slot[k] = ram_find(h->m, pa, lens[k]);
        if (!slot[k])
            return access_fault(h, acc, vas[k]);
        part[k] = slot[k]->host + (pa - slot[k]->base);
        pa_out[k] = pa;
    }
    *n0 = first;
    return MEM_OK;
}

int mem_load_slow(hart_t *h, uint64_t va, unsigned size, uint64_t *val)
{
    machine_t *m = h->m;
    unsigned off = (unsigned)(va & 0xfff);
    if (unlikely(h->watch_data)) {
        int t = trig_data(h, va, size, WATCH_LOAD);
        if (t)
            return t;
    }
    if (unlikely(off + size > PAGE_SIZE)) {
        uint8_t *part[2], buf[8];
        ram_slot_t *slot[2];
        uint64_t pas[2];
        unsigned n0;
        int r = cross_page(h, va, size, ACC_LOAD, part, slot, pas, &n0);
        if (r)
            return r;
        memcpy(buf, part[0], n0);
        memcpy(buf + n0, part[1], size - n0);
        *val = rd_le(buf, size);
        return MEM_OK;
    }
    uint64_t pa;
    unsigned perm;
    int r = mmu_translate(h, va, ACC_LOAD, &pa, &perm);
    if (r)
        return r;
    ram_slot_t *s = ram_find(m, pa, size);
    if (s) {
        uint8_t *p = s->host + (pa - s->base);
        *val = rd_le(p, size);
        if (likely(!h->watch_data) || trig_data_page_quiet(h, va, ACC_LOAD))
            fc_install(h, ACC_LOAD, va, p - off);
        return MEM_OK;
    }
    if (va & (size - 1))
        return access_fault(h, ACC_LOAD, va); /* misaligned device access */
    if (clint_hit(m, pa)) {
        /* the interpreter syncs m->instret before every slow path, so mtime is exact */
        *val = clint_read(m, pa - m->clint_base, size);
        h->st.fast_mmio[FAST_CLINT]++;
        return MEM_OK;
    }
    if (plic_hit(m, pa)) {
        *val = plic_read(m, h, pa - m->plic->base, size);
        h->st.fast_mmio[FAST_PLIC]++;
        return MEM_OK;
    }
    if (ram_find(m, pa, 1) || ram_find(m, pa + size - 1, 1))
        return access_fault(h, ACC_LOAD, va); /* straddles RAM and non-RAM */
    h->mmio_addr = pa;
    h->mmio_size = (int)size;
    h->exit_reason = EXIT_MMIO_READ;
    return MEM_EXIT;
}

int mem_store_slow(hart_t *h, uint64_t va, unsigned size, uint64_t val)
{
    machine_t *m = h->m;
    unsigned off = (unsigned)(va & 0xfff);
    if (unlikely(h->watch_data)) {
        int t = trig_data(h, va, size, WATCH_STORE);
        if (t)
            return t;
    }
    if (unlikely(off + size > PAGE_SIZE)) {
        uint8_t *part[2], buf[8];
        ram_slot_t *slot[2];
        uint64_t pas[2];
        unsigned n0;
        int r = cross_page(h, va, size, ACC_STORE, part, slot, pas, &n0);
        if (r)
            return r;
        wr_le(buf, size, val);
        memcpy(part[0], buf, n0);
        memcpy(part[1], buf + n0, size - n0);
        int r0 = ram_stored(h, slot[0], pas[0], n0);
        int r1 = ram_stored(h, slot[1], pas[1], size - n0);
        return r0 ? r0 : r1;
    }
    uint64_t pa;
    unsigned perm;
    int r = mmu_translate(h, va, ACC_STORE, &pa, &perm);
    if (r)
        return r;
    ram_slot_t *s = ram_find(m, pa, size);
    if (s) {
        uint8_t *p = s->host + (pa - s->base);
        wr_le(p, size, val);
        r = ram_stored(h, s, pa, size);
        /* install the fast path only where a store needs no bookkeeping */
        if (r == MEM_OK && (perm & PTE_D) && !htif_page(m, pa) && !page_clean_logged(s, pa) &&
            !page_has_foreign_resv(m, h, pa) && !jit_code_page(s, pa) &&
            (likely(!h->watch_data) || trig_data_page_quiet(h, va, ACC_STORE)))
            fc_install(h, ACC_STORE, va, p - off);
        return r;
    }
    if (va & (size - 1))
        return access_fault(h, ACC_STORE, va);
    if (clint_hit(m, pa)) {
        h->st.fast_mmio[FAST_CLINT]++;
        return clint_write(m, h, pa - m->clint_base, size, val);
    }
    if (plic_hit(m, pa)) {
        h->st.fast_mmio[FAST_PLIC]++;
        return plic_write(m, h, pa - m->plic->base, size, val);
    }
    if (ram_find(m, pa, 1) || ram_find(m, pa + size - 1, 1))
        return access_fault(h, ACC_STORE, va);
    h->mmio_addr = pa;
    h->mmio_size = (int)size;
    h->mmio_value = size == 8 ? val : val & ((1ull << (8 * size)) - 1);
    h->exit_reason = EXIT_MMIO_WRITE;
    return MEM_EXIT;
}

static bool bp_in_page(hart_t *h, uint64_t pc)
{
    for (int i = 0; i < h->nbps; i++)
        if (((h->bps[i] ^ pc) & PAGE_MASK) == 0)
            return true;
    return false;
}

int mem_fetch_slow(hart_t *h, uint64_t pc, uint32_t *insn, uint64_t *page_va,
                   uintptr_t *page_add)
{
    machine_t *m = h->m;
    if (h->nbps) {
        bool resume = h->bp_resume && h->bp_resume_pc == pc;
        h->bp_resume = false;
        if (!resume) {
            for (int i = 0; i < h->nbps; i++) {
                if (h->bps[i] == pc) {
                    h->exit_reason = EXIT_DEBUG;
                    h->debug_cause = DEBUG_BREAKPOINT;
                    h->bp_resume = true;
                    h->bp_resume_pc = pc;
                    return MEM_EXIT;
                }
            }
        }
    }
    if (unlikely(h->watch_fetch) && trig_fetch(h, pc))
        return MEM_EXC;
    uint64_t pa;
    unsigned perm;
    int r = mmu_translate(h, pc, ACC_FETCH, &pa, &perm);
    if (r)
        return r;
    uint8_t *page = ram_ptr(m, pa & PAGE_MASK, PAGE_SIZE);
    if (!page)
        return access_fault(h, ACC_FETCH, pc);
    unsigned off = (unsigned)(pc & 0xfff);
    uint32_t lo = (uint32_t)rd_le(page + off, 2);
    if ((lo & 3) == 3) {
        if (off == 0xffe) {
            uint64_t pc2 = pc + 2, pa2;
            r = mmu_translate(h, pc2, ACC_FETCH, &pa2, &perm);
            if (r)
                return r;
            uint8_t *p2 = ram_ptr(m, pa2, 2);
            if (!p2)
                return access_fault(h, ACC_FETCH, pc2);
            lo |= (uint32_t)rd_le(p2, 2) << 16;
        } else {
            lo |= (uint32_t)rd_le(page + off + 2, 2) << 16;
        }
    }
    *insn = lo;
    if (unlikely(h->trace_flags & TRACE_INSNS)) {
        if (!trace_insn(h, pc, lo)) {
            h->exit_reason = EXIT_DEBUG;
            h->debug_cause = DEBUG_TRACE;
            return MEM_EXIT;
        }
        return MEM_OK; /* no fast path: every fetch comes here */
    }
    if (!bp_in_page(h, pc) && trig_fetch_page_quiet(h, pc)) {
        fc_install(h, ACC_FETCH, pc, page);
        *page_va = pc & PAGE_MASK;
        *page_add = (uintptr_t)page - (uintptr_t)(pc & PAGE_MASK);
    }
    return MEM_OK;
}

int mem_atomic_ptr(hart_t *h, uint64_t va, unsigned size, bool is_lr, uint64_t *pa,
                   uint8_t **host)
{
    int acc = is_lr ? ACC_LOAD : ACC_STORE;
    if (va & (size - 1)) {
        h->exc_cause = is_lr ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE;
        h->exc_tval = va;
        return MEM_EXC;
    }
    if (unlikely(h->watch_data)) {
        int t = trig_data(h, va, size, is_lr ? WATCH_LOAD : WATCH_LOAD | WATCH_STORE);
        if (t)
            return t;
    }
    unsigned perm;
    int r = mmu_translate(h, va, acc, pa, &perm);
    if (r)
        return r;
    uint8_t *p = ram_ptr(h->m, *pa, size);
    if (!p)
        return access_fault(h, acc, va);
    *host = p;
    return MEM_OK;
}

int mem_atomic_stored(hart_t *h, uint64_t pa, unsigned size)
{
    ram_slot_t *s = ram_find(h->m, pa, size);
    return s ? ram_stored(h, s, pa, size) : MEM_OK;
}
