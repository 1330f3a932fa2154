/*
 * The translator: guest basic blocks into x86-64 host code (a template JIT).
 *
 * hart_run (interp.c) interprets first. At a jump target it asks jit_find()
 * for translated code; an entry reached JIT_HOT times is translated: the
 * instructions from it up to the first branch/jump, the first instruction this
 * file does not translate, the end of the page or JIT_MAX_INSNS, each
 * instruction a fixed template of host code (x86emit.h) reading and writing
 * the guest registers in the hart structure. The code goes into one cache per
 * machine (JIT_CODE_SIZE, shared by its harts, flushed whole when full).
 *
 * Blocks are keyed by the host address of their first instruction, which
 * names the physical page (RAM is one mapping per slot), so remaps need no
 * invalidation; nothing else is baked into the code. Virtual pcs are computed
 * from r15, the virtual pc of the running block's start, so one translation
 * serves every virtual address the page is mapped at.
 *
 * Exactness. A block of L instructions starts with a budget check and runs
 * only if n + L <= chunk_end, else hart_run interprets (same instruction
 * counts, same interrupt check points as without translation). Loads and
 * stores use the interpreter's fast cache (h->fc, same tag check); a miss
 * leaves the block *before* the access (the step count and pc are those of
 * that instruction) and the interpreter performs it: page faults, MMIO, HTIF,
 * the in-core CLINT/PLIC, dirty logging and reservations all stay in one
 * place, and nothing is ever executed twice. Translated code never traps.
 *
 * Chaining. A jump to a target in the same page goes straight to the target's
 * code (patched in when the target gets translated); other jumps, jalr and
 * page ends look the target up through the fetch fast cache (so a remapped or
 * unmapped page is never entered), then a jump cache probed inline, then (in
 * C) the hash of host addresses.
 *
 * Invalidation. A page holding translations never gets a store fast-cache
 * entry, so guest stores to it take the slow path, which drops the page's
 * blocks (mmu.c: ram_stored, the walker's A/D writes); the store itself runs
 * in the interpreter, after the block was left. Host writes (write_phys,
 * RamSlot.mark_dirty, device DMA through GuestMemory, from any thread) set bits
 * in a per-slot bitmap, applied at the next slice start or fence.i.
 *
 * Host registers in translated code: rbx = hart + XB (guest x[i] at a one-byte
 * displacement), r12 = step count n, r13 = chunk_end, r14 = jit_run_t *,
 * r15 = virtual pc of the block start, rbp = fast-cache hits of this run (added
 * to the hart's counter on the way out); r8-r11 = up to four guest registers
 * the block reads most (write-through copies, see JIT_HREGS); rax, rcx, rdx,
 * rsi, rdi and xmm0-2 are scratch.
 */
#define _GNU_SOURCE
#include "jit.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decode.h"
#include "softfloat.h"

const char *const jit_flush_names[JF_COUNT] = {"full", "fence_i", "smc", "host", "reset"};

#define JIT_CODE_SIZE (32u << 20) /* bytes of host code per machine */
#define JIT_MAX_BLOCKS (1u << 18)
#define JIT_HASH_BITS 16
#define JIT_HOT_BITS 12
#define JIT_HOT 2          /* executions of an entry before it is translated (README) */
#define JIT_MAX_INSNS 64   /* guest instructions per block */
#define JIT_BLOCK_ROOM (JIT_MAX_INSNS * 400 + 4096) /* host bytes a block may need, at most */
#define JIT_JC_SIZE 8192   /* jump cache entries (a power of two) */
#define JIT_SMC_LIMIT 16   /* a page whose blocks stores dropped this often in a row stays interpreted */

typedef struct jit_block {
    const uint8_t *host; /* first instruction; NULL: dropped */
    uint8_t *code;       /* entry (executable mapping); NULL: not translatable */
    uint32_t hnext;      /* hash chain: block index + 1, 0 = end */
    uint32_t pnext;      /* page list */
    uint32_t raw;        /* untranslatable entries: the bits that made them so */
    uint16_t ninsn;
} jit_block_t;

typedef int (*jit_enter_fn)(hart_t *h, jit_run_t *jr, const uint8_t *code, uint64_t pc);

struct jit {
    uint8_t *rw, *rx; /* the same memory, writable and executable (may be one mapping) */
    size_t size, used, tramp;
    jit_enter_fn enter;
    uint8_t *x_epilogue, *x_step, *x_dispatch, *x_budget, *x_link, *x_indirect; /* rx */
    jit_block_t *blocks;
    uint32_t nblocks;
    uint64_t gen; /* bumped by every flush */
    uint32_t hash[1u << JIT_HASH_BITS];
    uint8_t hot[1u << JIT_HOT_BITS];
    /* jump cache: host address of an entry -> its code, direct-mapped, probed
     * first by jit_find (the dispatcher) and inline by translated code for jalr
     * and jumps to other pages (filled by both lookups, cleared whenever a block
     * is dropped, so a hit is a live block) */
    struct jc_entry {
        const uint8_t *host;
        const uint8_t *code;
    } jc[JIT_JC_SIZE];
    jit_stats_t st;
};

const char *jit_unavailable_reason(void);

/* ------------------------------------------------------------ host writes */

void jit_note_host_write(machine_t *m, uint64_t pa, uint64_t len)
{
    if (!len)
        return;
    bool any = false;
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        uint64_t lo = pa > s->base ? pa : s->base;
        uint64_t end = pa + len < pa ? UINT64_MAX : pa + len, send = s->base + s->size;
        uint64_t hi = end < send ? end : send;
        if (lo >= hi || !s->jit_hostw)
            continue;
        for (uint64_t pg = (lo - s->base) >> 12; pg <= (hi - 1 - s->base) >> 12; pg++)
            __atomic_fetch_or(&s->jit_hostw[pg >> 6], 1ull << (pg & 63), __ATOMIC_SEQ_CST);
        any = true;
    }
    if (any)
        __atomic_store_n(&m->jit_hostw_pending, 1, __ATOMIC_SEQ_CST);
}

/* -DAVMM_NO_JIT builds the interpreter only (as on hosts other than x86-64) */
#if defined(__x86_64__) && !defined(AVMM_NO_JIT)

#include "x86emit.h"

#define XB 128 /* rbx = hart + XB */
#define X(r) ((int32_t)(8 * (int)(r)) - XB)
#define FCOFF(acc) ((int32_t)(offsetof(hart_t, fc) + (acc) * FC_SIZE * sizeof(fc_entry_t)) - XB)
#define HITS ((int32_t)offsetof(hart_t, st.fc_hits) - XB)
#define F(r) ((int32_t)(offsetof(hart_t, f) + 8 * (r)) - XB)
#define MSTATUS ((int32_t)offsetof(hart_t, mstatus) - XB)
#define FFLAGS ((int32_t)offsetof(hart_t, fflags) - XB)
#define FRM ((int32_t)offsetof(hart_t, frm) - XB)
_Static_assert(sizeof(fc_entry_t) == 16, "the fast-cache index is scaled by 16");
_Static_assert(offsetof(hart_t, x) == 0, "guest registers at the start of the hart");
_Static_assert(offsetof(jit_run_t, n) == 0 && offsetof(jit_run_t, chunk_end) == 8 &&
                   offsetof(jit_run_t, pc) == 16 && offsetof(jit_run_t, link) == 24,
               "jit_run_t layout is used by the trampoline");

static inline uint8_t *to_rw(jit_t *j, const uint8_t *rx)
{
    return j->rw + (rx - j->rx);
}
static inline uint8_t *to_rx(jit_t *j, const uint8_t *rw)
{
    return j->rx + (rw - j->rw);
}

/* ------------------------------------------------------------ the cache */

static bool code_map(jit_t *j, size_t size)
{
    /* AVMM_JIT_DUAL_MAP=1: skip the RWX mapping (tests of the W^X path) */
    const char *dual = getenv("AVMM_JIT_DUAL_MAP");
    void *p = dual && strcmp(dual, "1") == 0
                  ? MAP_FAILED
                  : mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        j->rw = j->rx = p;
        j->size = size;
        return true;
    }
    /* W^X kernels: one memfd mapped twice, writable and executable */
    int fd = memfd_create("avmm-jit", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    void *rw = MAP_FAILED, *rx = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) {
        rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (rw == MAP_FAILED || rx == MAP_FAILED) {
        if (rw != MAP_FAILED)
            munmap(rw, size);
        if (rx != MAP_FAILED)
            munmap(rx, size);
        return false;
    }
    j->rw = rw;
    j->rx = rx;
    j->size = size;
    return true;
}

static void code_unmap(jit_t *j)
{
    if (j->rw)
        munmap(j->rw, j->size);
    if (j->rx && j->rx != j->rw)
        munmap(j->rx, j->size);
}

const char *jit_unavailable_reason(void)
{
    static int state; /* 0 unknown, 1 available, 2 refused */
    if (!state) {
        jit_t probe = {0};
        if (code_map(&probe, PAGE_SIZE)) {
            code_unmap(&probe);
            state = 1;
        } else {
            state = 2;
        }
    }
    return state == 1 ? NULL : "the kernel refuses executable memory (RWX and dual mappings)";
}

static const uint8_t *jit_lookup_fast(hart_t *h, uint64_t pc);
static void emit_trampoline(jit_t *j);
static void perfmap_note(const uint8_t *code, size_t len, uint64_t pc);
static bool host_fma;

static jit_t *jit_get(machine_t *m)
{
    if (m->jit)
        return m->jit;
    jit_t *j = calloc(1, sizeof(*j));
    if (!j)
        goto fail;
    /* AVMM_JIT_CODE_SIZE (bytes): a smaller cache, for tests of full flushes */
    size_t size = JIT_CODE_SIZE;
    const char *env = getenv("AVMM_JIT_CODE_SIZE");
    if (env && *env) {
        unsigned long long want = strtoull(env, NULL, 0);
        size_t min = 2 * JIT_BLOCK_ROOM;
        size = want < min ? min : want > JIT_CODE_SIZE ? JIT_CODE_SIZE : (size_t)want;
        size = (size + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
    }
    if (!code_map(j, size)) {
        free(j);
        goto fail;
    }
    j->blocks = calloc(JIT_MAX_BLOCKS, sizeof(jit_block_t));
    if (!j->blocks) {
        code_unmap(j);
        free(j);
        goto fail;
    }
    j->st.code_size = j->size;
    __builtin_cpu_init();
    host_fma = __builtin_cpu_supports("fma");
    emit_trampoline(j);
    m->jit = j;
    /* host writes noted before there was anything to drop (a loader's) */
    jit_host_sync(m, JF_HOST);
    return j;
fail:
    m->jit_on = false;
    return NULL;
}

void jit_free(machine_t *m)
{
    jit_t *j = m->jit;
    if (!j)
        return;
    code_unmap(j);
    free(j->blocks);
    free(j);
    m->jit = NULL;
}

static inline uint32_t hslot(const uint8_t *p)
{
    return (uint32_t)(((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) >> (64 - JIT_HASH_BITS));
}

static jit_block_t *hash_find(jit_t *j, const uint8_t *host)
{
    for (uint32_t bi = j->hash[hslot(host)]; bi; bi = j->blocks[bi - 1].hnext)
        if (j->blocks[bi - 1].host == host)
            return &j->blocks[bi - 1];
    return NULL;
}

static void hash_remove(jit_t *j, uint32_t bi)
{
    jit_block_t *b = &j->blocks[bi - 1];
    uint32_t *pp = &j->hash[hslot(b->host)];
    while (*pp && *pp != bi)
        pp = &j->blocks[*pp - 1].hnext;
    if (*pp)
        *pp = b->hnext;
    b->hnext = 0;
    b->host = NULL;
    j->st.live_blocks--;
}

static void slot_pages_free(ram_slot_t *s)
{
    if (s->jit_snap)
        for (uint64_t pg = 0; pg < s->size >> 12; pg++)
            free(s->jit_snap[pg]);
    free(s->jit_pages);
    free(s->jit_smc);
    free(s->jit_snap);
    s->jit_pages = NULL;
    s->jit_smc = NULL;
    s->jit_snap = NULL;
}

void jit_flush(machine_t *m, int cause)
{
    jit_t *j = m->jit;
    if (!j || !j->nblocks)
        return;
    j->used = j->tramp;
    j->nblocks = 0;
    j->st.live_blocks = 0;
    memset(j->hash, 0, sizeof(j->hash));
    memset(j->hot, 0, sizeof(j->hot));
    memset(j->jc, 0, sizeof(j->jc));
    j->gen++;
    j->st.flushes[cause]++;
    for (int i = 0; i < m->nslots; i++)
        slot_pages_free(m->slots[i]);
}

static void drop_page(jit_t *j, ram_slot_t *s, uint64_t pg)
{
    uint32_t bi = s->jit_pages[pg];
    memset(j->jc, 0, sizeof(j->jc));
    while (bi) {
        uint32_t next = j->blocks[bi - 1].pnext;
        hash_remove(j, bi);
        bi = next;
    }
    s->jit_pages[pg] = 0;
}

void jit_smc(machine_t *m, ram_slot_t *s, uint64_t pa, uint64_t len)
{
    jit_t *j = m->jit;
    if (!j || !s->jit_pages || !len)
        return;
    for (uint64_t pg = (pa - s->base) >> 12; pg <= (pa + len - 1 - s->base) >> 12; pg++) {
        if (pg >= s->size >> 12 || !s->jit_pages[pg])
            continue;
        drop_page(j, s, pg);
        /* count drops that follow each other closely (fewer than 256 blocks
         * translated in between): code and data sharing a page; a page merely
         * reused for other code now and then starts again from 1 */
        uint32_t now = (uint32_t)j->st.blocks & 0xffffff, old = s->jit_smc[pg];
        uint32_t n = old & 0xff, last = old >> 8;
        n = n && ((now - last) & 0xffffff) < 256 ? (n < 255 ? n + 1 : n) : 1;
        s->jit_smc[pg] = now << 8 | n;
        j->st.flushes[JF_SMC]++;
    }
}

void jit_reset(machine_t *m)
{
    jit_t *j = m->jit;
    if (!j || !j->nblocks)
        return;
    uint64_t dropped = 0;
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        if (!s->jit_pages)
            continue;
        for (uint64_t pg = 0; pg < s->size >> 12; pg++) {
            if (!s->jit_pages[pg])
                continue;
            const uint8_t *snap = s->jit_snap[pg];
            if (snap && memcmp(s->host + (pg << 12), snap, PAGE_SIZE) == 0)
                continue; /* the bytes its blocks were made from */
            drop_page(j, s, pg);
            dropped++;
        }
    }
    j->st.flushes[JF_RESET] += dropped;
}

unsigned jit_host_sync(machine_t *m, int cause)
{
    if (!__atomic_exchange_n(&m->jit_hostw_pending, 0, __ATOMIC_SEQ_CST))
        return 0;
    jit_t *j = m->jit;
    unsigned dropped = 0;
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        if (!s->jit_hostw)
            continue;
        uint64_t words = ((s->size >> 12) + 63) / 64;
        for (uint64_t w = 0; w < words; w++) {
            if (!__atomic_load_n(&s->jit_hostw[w], __ATOMIC_RELAXED))
                continue;
            uint64_t bits = __atomic_exchange_n(&s->jit_hostw[w], 0, __ATOMIC_SEQ_CST);
            while (bits && j && s->jit_pages) {
                uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (s->jit_pages[pg]) {
                    drop_page(j, s, pg);
                    dropped++;
                }
            }
        }
    }
    if (dropped)
        j->st.flushes[cause] += dropped;
    return dropped;
}

void jit_get_stats(machine_t *m, jit_stats_t *st)
{
    if (!m->jit) {
        memset(st, 0, sizeof(*st));
        st->code_size = JIT_CODE_SIZE;
        return;
    }
    *st = m->jit->st;
    st->code_bytes = m->jit->used - m->jit->tramp;
}

uint64_t jit_gen(machine_t *m)
{
    return m->jit ? m->jit->gen : 0;
}

void jit_link(machine_t *m, uint8_t *link, uint64_t gen, const uint8_t *code)
{
    jit_t *j = m->jit;
    if (!j || gen != j->gen)
        return;
    x_fix(to_rw(j, link), to_rw(j, code));
    j->st.chain_links++;
}

int jit_exec(hart_t *h, jit_run_t *jr, const uint8_t *code)
{
    return h->m->jit->enter(h, jr, code, jr->pc);
}

/* ------------------------------------------------------------ lookup */

static inline const uint8_t *fetch_host(hart_t *h, uint64_t pc)
{
    const fc_entry_t *e = &h->fc[ACC_FETCH][(pc >> 12) & FC_MASK];
    if (e->tag != (pc & PAGE_MASK))
        return NULL;
    return (const uint8_t *)(uintptr_t)(pc + e->add);
}

static inline struct jc_entry *jc_slot(jit_t *j, const uint8_t *host)
{
    return &j->jc[((uintptr_t)host >> 1) & (JIT_JC_SIZE - 1)];
}

/* called from translated code (jalr, jumps to other pages) */
static const uint8_t *jit_lookup_fast(hart_t *h, uint64_t pc)
{
    jit_t *j = h->m->jit;
    j->st.lookups++;
    const uint8_t *host = fetch_host(h, pc);
    if (!host)
        return NULL;
    jit_block_t *b = hash_find(j, host);
    if (!b || !b->code)
        return NULL;
    struct jc_entry *c = jc_slot(j, host);
    c->host = host;
    c->code = b->code;
    return b->code;
}

static const uint8_t *translate(hart_t *h, jit_t *j, uint64_t pc, const uint8_t *host);

static uint32_t raw_at(const uint8_t *host, uint64_t pc)
{
    uint16_t lo, hi;
    memcpy(&lo, host, 2);
    if ((lo & 3) != 3 || (pc & 0xfff) > 0xffc)
        return lo;
    memcpy(&hi, host + 2, 2);
    return lo | (uint32_t)hi << 16;
}

const uint8_t *jit_find(hart_t *h, uint64_t pc, bool *one)
{
    machine_t *m = h->m;
    jit_t *j = jit_get(m);
    if (!j)
        return NULL;
    const uint8_t *host = fetch_host(h, pc);
    if (!host)
        return NULL;
    j->st.lookups++;
    struct jc_entry *c = jc_slot(j, host);
    if (c->host == host)
        return c->code;
    jit_block_t *b = hash_find(j, host);
    if (b) {
        if (b->code) {
            c->host = host;
            c->code = b->code;
            return b->code;
        }
        if (b->raw == raw_at(host, pc)) {
            *one = true;
            return NULL; /* known untranslatable */
        }
        hash_remove(j, (uint32_t)(b - j->blocks) + 1); /* the bits changed: look again */
    }
    uint8_t *hot = &j->hot[hslot(host) & ((1u << JIT_HOT_BITS) - 1)];
    if (++*hot < JIT_HOT)
        return NULL;
    *hot = 0;
    const uint8_t *code = translate(h, j, pc, host);
    if (code) {
        c = jc_slot(j, host);
        c->host = host;
        c->code = code;
    } else {
        jit_block_t *nb = hash_find(j, host);
        *one = nb && !nb->code; /* made an untranslatable entry */
    }
    return code;
}

/* ------------------------------------------------------------ helpers called from code */

static uint64_t h_mulhsu(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64);
}
static uint64_t h_div(uint64_t a, uint64_t b)
{
    if (b == 0)
        return UINT64_MAX;
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
        return a;
    return (uint64_t)((int64_t)a / (int64_t)b);
}
static uint64_t h_divu(uint64_t a, uint64_t b)
{
    return b ? a / b : UINT64_MAX;
}
static uint64_t h_rem(uint64_t a, uint64_t b)
{
    if (b == 0)
        return a;
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
        return 0;
    return (uint64_t)((int64_t)a % (int64_t)b);
}
static uint64_t h_remu(uint64_t a, uint64_t b)
{
    return b ? a % b : a;
}
static uint64_t h_divw(uint64_t a64, uint64_t b64)
{
    int32_t a = (int32_t)a64, b = (int32_t)b64;
    if (b == 0)
        return UINT64_MAX;
    if (a == INT32_MIN && b == -1)
        return (uint64_t)(int64_t)a;
    return (uint64_t)(int64_t)(a / b);
}
static uint64_t h_divuw(uint64_t a64, uint64_t b64)
{
    uint32_t a = (uint32_t)a64, b = (uint32_t)b64;
    return (uint64_t)(int64_t)(int32_t)(b ? a / b : UINT32_MAX);
}
static uint64_t h_remw(uint64_t a64, uint64_t b64)
{
    int32_t a = (int32_t)a64, b = (int32_t)b64;
    if (b == 0)
        return (uint64_t)(int64_t)a;
    if (a == INT32_MIN && b == -1)
        return 0;
    return (uint64_t)(int64_t)(a % b);
}
static uint64_t h_remuw(uint64_t a64, uint64_t b64)
{
    uint32_t a = (uint32_t)a64, b = (uint32_t)b64;
    return (uint64_t)(int64_t)(int32_t)(b ? a % b : a);
}

/* ------------------------------------------------------------ emission */

static void emit_trampoline(jit_t *j)
{
    xbuf_t b = {j->rw};
    /* int enter(hart_t *h (rdi), jit_run_t *jr (rsi), code (rdx), pc (rcx)) */
    static const int saved[6] = {RBX, RBP, R12, R13, R14, R15};
    for (int i = 0; i < 6; i++)
        x_push(&b, saved[i]);
    x_alu_ri(&b, 1, ALU_SUB, RSP, 8); /* 16-byte aligned stack for helper calls */
    x_mem(&b, 0, 1, 0x8d, RBX, RDI, NOIDX, XB); /* lea rbx, [rdi + XB] */
    x_mov(&b, R14, RSI);
    x_mov(&b, R15, RCX);
    x_load64(&b, R12, R14, 0);
    x_load64(&b, R13, R14, 8);
    x_rr(&b, 0, 0x31, RBP, RBP); /* xor ebp, ebp: fast-cache hits of this run */
    x_jmp_reg(&b, RDX);

    j->x_epilogue = to_rx(j, b.p);
    x_store64(&b, R14, 16, R15);
    x_store64(&b, R14, 0, R12);
    x_alu_rm(&b, 1, ALU_ADD, RBP, RBX, NOIDX, HITS); /* add rbp, [fc_hits] */
    x_store64(&b, RBX, HITS, RBP);
    x_alu_ri(&b, 1, ALU_ADD, RSP, 8);
    for (int i = 5; i >= 0; i--)
        x_pop(&b, saved[i]);
    x_b(&b, 0xc3);

    uint8_t **exits[3] = {&j->x_step, &j->x_dispatch, &j->x_budget};
    static const int why[3] = {JX_STEP, JX_DISPATCH, JX_BUDGET};
    for (int i = 0; i < 3; i++) {
        *exits[i] = to_rx(j, b.p);
        x_mov_ri(&b, RAX, (uint64_t)why[i]);
        x_fix(x_jmp(&b), to_rw(j, j->x_epilogue));
    }
    j->x_link = to_rx(j, b.p);
    x_store64(&b, R14, 24, RDX);
    x_fix(x_jmp(&b), to_rw(j, j->x_dispatch));

    /* r15 = target pc: the fetch fast cache gives its host address, the jump
     * cache its code; a miss asks jit_lookup_fast */
    j->x_indirect = to_rx(j, b.p);
    x_mov(&b, RAX, R15);
    x_shift_i(&b, 1, SH_SHR, RAX, 12 - 4);
    x_alu_ri(&b, 0, ALU_AND, RAX, (int32_t)(FC_MASK << 4));
    x_mov(&b, RDX, R15);
    x_alu_ri(&b, 1, ALU_AND, RDX, (int32_t)PAGE_MASK);
    x_alu_rm(&b, 1, ALU_CMP, RDX, RBX, RAX, FCOFF(ACC_FETCH));
    uint8_t *miss1 = x_jcc(&b, CC_NE);
    x_mov(&b, RDX, R15);
    x_alu_rm(&b, 1, ALU_ADD, RDX, RBX, RAX, FCOFF(ACC_FETCH) + 8); /* host address */
    x_mov(&b, RAX, RDX);
    x_shift_i(&b, 1, SH_SHR, RAX, 1);
    x_alu_ri(&b, 0, ALU_AND, RAX, JIT_JC_SIZE - 1);
    x_shift_i(&b, 0, SH_SHL, RAX, 4);
    x_mov_ri(&b, RCX, (uint64_t)(uintptr_t)j->jc);
    x_alu_rm(&b, 1, ALU_CMP, RDX, RCX, RAX, 0);
    uint8_t *miss2 = x_jcc(&b, CC_NE);
    x_mem(&b, 0, 0, 0xff, 4, RCX, RAX, 8); /* jmp [rcx + rax + 8] */
    x_fix(miss1, b.p);
    x_fix(miss2, b.p);
    x_mem(&b, 0, 1, 0x8d, RDI, RBX, NOIDX, -XB); /* lea rdi, [rbx - XB] */
    x_mov(&b, RSI, R15);
    x_call_abs(&b, (const void *)jit_lookup_fast);
    x_rr(&b, 1, 0x85, RAX, RAX); /* test rax, rax */
    x_fix(x_jcc(&b, CC_E), to_rw(j, j->x_dispatch));
    x_jmp_reg(&b, RAX);

    j->enter = (jit_enter_fn)(uintptr_t)j->rx;
    j->tramp = j->used = (size_t)(b.p - j->rw + 15) & ~(size_t)15;
    perfmap_note(j->rx, j->tramp, UINT64_MAX);
}

enum { K_NO, K_PLAIN, K_END };

static int classify(const dinsn_t *d)
{
    switch (d->op) {
    case OP_JAL: case OP_JALR:
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
        return K_END;
    case OP_SB: case OP_SH: case OP_SW: case OP_SD: case OP_FENCE:
    case OP_FLW: case OP_FLD: case OP_FSW: case OP_FSD: case OP_FP:
        return K_PLAIN;
    default:
        if (d->op >= OP_FADD_S && d->op <= OP_FMV_D_X)
            return K_PLAIN; /* decoded F/D arithmetic: exec_fp() does the same */
        return d->op >= OP_LUI && d->op <= OP_LAST_WX ? K_PLAIN : K_NO;
    }
}

typedef struct emit {
    xbuf_t b;
    jit_t *j;
    const uint8_t *page; /* host address of the block's page */
    const uint8_t *host; /* host address of the block's first instruction */
    uint8_t *entry;      /* writable address of the block's code */
    unsigned start;      /* page offset of the block start */
    unsigned L;          /* instructions in the block */
    unsigned nmem;       /* fast-path accesses emitted so far */
    int rax_reg;         /* guest register rax holds after the last instruction (-1: none) */
    int cached;          /* rax_reg as the current instruction started */
    struct side {
        uint8_t *field;
        unsigned idx, off, nmem;
    } side[2 * JIT_MAX_INSNS]; /* FP loads and stores have two */
    unsigned nside;
    struct cold {          /* an inline F/D operation's call to h_fop, out of line */
        uint8_t *fix[8];   /* jumps to it */
        unsigned nfix;
        uint8_t *ret;      /* where the inline code goes on */
        uint64_t p;        /* h_fop's argument */
        unsigned idx, off, nmem;
    } cold[JIT_MAX_INSNS];
    unsigned ncold;
    struct refill {        /* a fast-cache miss: mem_fc_fill, out of line */
        uint8_t *miss;     /* the jump to it */
        uint8_t *ret;      /* where the inline code goes on (rax = host address) */
        unsigned acc, size, idx, off, nmem;
    } refill[JIT_MAX_INSNS];
    unsigned nrefill;
    int8_t hreg[33];     /* host register caching guest x[i] in this block, -1: none */
    uint8_t *loop;       /* after the cached registers' loads: where the block jumps to itself */
} emit_t;

/* Guest registers cached in host registers, block by block: the most read
 * ones are loaded at the block's entry into r8-r11 and read from there;
 * writes go to the hart structure as always and to the host register too
 * (write-through), so memory is current wherever the block is left and
 * nothing needs writing back. A C call clobbers r8-r11 and may write x[]
 * (h_fop, h_fp): the cached registers are loaded again after it. */
#define JIT_HREGS 4
static const int cache_hosts[JIT_HREGS] = {R8, R9, R10, R11};

static void ld(emit_t *e, int reg, unsigned r)
{
    if (r < 32 && e->hreg[r] >= 0) {
        if (reg != e->hreg[r])
            x_mov(&e->b, reg, e->hreg[r]);
        return;
    }
    x_load64(&e->b, reg, RBX, X(r));
}
/* op reg, x[r] (op is the "reg, r/m" form: ext * 8 + 3 for ALU ops, 0f af imul) */
static void op_x(emit_t *e, int w, uint32_t op, int reg, unsigned r)
{
    if (r < 32 && e->hreg[r] >= 0)
        x_rr(&e->b, w, op, reg, e->hreg[r]);
    else
        x_mem(&e->b, 0, w, op, reg, RBX, NOIDX, X(r));
}
static void reload_cached(emit_t *e)
{
    for (unsigned r = 1; r < 32; r++)
        if (e->hreg[r] >= 0)
            x_load64(&e->b, e->hreg[r], RBX, X(r));
}
static void call_fn(emit_t *e, const void *fn)
{
    x_call_abs(&e->b, fn);
    reload_cached(e);
}
/* x[r] = simm32 */
static void st_imm(emit_t *e, unsigned r, int32_t imm)
{
    x_store_imm(&e->b, RBX, X(r), imm);
    if (r < 32 && e->hreg[r] >= 0)
        x_mov_ri(&e->b, e->hreg[r], (uint64_t)(int64_t)imm);
}
/* the first operand of a template into rax: nothing to do when rax still holds
 * it (the previous instruction's result, see emit_t.rax_reg) */
static void ld_rs1(emit_t *e, unsigned r)
{
    if (r != 0 && (int)r == e->cached)
        return;
    ld(e, RAX, r);
}
static void st(emit_t *e, unsigned r, int reg)
{
    if (r != 0 && r < 32) {
        x_store64(&e->b, RBX, X(r), reg);
        if (e->hreg[r] >= 0)
            x_mov(&e->b, e->hreg[r], reg);
    }
}
static void add_imm(emit_t *e, int reg, int64_t v)
{
    if (!v)
        return;
    if (fits32(v)) {
        x_alu_ri(&e->b, 1, ALU_ADD, reg, (int32_t)v);
    } else {
        int tmp = reg == RCX ? RDX : RCX;
        x_mov_ri(&e->b, tmp, (uint64_t)v);
        x_rr(&e->b, 1, 0x01, tmp, reg); /* add reg, tmp */
    }
}
static void count_hits(emit_t *e)
{
    if (e->nmem)
        x_alu_ri(&e->b, 1, ALU_ADD, RBP, (int32_t)e->nmem);
}

/* continue at block-relative offset rel (r15 is advanced by rel) */
static void exit_to(emit_t *e, int64_t rel)
{
    jit_t *j = e->j;
    int64_t t = (int64_t)e->start + rel;
    add_imm(e, R15, rel);
    if (t < 0 || t >= (int64_t)PAGE_SIZE) {
        x_fix(x_jmp(&e->b), to_rw(j, j->x_indirect));
        return;
    }
    const uint8_t *th = e->page + t;
    if (th == e->host) {
        x_fix(x_jmp(&e->b), e->loop);
        j->st.chain_links++;
        return;
    }
    jit_block_t *tb = hash_find(j, th);
    if (tb && tb->code) {
        x_fix(x_jmp(&e->b), to_rw(j, tb->code));
        j->st.chain_links++;
        return;
    }
    uint8_t *f = x_jmp(&e->b); /* patched by jit_link once the target is translated */
    x_fix(f, e->b.p);
    x_mov_ri(&e->b, RDX, (uint64_t)(uintptr_t)to_rx(j, f));
    x_fix(x_jmp(&e->b), to_rw(j, j->x_link));
}

/* leave the block before instruction idx (it did not run) when condition cc holds */
static void side_exit(emit_t *e, int cc, unsigned idx, unsigned off)
{
    struct side *s = &e->side[e->nside++];
    s->field = x_jcc(&e->b, cc);
    s->idx = idx;
    s->off = off;
    s->nmem = e->nmem;
}

/* F/D instructions are illegal while mstatus.FS is Off: leave to the interpreter */
static void fp_check(emit_t *e, unsigned idx, unsigned off)
{
    x_mem(&e->b, 0, 1, 0xf7, 0, RBX, NOIDX, MSTATUS); /* test qword [mstatus], FS */
    x_d32(&e->b, (int32_t)MSTATUS_FS);
    side_exit(e, CC_E, idx, off);
}

/* FP arithmetic through the interpreter's own exec_fp(); nonzero (illegal:
 * nothing written) leaves the block before the instruction */
static int h_fp(hart_t *h, uint32_t raw)
{
    return exec_fp(h, raw) != MEM_OK;
}

/* The decoded F/D operations (same semantics as interp.c's handlers). add,
 * sub, mul, div and fused multiply-add in round-to-nearest-even use the host's
 * SSE unit when that gives the IEEE result softfloat would: the result is a
 * normal number and the only exception is inexact (read back from MXCSR);
 * anything else (NaN, infinities, subnormals, zero, overflow, invalid, other
 * rounding modes) is computed by softfloat.c. */
/* host_fma: the CPU has FMA3 (vfmadd231sd/ss) */

static inline bool host_begin(void)
{
    unsigned c;
    __asm__ volatile("stmxcsr %0" : "=m"(c));
    if (c & 0xe040) /* not round-to-nearest, or flush-to-zero / denormals-are-zero */
        return false;
    if (c & 0x3f) {
        c &= ~0x3fu;
        __asm__ volatile("ldmxcsr %0" : : "m"(c));
    }
    return true;
}
static inline bool host_end(uint32_t *fl)
{
    unsigned c;
    __asm__ volatile("stmxcsr %0" : "=m"(c));
    if (c & 0x1f) /* invalid, denormal operand, divide by zero, overflow, underflow */
        return false;
    if (c & 0x20)
        *fl |= FF_NX;
    return true;
}
static inline bool d_normal(uint64_t v)
{
    uint64_t e = (v >> 52) & 0x7ff;
    return e && e != 0x7ff;
}
static inline bool s_normal(uint32_t v)
{
    uint32_t e = (v >> 23) & 0xff;
    return e && e != 0xff;
}

static bool d_host(unsigned op, uint64_t a, uint64_t b, uint64_t c, int neg, uint64_t *r,
                   uint32_t *fl)
{
    double x, y, z;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    memcpy(&z, &c, 8);
    uint32_t f = 0;
    if (!host_begin())
        return false;
    switch (op) {
    case OP_FADD_D: __asm__ volatile("addsd %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FSUB_D: __asm__ volatile("subsd %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FMUL_D: __asm__ volatile("mulsd %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FDIV_D: __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(y)); break;
    default: /* fma: z = x * y + z, signs applied exactly beforehand */
        if (neg & 1)
            x = -x;
        if (neg & 2)
            z = -z;
        __asm__ volatile("vfmadd231sd %2, %1, %0" : "+x"(z) : "x"(x), "x"(y));
        x = z;
        break;
    }
    uint64_t v;
    memcpy(&v, &x, 8);
    if (!host_end(&f) || !d_normal(v))
        return false;
    *r = v;
    *fl |= f;
    return true;
}

static bool s_host(unsigned op, uint32_t a, uint32_t b, uint32_t c, int neg, uint32_t *r,
                   uint32_t *fl)
{
    float x, y, z;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    memcpy(&z, &c, 4);
    uint32_t f = 0;
    if (!host_begin())
        return false;
    switch (op) {
    case OP_FADD_S: __asm__ volatile("addss %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FSUB_S: __asm__ volatile("subss %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FMUL_S: __asm__ volatile("mulss %1, %0" : "+x"(x) : "x"(y)); break;
    case OP_FDIV_S: __asm__ volatile("divss %1, %0" : "+x"(x) : "x"(y)); break;
    default:
        if (neg & 1)
            x = -x;
        if (neg & 2)
            z = -z;
        __asm__ volatile("vfmadd231ss %2, %1, %0" : "+x"(z) : "x"(x), "x"(y));
        x = z;
        break;
    }
    uint32_t v;
    memcpy(&v, &x, 4);
    if (!host_end(&f) || !s_normal(v))
        return false;
    *r = v;
    *fl |= f;
    return true;
}

/* add, sub, mul and div without MXCSR (reading it waits for the operation):
 * the rounding error is computed exactly (TwoSum; fma(a, b, -p) for mul;
 * the remainder fma(-q, b, a) for div) and the result is inexact iff it is
 * nonzero. Taken only where that is exact and no other flag is possible:
 * finite normal operands and a normal result far enough from the subnormal
 * range (exponent field >= 128 for mul and div) that the error term is
 * representable. With ``nx`` (fflags already has NX, sticky until the guest
 * clears it) inexactness changes nothing, so the error term is not computed
 * at all: the host's rounded result is the answer (as QEMU's hardfloat does
 * once inexact is set). The conditions stay the same, so no other flag is
 * possible either way. */
static inline double fma_host(double x, double y, double z)
{
    __asm__("vfmadd231sd %2, %1, %0" : "+x"(z) : "x"(x), "x"(y));
    return z;
}
static inline float fmaf_host(float x, float y, float z)
{
    __asm__("vfmadd231ss %2, %1, %0" : "+x"(z) : "x"(x), "x"(y));
    return z;
}

static bool d_fast(unsigned op, uint64_t a, uint64_t b, uint64_t *r, uint32_t *fl, bool nx)
{
    uint64_t ea = (a >> 52) & 0x7ff, eb = (b >> 52) & 0x7ff;
    if (!ea || ea == 0x7ff || !eb || eb == 0x7ff)
        return false;
    double x, y, z, err;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    uint64_t min_e = 1;
    switch (op) {
    case OP_FADD_D:
    case OP_FSUB_D: {
        if (op == OP_FSUB_D)
            y = -y;
        z = x + y;
        if (nx) {
            err = 0;
            break;
        }
        double bb = z - x;
        err = (x - (z - bb)) + (y - bb);
        break;
    }
    case OP_FMUL_D:
        if (!host_fma || ea < 128 || eb < 128)
            return false;
        z = x * y;
        err = nx ? 0 : fma_host(x, y, -z);
        min_e = 128;
        break;
    default: /* div */
        if (!host_fma || ea < 128)
            return false;
        z = x / y;
        err = nx ? 0 : fma_host(-z, y, x);
        min_e = 128;
        break;
    }
    uint64_t v;
    memcpy(&v, &z, 8);
    uint64_t e = (v >> 52) & 0x7ff;
    if (e < min_e || e == 0x7ff)
        return false;
    *r = v;
    if (err != 0)
        *fl |= FF_NX;
    return true;
}

static bool s_fast(unsigned op, uint32_t a, uint32_t b, uint32_t *r, uint32_t *fl, bool nx)
{
    uint32_t ea = (a >> 23) & 0xff, eb = (b >> 23) & 0xff;
    if (!ea || ea == 0xff || !eb || eb == 0xff)
        return false;
    float x, y, z, err;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    uint32_t min_e = 1;
    switch (op) {
    case OP_FADD_S:
    case OP_FSUB_S: {
        if (op == OP_FSUB_S)
            y = -y;
        z = x + y;
        if (nx) {
            err = 0;
            break;
        }
        float bb = z - x;
        err = (x - (z - bb)) + (y - bb);
        break;
    }
    case OP_FMUL_S:
        if (!host_fma || ea < 64 || eb < 64)
            return false;
        z = x * y;
        err = nx ? 0 : fmaf_host(x, y, -z);
        min_e = 64;
        break;
    default:
        if (!host_fma || ea < 64)
            return false;
        z = x / y;
        err = nx ? 0 : fmaf_host(-z, y, x);
        min_e = 64;
        break;
    }
    uint32_t v;
    memcpy(&v, &z, 4);
    uint32_t e = (v >> 23) & 0xff;
    if (e < min_e || e == 0xff)
        return false;
    *r = v;
    if (err != 0)
        *fl |= FF_NX;
    return true;
}

/* fma(a, b, c) = r1 + r2 + r3 exactly (Boldo and Muller's ErrFma, round to
 * nearest, no underflow or overflow anywhere: all exponent fields, the
 * product's and the result's in [256, 1790]); inexact iff r2 or r3 != 0,
 * which ``nx`` (NX already set) makes unnecessary to know */
static bool d_fma_fast(uint64_t a, uint64_t b, uint64_t c, int neg, uint64_t *r, uint32_t *fl,
                       bool nx)
{
    uint64_t ea = (a >> 52) & 0x7ff, eb = (b >> 52) & 0x7ff, ec = (c >> 52) & 0x7ff;
    if (!host_fma || ea < 256 || ea > 1790 || eb < 256 || eb > 1790)
        return false;
    if ((c << 1) != 0 && (ec < 256 || ec > 1790))
        return false;
    if (ea + eb < 1023 + 256 || ea + eb > 1023 + 1790)
        return false;
    double x, y, z;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    memcpy(&z, &c, 8);
    if (neg & 1)
        x = -x;
    if (neg & 2)
        z = -z;
    double r1 = fma_host(x, y, z);
    uint64_t v;
    memcpy(&v, &r1, 8);
    uint64_t e = (v >> 52) & 0x7ff;
    if (e < 256 || e > 1790)
        return false;
    if (nx) {
        *r = v;
        return true;
    }
    double u1 = x * y, u2 = fma_host(x, y, -u1); /* TwoProd */
    double a1 = z + u2, t = a1 - z, a2 = (z - (a1 - t)) + (u2 - t); /* TwoSum(z, u2) */
    double b1 = u1 + a1;
    t = b1 - u1;
    double b2 = (u1 - (b1 - t)) + (a1 - t); /* TwoSum(u1, a1) */
    double g = (b1 - r1) + b2;
    double r2 = g + a2;
    t = r2 - g;
    double r3 = (g - (r2 - t)) + (a2 - t); /* TwoSum(g, a2) */
    *r = v;
    if (r2 != 0 || r3 != 0)
        *fl |= FF_NX;
    return true;
}

/* fcvt.d.w and fcvt.d.wu: every 32-bit integer is a double exactly (no
 * rounding, no flag), so the host's conversion is softfloat's answer */
static inline uint64_t d_from_i32(int32_t v)
{
    double d = (double)v;
    uint64_t r;
    memcpy(&r, &d, 8);
    return r;
}
static inline uint64_t d_from_u32(uint32_t v)
{
    double d = (double)v;
    uint64_t r;
    memcpy(&r, &d, 8);
    return r;
}

#define BOXED(v) (((v) >> 32) == 0xffffffffu)
#define UNBOX(v) (BOXED(v) ? (uint32_t)(v) : F32_CANONICAL_NAN)
#define BOX(v) (0xffffffff00000000ull | (v))

/* p = op | rd << 8 | rs1 << 16 | rs2 << 24 | imm << 32 (the dinsn_t fields);
 * nonzero: illegal (nothing written), the interpreter raises it */
static int h_fop(hart_t *h, uint64_t p)
{
    unsigned op = p & 0xff, rd = (p >> 8) & 0xff, rs1 = (p >> 16) & 0xff, rs2 = (p >> 24) & 0xff;
    int32_t imm = (int32_t)(p >> 32);
    uint32_t fl = 0;
    if (!fp_enabled(h))
        return 1;
    int rm = imm & 7;
    if (op != OP_FSGNJ_D && op != OP_FCMP_D && op != OP_FMV_X_D && op != OP_FMV_D_X) {
        if (rm == 7)
            rm = (int)h->frm;
        if (rm > 4)
            return 1;
    }
    uint64_t a = h->f[rs1], b = h->f[rs2], r;
    const bool nx = (h->fflags & FF_NX) != 0;
    switch (op) {
    case OP_FADD_D: case OP_FSUB_D: case OP_FMUL_D: case OP_FDIV_D:
        if (rm == RM_RNE && d_fast(op, a, b, &r, &fl, nx))
            break;
        r = op == OP_FADD_D   ? f64_add(a, b, rm, &fl)
            : op == OP_FSUB_D ? f64_sub(a, b, rm, &fl)
            : op == OP_FMUL_D ? f64_mul(a, b, rm, &fl)
                              : f64_div(a, b, rm, &fl);
        break;
    case OP_FMA_D: {
        uint64_t c = h->f[imm >> 5];
        int neg = (imm >> 3) & 3;
        if (rm == RM_RNE && (d_fma_fast(a, b, c, neg, &r, &fl, nx) ||
                             (host_fma && d_host(op, a, b, c, neg, &r, &fl))))
            break;
        r = f64_fma(a, b, c, neg & 1, neg >> 1, rm, &fl);
        break;
    }
    case OP_FADD_S: case OP_FSUB_S: case OP_FMUL_S: case OP_FDIV_S: {
        uint32_t x = UNBOX(a), y = UNBOX(b), v;
        if (rm == RM_RNE && BOXED(a) && BOXED(b) && s_fast(op, x, y, &v, &fl, nx)) {
            r = BOX(v);
            break;
        }
        r = BOX(op == OP_FADD_S   ? f32_add(x, y, rm, &fl)
                : op == OP_FSUB_S ? f32_sub(x, y, rm, &fl)
                : op == OP_FMUL_S ? f32_mul(x, y, rm, &fl)
                                  : f32_div(x, y, rm, &fl));
        break;
    }
    case OP_FMA_S: {
        uint64_t c = h->f[imm >> 5];
        int neg = (imm >> 3) & 3;
        uint32_t v;
        if (rm == RM_RNE && host_fma && BOXED(a) && BOXED(b) && BOXED(c) &&
            s_host(op, (uint32_t)a, (uint32_t)b, (uint32_t)c, neg, &v, &fl)) {
            r = BOX(v);
            break;
        }
        r = BOX(f32_fma(UNBOX(a), UNBOX(b), UNBOX(c), neg & 1, neg >> 1, rm, &fl));
        break;
    }
    case OP_FSGNJ_D: {
        uint64_t sign = 1ull << 63;
        uint64_t sb = imm == 0 ? b & sign : imm == 1 ? ~b & sign : (a ^ b) & sign;
        r = (a & ~sign) | sb;
        break;
    }
    case OP_FCVT_D_X: {
        uint64_t v = h->x[rs1];
        switch (imm >> 3) {
        case 0: r = d_from_i32((int32_t)v); break;
        case 1: r = d_from_u32((uint32_t)v); break;
        case 2: r = i64_to_f64((int64_t)v, rm, &fl); break;
        default: r = u64_to_f64(v, rm, &fl); break;
        }
        break;
    }
    case OP_FCVT_X_D:
        switch (imm >> 3) {
        case 0: h->x[rd] = f64_to_i32(a, rm, &fl); break;
        case 1: h->x[rd] = f64_to_u32(a, rm, &fl); break;
        case 2: h->x[rd] = f64_to_i64(a, rm, &fl); break;
        default: h->x[rd] = f64_to_u64(a, rm, &fl); break;
        }
        goto flags_only;
    case OP_FCMP_D:
        h->x[rd] = imm == 0 ? f64_le(a, b, &fl) : imm == 1 ? f64_lt(a, b, &fl) : f64_eq(a, b, &fl);
        goto flags_only;
    case OP_FMV_X_D:
        h->x[rd] = a;
        return 0;
    case OP_FMV_D_X:
        r = h->x[rs1];
        break;
    default:
        return 1;
    }
    h->f[rd] = r;
    h->fflags |= fl;
    h->mstatus |= MSTATUS_FS;
    return 0;
flags_only: /* an x register was written; only a flag changes FP state */
    if (fl) {
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS;
    }
    return 0;
}

/* fast-cache probe for an access of size bytes at x[rs1] + imm: leaves the
 * host address in rax; on a miss mem_fc_fill (out of line, emit_refills) fills
 * the entry where a TLB hit does, else the block is left (side exit) before
 * instruction idx, for the interpreter's slow path */
static void mem_probe(emit_t *e, int acc, const dinsn_t *d, unsigned size, unsigned idx,
                      unsigned off)
{
    xbuf_t *b = &e->b;
    if (d->rs1 < 32 && e->hreg[d->rs1] >= 0) {
        x_mem(b, 0, 1, 0x8d, RAX, e->hreg[d->rs1], NOIDX, d->imm); /* lea rax, [rs1 + imm] */
    } else {
        ld_rs1(e, d->rs1);
        add_imm(e, RAX, d->imm);
    }
    x_mov(b, RCX, RAX);
    x_shift_i(b, 1, SH_SHR, RCX, 12 - 4);
    x_alu_ri(b, 0, ALU_AND, RCX, (int32_t)(FC_MASK << 4));
    x_mov(b, RDX, RAX);
    x_alu_ri(b, 1, ALU_AND, RDX, (int32_t)(PAGE_MASK | (size - 1)));
    x_alu_rm(b, 1, ALU_CMP, RDX, RBX, RCX, FCOFF(acc));
    struct refill *r = &e->refill[e->nrefill++];
    r->miss = x_jcc(b, CC_NE);
    x_alu_rm(b, 1, ALU_ADD, RAX, RBX, RCX, FCOFF(acc) + 8);
    r->ret = b->p;
    r->acc = (unsigned)acc;
    r->size = size;
    r->idx = idx;
    r->off = off;
    r->nmem = e->nmem;
    e->nmem++;
}

static uintptr_t h_fc_fill(hart_t *h, uint64_t va, uint64_t acc_size)
{
    return mem_fc_fill(h, va, (unsigned)(acc_size & 0xff), (unsigned)(acc_size >> 8));
}

/* the out-of-line halves of mem_probe: rax = the virtual address */
static void emit_refills(emit_t *e)
{
    xbuf_t *b = &e->b;
    for (unsigned k = 0; k < e->nrefill; k++) {
        struct refill *r = &e->refill[k];
        x_fix(r->miss, b->p);
        x_mov(b, RSI, RAX);
        x_mem(b, 0, 1, 0x8d, RDI, RBX, NOIDX, -XB); /* lea rdi, [rbx - XB] */
        x_mov_ri(b, RDX, (uint64_t)r->acc | (uint64_t)r->size << 8);
        call_fn(e, (const void *)h_fc_fill);
        x_rr(b, 1, 0x85, RAX, RAX); /* test rax, rax */
        unsigned saved = e->nmem;
        e->nmem = r->nmem;
        side_exit(e, CC_E, r->idx, r->off);
        e->nmem = saved;
        /* filled: the access goes on, not counted as a fast-cache hit (the
         * interpreter's slow path does not count one either) */
        x_alu_ri(b, 1, ALU_SUB, RBP, 1);
        x_fix(x_jmp(b), r->ret);
    }
}

static void call2(emit_t *e, const dinsn_t *d, uint64_t (*fn)(uint64_t, uint64_t))
{
    ld(e, RDI, d->rs1);
    ld(e, RSI, d->rs2);
    call_fn(e, (const void *)fn);
    st(e, d->rd, RAX);
}

/* h_fop's argument for a decoded F/D instruction */
static uint64_t fop_arg(const dinsn_t *d)
{
    return (uint64_t)d->op | (uint64_t)d->rd << 8 | (uint64_t)d->rs1 << 16 |
           (uint64_t)d->rs2 << 24 | (uint64_t)(uint32_t)d->imm << 32;
}

/* call h_fop(h, p); nonzero (illegal) leaves the block before instruction
 * idx, with nmem fast-path accesses of the block done by then */
static void emit_fop_call(emit_t *e, uint64_t p, unsigned idx, unsigned off, unsigned nmem)
{
    xbuf_t *b = &e->b;
    x_mem(b, 0, 1, 0x8d, RDI, RBX, NOIDX, -XB); /* lea rdi, [rbx - XB] */
    x_mov_ri(b, RSI, p);
    call_fn(e, (const void *)h_fop);
    x_rr(b, 0, 0x85, RAX, RAX); /* test eax, eax */
    unsigned saved = e->nmem;
    e->nmem = nmem;
    side_exit(e, CC_NE, idx, off);
    e->nmem = saved;
}

/* to the operation's out-of-line h_fop call when condition cc holds */
static void cold_jcc(emit_t *e, struct cold *c, int cc)
{
    c->fix[c->nfix++] = x_jcc(&e->b, cc);
}

/* to the cold path unless the exponent field of the double in reg is in
 * [lo, hi]; the field is left in ereg (rdi is clobbered) */
static void exp_in(emit_t *e, struct cold *c, int reg, int ereg, int32_t lo, int32_t hi)
{
    xbuf_t *b = &e->b;
    x_mov(b, ereg, reg);
    x_shift_i(b, 1, SH_SHR, ereg, 52);
    x_alu_ri(b, 0, ALU_AND, ereg, 0x7ff);
    x_mem(b, 0, 0, 0x8d, RDI, ereg, NOIDX, -lo); /* lea edi, [ereg - lo] */
    x_alu_ri(b, 0, ALU_CMP, RDI, hi - lo);
    cold_jcc(e, c, CC_A);
}

/* The common double-precision operations inline, in SSE2/FMA3 host code, on
 * exactly the conditions under which h_fop's host paths answer with fflags
 * already holding NX (d_fast and d_fma_fast with nx: the operand and result
 * exponent ranges that exclude every flag but NX, round-to-nearest-even from
 * the instruction or frm) and on no other: anything else (NX clear, so the
 * inexact test must run; another rounding mode; NaN, infinite, zero,
 * subnormal or extreme operands or results) calls h_fop out of line, which
 * computes it exactly as before. fcvt.d.w/wu are exact on the host whatever
 * the mode, fsgnj.d is bit manipulation. Only the interpreter's checks stay
 * in front: mstatus.FS (fp_check) and an invalid dynamic frm (h_fop says
 * illegal, the block is left before the instruction). false: not inlined. */
static bool emit_fd_inline(emit_t *e, const dinsn_t *d, unsigned idx, unsigned off)
{
    xbuf_t *b = &e->b;
    unsigned op = d->op, rm = (unsigned)d->imm & 7;
    bool arith = op >= OP_FADD_D && op <= OP_FMA_D;
    bool cvt = op == OP_FCVT_D_X && (d->imm >> 3) < 2; /* from a 32-bit integer */
    if (!arith && !cvt && op != OP_FSGNJ_D)
        return false;
    if (op == OP_FMA_D && !host_fma)
        return false;
    if (rm != 7 && ((arith && rm != RM_RNE) || (cvt && rm > 4)))
        return false; /* the helper: another rounding mode, or illegal */
    fp_check(e, idx, off);
    struct cold *c = &e->cold[e->ncold++];
    c->nfix = 0;
    c->p = fop_arg(d);
    c->idx = idx;
    c->off = off;
    c->nmem = e->nmem;
    if ((arith || cvt) && rm == 7) { /* dynamic: frm must be RNE (arith) or valid */
        x_mem(b, 0, 0, 0x83, ALU_CMP, RBX, NOIDX, FRM);  /* cmp dword [frm], imm8 */
        x_b(b, arith ? RM_RNE : 4);
        cold_jcc(e, c, arith ? CC_NE : CC_A);
    }
    if (arith) {
        x_mem(b, 0, 0, 0xf6, 0, RBX, NOIDX, FFLAGS); /* test byte [fflags], NX */
        x_b(b, FF_NX);
        cold_jcc(e, c, CC_E);
    }
    if (cvt) {
        if ((d->imm >> 3) == 0) {
            x_sd_mem(b, 0x2a, XMM0, RBX, X(d->rs1)); /* cvtsi2sd xmm0, dword [x] */
        } else {
            x_mem(b, 0, 0, 0x8b, RAX, RBX, NOIDX, X(d->rs1)); /* mov eax, dword [x] */
            x_cvtsi2sd64(b, XMM0, RAX);
        }
        x_sd_mem(b, 0x11, XMM0, RBX, F(d->rd));
    } else if (op == OP_FSGNJ_D) {
        x_load64(b, RAX, RBX, F(d->rs1));
        x_load64(b, RDX, RBX, F(d->rs2));
        if (d->imm == 2)
            x_rr(b, 1, 0x31, RAX, RDX); /* xor rdx, rax: fsgnjx */
        else if (d->imm == 1)
            x_rr(b, 1, 0xf7, 2, RDX); /* not rdx: fsgnjn */
        x_shift_i(b, 1, SH_SHR, RDX, 63);
        x_shift_i(b, 1, SH_SHL, RDX, 63);
        x_shift_i(b, 1, SH_SHL, RAX, 1);
        x_shift_i(b, 1, SH_SHR, RAX, 1);
        x_rr(b, 1, 0x09, RDX, RAX); /* or rax, rdx */
        x_store64(b, RBX, F(d->rd), RAX);
    } else if (op == OP_FMA_D) {
        static const uint8_t fma_ops[4] = {0xb9, 0xbd, 0xbb, 0xbf}; /* by neg: d_fma_fast */
        x_load64(b, RAX, RBX, F(d->rs1));
        x_load64(b, RDX, RBX, F(d->rs2));
        exp_in(e, c, RAX, RCX, 256, 1790);
        exp_in(e, c, RDX, RSI, 256, 1790);
        x_mem(b, 0, 0, 0x8d, RDI, RCX, RSI, -(1023 + 256)); /* lea edi, [ecx + esi - ...] */
        x_alu_ri(b, 0, ALU_CMP, RDI, 1790 - 256);
        cold_jcc(e, c, CC_A);
        x_load64(b, RSI, RBX, F(d->imm >> 5));
        x_mov(b, RDI, RSI);
        x_rr(b, 1, 0x01, RDI, RDI); /* add rdi, rdi: zero (either sign) is fine */
        uint8_t *zero = x_jcc(b, CC_E);
        exp_in(e, c, RSI, RCX, 256, 1790);
        x_fix(zero, b->p);
        x_movq_xr(b, XMM0, RAX);
        x_movq_xr(b, XMM1, RDX);
        x_movq_xr(b, XMM2, RSI);
        x_fma231sd(b, fma_ops[(d->imm >> 3) & 3], XMM2, XMM0, XMM1);
        x_movq_rx(b, RAX, XMM2);
        exp_in(e, c, RAX, RCX, 256, 1790);
        x_store64(b, RBX, F(d->rd), RAX);
    } else { /* add, sub, mul, div */
        static const uint8_t sse_ops[4] = {0x58, 0x5c, 0x59, 0x5e};
        int32_t lo1 = op <= OP_FSUB_D ? 1 : 128, lo2 = op == OP_FMUL_D ? 128 : 1;
        x_load64(b, RAX, RBX, F(d->rs1));
        x_load64(b, RDX, RBX, F(d->rs2));
        exp_in(e, c, RAX, RCX, lo1, 0x7fe);
        exp_in(e, c, RDX, RCX, lo2, 0x7fe);
        x_movq_xr(b, XMM0, RAX);
        x_sd_mem(b, sse_ops[op - OP_FADD_D], XMM0, RBX, F(d->rs2));
        x_movq_rx(b, RAX, XMM0);
        exp_in(e, c, RAX, RCX, lo1, 0x7fe); /* d_fast's min_e: 1 for add/sub, 128 else */
        x_store64(b, RBX, F(d->rd), RAX);
    }
    x_alu_mi(b, ALU_OR, RBX, MSTATUS, (int32_t)MSTATUS_FS); /* FS = Dirty */
    c->ret = b->p;
    return true;
}

/* one instruction that is not the last of a block */
static void emit_plain(emit_t *e, const dinsn_t *d, unsigned idx, unsigned off)
{
    e->cached = e->rax_reg;
    e->rax_reg = -1;
    xbuf_t *b = &e->b;
    unsigned rd = d->rd;
    int32_t imm = d->imm;
    bool nowrite = d->op <= OP_LAST_WX && rd == 32;
    switch (d->op) {
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU: {
        static const unsigned sizes[] = {1, 2, 4, 8, 1, 2, 4};
        static const uint32_t ops[] = {0x0fbe, 0x0fbf, 0x63, 0x8b, 0x0fb6, 0x0fb7, 0x8b};
        static const int wide[] = {1, 1, 1, 1, 0, 0, 0};
        int k = d->op - OP_LB;
        mem_probe(e, ACC_LOAD, d, sizes[k], idx, off);
        x_mem(b, 0, wide[k], ops[k], RAX, RAX, NOIDX, 0);
        st(e, rd, RAX);
        if (rd < 32)
            e->rax_reg = (int)rd;
        return;
    }
    case OP_SB: case OP_SH: case OP_SW: case OP_SD: {
        unsigned size = 1u << (d->op - OP_SB);
        mem_probe(e, ACC_STORE, d, size, idx, off);
        ld(e, RDX, d->rs2);
        x_mem(b, size == 2 ? 0x66 : 0, size == 8, size == 1 ? 0x88 : 0x89, RDX, RAX, NOIDX, 0);
        return;
    }
    case OP_FLW: case OP_FLD: {
        unsigned size = d->op == OP_FLW ? 4 : 8;
        fp_check(e, idx, off);
        mem_probe(e, ACC_LOAD, d, size, idx, off);
        x_mem(b, 0, size == 8, 0x8b, RAX, RAX, NOIDX, 0);
        if (size == 4) { /* NaN-box */
            x_mov_ri(b, RCX, 0xffffffff00000000ull);
            x_rr(b, 1, 0x09, RCX, RAX); /* or rax, rcx */
        }
        x_store64(b, RBX, F(rd), RAX);
        x_alu_mi(b, ALU_OR, RBX, MSTATUS, (int32_t)MSTATUS_FS); /* FS = Dirty */
        return;
    }
    case OP_FSW: case OP_FSD: {
        unsigned size = d->op == OP_FSW ? 4 : 8;
        fp_check(e, idx, off);
        mem_probe(e, ACC_STORE, d, size, idx, off);
        x_load64(b, RDX, RBX, F(d->rs2));
        x_mem(b, 0, size == 8, 0x89, RDX, RAX, NOIDX, 0);
        return;
    }
    case OP_FMV_X_D: /* raw bits, no FP state change */
        fp_check(e, idx, off);
        x_load64(b, RAX, RBX, F(d->rs1));
        st(e, rd, RAX);
        return;
    case OP_FMV_D_X:
        fp_check(e, idx, off);
        ld_rs1(e, d->rs1);
        x_store64(b, RBX, F(rd), RAX);
        x_alu_mi(b, ALU_OR, RBX, MSTATUS, (int32_t)MSTATUS_FS);
        return;
    case OP_FENCE:
        return;
    default:
        if (d->op == OP_FP || (d->op >= OP_FADD_S && d->op <= OP_FMV_D_X)) {
            if (d->op == OP_FP) {
                x_mem(b, 0, 1, 0x8d, RDI, RBX, NOIDX, -XB); /* lea rdi, [rbx - XB] */
                x_mov_ri(b, RSI, d->raw);
                call_fn(e, (const void *)h_fp);
                x_rr(b, 0, 0x85, RAX, RAX); /* test eax, eax */
                side_exit(e, CC_NE, idx, off);
            } else if (!emit_fd_inline(e, d, idx, off)) {
                emit_fop_call(e, fop_arg(d), idx, off, e->nmem);
            }
            return;
        }
        break;
    }
    if (nowrite)
        return; /* everything else only writes rd */
    switch (d->op) {
    case OP_LUI:
        st_imm(e, rd, imm);
        return;
    case OP_AUIPC:
        x_mov(b, RAX, R15);
        add_imm(e, RAX, (int64_t)off + imm);
        break;
    case OP_ADDI: case OP_XORI: case OP_ORI: case OP_ANDI: {
        int ext = d->op == OP_ADDI ? ALU_ADD : d->op == OP_XORI ? ALU_XOR
                  : d->op == OP_ORI ? ALU_OR : ALU_AND;
        if (d->rs1 == 0) {
            st_imm(e, rd, ext == ALU_AND ? 0 : imm);
            return;
        }
        if (ext == ALU_ADD && e->hreg[d->rs1] >= 0) {
            x_mem(b, 0, 1, 0x8d, RAX, e->hreg[d->rs1], NOIDX, imm); /* lea rax, [rs1 + imm] */
            break;
        }
        ld_rs1(e, d->rs1);
        if (imm || ext == ALU_AND)
            x_alu_ri(b, 1, ext, RAX, imm);
        break;
    }
    case OP_SLTI: case OP_SLTIU:
        ld_rs1(e, d->rs1);
        x_alu_ri(b, 1, ALU_CMP, RAX, imm);
        x_setcc(b, d->op == OP_SLTI ? CC_L : CC_B, RAX);
        break;
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
        ld_rs1(e, d->rs1);
        x_shift_i(b, 1, d->op == OP_SLLI ? SH_SHL : d->op == OP_SRLI ? SH_SHR : SH_SAR, RAX, imm);
        break;
    case OP_ADD: case OP_SUB: case OP_XOR: case OP_OR: case OP_AND: {
        int ext = d->op == OP_ADD ? ALU_ADD : d->op == OP_SUB ? ALU_SUB
                  : d->op == OP_XOR ? ALU_XOR : d->op == OP_OR ? ALU_OR : ALU_AND;
        ld_rs1(e, d->rs1);
        op_x(e, 1, (uint32_t)(ext * 8 + 3), RAX, d->rs2);
        break;
    }
    case OP_SLL: case OP_SRL: case OP_SRA:
        ld_rs1(e, d->rs1);
        ld(e, RCX, d->rs2);
        x_shift_cl(b, 1, d->op == OP_SLL ? SH_SHL : d->op == OP_SRL ? SH_SHR : SH_SAR, RAX);
        break;
    case OP_SLT: case OP_SLTU:
        ld_rs1(e, d->rs1);
        op_x(e, 1, ALU_CMP * 8 + 3, RAX, d->rs2);
        x_setcc(b, d->op == OP_SLT ? CC_L : CC_B, RAX);
        break;
    case OP_ADDIW:
        ld_rs1(e, d->rs1);
        if (imm)
            x_alu_ri(b, 0, ALU_ADD, RAX, imm);
        x_movsxd(b, RAX, RAX);
        break;
    case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
        ld_rs1(e, d->rs1);
        x_shift_i(b, 0, d->op == OP_SLLIW ? SH_SHL : d->op == OP_SRLIW ? SH_SHR : SH_SAR, RAX,
                  imm);
        x_movsxd(b, RAX, RAX);
        break;
    case OP_ADDW: case OP_SUBW:
        ld_rs1(e, d->rs1);
        op_x(e, 0, d->op == OP_ADDW ? ALU_ADD * 8 + 3 : ALU_SUB * 8 + 3, RAX, d->rs2);
        x_movsxd(b, RAX, RAX);
        break;
    case OP_SLLW: case OP_SRLW: case OP_SRAW:
        ld_rs1(e, d->rs1);
        ld(e, RCX, d->rs2);
        x_shift_cl(b, 0, d->op == OP_SLLW ? SH_SHL : d->op == OP_SRLW ? SH_SHR : SH_SAR, RAX);
        x_movsxd(b, RAX, RAX);
        break;
    case OP_MUL:
        ld_rs1(e, d->rs1);
        op_x(e, 1, 0x0faf, RAX, d->rs2); /* imul rax, rs2 */
        break;
    case OP_MULW:
        ld_rs1(e, d->rs1);
        op_x(e, 0, 0x0faf, RAX, d->rs2);
        x_movsxd(b, RAX, RAX);
        break;
    case OP_MULH: case OP_MULHU:
        ld_rs1(e, d->rs1);
        op_x(e, 1, 0xf7, d->op == OP_MULH ? 5 : 4, d->rs2); /* rdx:rax */
        st(e, rd, RDX);
        return;
    case OP_MULHSU: call2(e, d, h_mulhsu); return;
    case OP_DIV: call2(e, d, h_div); return;
    case OP_DIVU: call2(e, d, h_divu); return;
    case OP_REM: call2(e, d, h_rem); return;
    case OP_REMU: call2(e, d, h_remu); return;
    case OP_DIVW: call2(e, d, h_divw); return;
    case OP_DIVUW: call2(e, d, h_divuw); return;
    case OP_REMW: call2(e, d, h_remw); return;
    case OP_REMUW: call2(e, d, h_remuw); return;
    default:
        return; /* classify() lets nothing else through */
    }
    st(e, rd, RAX);
    e->rax_reg = (int)rd; /* 1..31: rd = 32 (x0) returned above */
}

/* the block's last instruction: a branch or jump */
static void emit_end(emit_t *e, const dinsn_t *d, unsigned off)
{
    e->cached = e->rax_reg;
    e->rax_reg = -1;
    xbuf_t *b = &e->b;
    int64_t next = (int64_t)off + d->len;
    switch (d->op) {
    case OP_JAL:
        if (d->rd != 32) {
            x_mov(b, RAX, R15);
            add_imm(e, RAX, next);
            st(e, d->rd, RAX);
        }
        count_hits(e);
        exit_to(e, (int64_t)off + d->imm);
        return;
    case OP_JALR:
        ld_rs1(e, d->rs1);
        add_imm(e, RAX, d->imm);
        x_alu_ri(b, 1, ALU_AND, RAX, -2);
        if (d->rd != 32) {
            x_mov(b, RCX, R15);
            add_imm(e, RCX, next);
            st(e, d->rd, RCX);
        }
        count_hits(e);
        x_mov(b, R15, RAX);
        x_fix(x_jmp(b), to_rw(e->j, e->j->x_indirect));
        return;
    default: {
        static const int ccs[6] = {CC_E, CC_NE, CC_L, CC_GE, CC_B, CC_AE};
        count_hits(e);
        int r1 = RAX;
        if (d->rs1 < 32 && e->hreg[d->rs1] >= 0)
            r1 = e->hreg[d->rs1];
        else
            ld_rs1(e, d->rs1);
        op_x(e, 1, ALU_CMP * 8 + 3, r1, d->rs2);
        if ((int64_t)off + d->imm == 0) { /* back to the block's start: one jcc */
            x_fix(x_jcc(b, ccs[d->op - OP_BEQ]), e->loop);
            e->j->st.chain_links++;
            exit_to(e, next);
            return;
        }
        uint8_t *taken = x_jcc(b, ccs[d->op - OP_BEQ]);
        exit_to(e, next);
        x_fix(taken, b->p);
        exit_to(e, (int64_t)off + d->imm);
        return;
    }
    }
}

/* reads[r] += the times d reads x[r] (for the choice of cached registers) */
static void count_reads(const dinsn_t *d, unsigned *reads)
{
    unsigned op = d->op;
    bool r1 = op == OP_JALR || (op >= OP_LB && op <= OP_LWU) || (op >= OP_ADDI && op <= OP_SRAI) ||
              (op >= OP_ADDIW && op <= OP_SRAIW) || (op >= OP_FLW && op <= OP_FSD) ||
              op == OP_FMV_D_X || op == OP_FCVT_D_X;
    bool r2 = (op >= OP_ADD && op <= OP_AND) || (op >= OP_ADDW && op <= OP_SRAW) ||
              (op >= OP_MUL && op <= OP_REMUW) || (op >= OP_BEQ && op <= OP_SD);
    if ((r1 || r2) && d->rs1 < 32)
        reads[d->rs1]++;
    if (r2 && d->rs2 < 32)
        reads[d->rs2]++;
}

static ram_slot_t *slot_of(machine_t *m, const uint8_t *host)
{
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        if (host >= s->host && host < s->host + s->size)
            return s;
    }
    return NULL;
}

/* a page gets its first translation: no hart may keep a store fast path to it */
static void drop_store_entries(machine_t *m, const uint8_t *page)
{
    for (int i = 0; i < m->nharts; i++) {
        fc_entry_t *fc = m->harts[i]->fc[ACC_STORE];
        for (unsigned k = 0; k < FC_SIZE; k++)
            if (fc[k].tag != FC_INVALID && (const uint8_t *)(uintptr_t)(fc[k].tag + fc[k].add) ==
                                               page)
                fc[k].tag = FC_INVALID;
    }
}

static jit_block_t *new_block(jit_t *j, const uint8_t *host)
{
    jit_block_t *b = &j->blocks[j->nblocks++];
    memset(b, 0, sizeof(*b));
    b->host = host;
    uint32_t hs = hslot(host);
    b->hnext = j->hash[hs];
    j->hash[hs] = j->nblocks;
    j->st.live_blocks++;
    return b;
}

/* AVMM_JIT_PERFMAP=1: every block's code range and guest pc go into
 * /tmp/perf-PID.map, the file `perf report` reads to name code it cannot
 * find in any binary (opened at the first translation, flushed per block,
 * left to the process's exit; blocks of a flushed cache keep their lines) */
static void perfmap_note(const uint8_t *code, size_t len, uint64_t pc)
{
    static int state; /* 0 unknown, 1 writing, 2 off */
    static FILE *f;
    if (state == 0) {
        const char *env = getenv("AVMM_JIT_PERFMAP");
        state = 2;
        if (env && strcmp(env, "1") == 0) {
            char path[64];
            snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
            f = fopen(path, "a");
            if (f)
                state = 1;
        }
    }
    if (state != 1)
        return;
    if (pc == UINT64_MAX)
        fprintf(f, "%lx %zx avmm-jit:trampoline\n", (unsigned long)(uintptr_t)code, len);
    else
        fprintf(f, "%lx %zx avmm-jit:0x%llx\n", (unsigned long)(uintptr_t)code, len,
                (unsigned long long)pc);
    fflush(f);
}

static const uint8_t *translate(hart_t *h, jit_t *j, uint64_t pc, const uint8_t *host)
{
    machine_t *m = h->m;
    uint64_t t0 = host_ns();
    ram_slot_t *s = slot_of(m, host);
    if (!s)
        return NULL;
    uint64_t pg = (uint64_t)(host - s->host) >> 12;
    if (s->jit_smc && (s->jit_smc[pg] & 0xff) >= JIT_SMC_LIMIT) {
        /* code and data share this page: leave it to the interpreter, until
         * 4096 other blocks were translated since its last drop */
        uint32_t now = (uint32_t)j->st.blocks & 0xffffff;
        if (((now - (s->jit_smc[pg] >> 8)) & 0xffffff) < 4096)
            return NULL;
        s->jit_smc[pg] = 0;
    }
    if (j->size - j->used < JIT_BLOCK_ROOM || j->nblocks >= JIT_MAX_BLOCKS)
        jit_flush(m, JF_FULL);
    if (!s->jit_pages) {
        s->jit_pages = calloc(s->size >> 12, sizeof(uint32_t));
        s->jit_smc = calloc(s->size >> 12, sizeof(uint32_t));
        s->jit_snap = calloc(s->size >> 12, sizeof(uint8_t *));
        if (!s->jit_pages || !s->jit_smc || !s->jit_snap) {
            slot_pages_free(s);
            return NULL;
        }
    }

    emit_t *e = malloc(sizeof(*e));
    if (!e)
        return NULL;
    dinsn_t ins[JIT_MAX_INSNS];
    unsigned offs[JIT_MAX_INSNS];
    e->j = j;
    e->host = host;
    e->start = (unsigned)(pc & 0xfff);
    e->page = host - e->start;
    e->nmem = 0;
    e->nside = 0;
    e->ncold = 0;
    e->nrefill = 0;
    e->rax_reg = -1;

    unsigned L = 0, off = e->start;
    int last = K_PLAIN;
    while (L < JIT_MAX_INSNS && off <= PAGE_SIZE - 2) {
        uint16_t lo;
        memcpy(&lo, e->page + off, 2);
        uint32_t raw = lo;
        if ((lo & 3) == 3) {
            if (off > PAGE_SIZE - 4)
                break; /* crosses the page: interpreted */
            uint16_t hi;
            memcpy(&hi, e->page + off + 2, 2);
            raw |= (uint32_t)hi << 16;
        }
        rv_decode(&ins[L], raw);
        last = classify(&ins[L]);
        if (last == K_NO)
            break;
        offs[L] = off - e->start;
        off += ins[L].len;
        L++;
        if (last == K_END)
            break;
    }
    if (!L) {
        jit_block_t *b = new_block(j, host);
        b->raw = raw_at(host, pc);
        free(e);
        return NULL;
    }
    e->L = L;
    e->entry = j->rw + j->used;
    e->b.p = e->entry;
    xbuf_t *b = &e->b;

    /* the most read guest registers into host registers (a block that jumps
     * to itself keeps them across iterations, so one read is enough) */
    unsigned reads[33] = {0};
    for (unsigned i = 0; i < L; i++)
        count_reads(&ins[i], reads);
    reads[0] = 0; /* x0 reads as zero from the hart structure */
    const dinsn_t *lastd = &ins[L - 1];
    bool self_loop = last == K_END && lastd->op != OP_JALR && offs[L - 1] + lastd->imm == 0;
    memset(e->hreg, -1, sizeof(e->hreg));
    for (unsigned k = 0; k < JIT_HREGS; k++) {
        unsigned best = 0;
        for (unsigned r = 1; r < 32; r++)
            if (e->hreg[r] < 0 && reads[r] > reads[best])
                best = r;
        if (!best || reads[best] < (self_loop ? 1u : 2u))
            break;
        e->hreg[best] = (int8_t)cache_hosts[k];
        reads[best] = 0;
    }
    reload_cached(e);
    e->loop = b->p;

    /* budget: run only if n + L <= chunk_end (n is put back out of line) */
    x_alu_ri(b, 1, ALU_ADD, R12, (int32_t)L);
    x_rr(b, 1, 0x3b, R12, R13); /* cmp r12, r13 */
    uint8_t *over = x_jcc(b, CC_A);

    for (unsigned i = 0; i < L; i++) {
        if (i == L - 1 && last == K_END)
            emit_end(e, &ins[i], offs[i]);
        else
            emit_plain(e, &ins[i], i, offs[i]);
    }
    if (last != K_END) {
        unsigned end = off - e->start;
        count_hits(e);
        if (last == K_NO) { /* the next instruction is interpreted */
            add_imm(e, R15, end);
            x_fix(x_jmp(b), to_rw(j, j->x_step));
        } else {
            exit_to(e, end);
        }
    }
    x_fix(over, b->p);
    x_alu_ri(b, 1, ALU_SUB, R12, (int32_t)L);
    x_fix(x_jmp(b), to_rw(j, j->x_budget));
    /* inline F/D operations that could not answer: the helper does, then the
     * code goes on after the operation (or leaves before it: illegal) */
    for (unsigned k = 0; k < e->ncold; k++) {
        struct cold *c = &e->cold[k];
        for (unsigned i = 0; i < c->nfix; i++)
            x_fix(c->fix[i], b->p);
        emit_fop_call(e, c->p, c->idx, c->off, c->nmem);
        x_fix(x_jmp(b), c->ret);
    }
    emit_refills(e);
    /* side exits: leave before instruction idx, which did not run */
    for (unsigned k = 0; k < e->nside; k++) {
        struct side *sd = &e->side[k];
        x_fix(sd->field, b->p);
        add_imm(e, R15, sd->off);
        x_alu_ri(b, 1, ALU_SUB, R12, (int32_t)(L - sd->idx));
        if (sd->nmem)
            x_alu_ri(b, 1, ALU_ADD, RBP, (int32_t)sd->nmem);
        x_fix(x_jmp(b), to_rw(j, j->x_step));
    }
    size_t used = (size_t)(b->p - e->entry);
    if (used > JIT_BLOCK_ROOM)
        abort(); /* JIT_BLOCK_ROOM is a bound on every template: a bug */
    j->used = (j->used + used + 15) & ~(size_t)15;

    jit_block_t *blk = new_block(j, host);
    blk->code = to_rx(j, e->entry);
    blk->ninsn = (uint16_t)L;
    if (!s->jit_pages[pg]) {
        drop_store_entries(m, e->page);
        /* what jit_reset compares the page with (no copy: it drops the page) */
        if (!s->jit_snap[pg])
            s->jit_snap[pg] = malloc(PAGE_SIZE);
        if (s->jit_snap[pg])
            memcpy(s->jit_snap[pg], e->page, PAGE_SIZE);
    }
    blk->pnext = s->jit_pages[pg];
    s->jit_pages[pg] = j->nblocks;
    free(e);

    perfmap_note(blk->code, used, pc);
    j->st.blocks++;
    j->st.insns += L;
    j->st.translate_ns += host_ns() - t0;
    return blk->code;
}

#else /* not x86-64: the interpreter only */

const char *jit_unavailable_reason(void)
{
#if defined(__x86_64__)
    return "the core was built without its translator (AVMM_NO_JIT)";
#else
    return "translation needs an x86-64 host";
#endif
}
void jit_free(machine_t *m) {}
void jit_get_stats(machine_t *m, jit_stats_t *st)
{
    memset(st, 0, sizeof(*st));
}
const uint8_t *jit_find(hart_t *h, uint64_t pc, bool *one)
{
    return NULL;
}
int jit_exec(hart_t *h, jit_run_t *jr, const uint8_t *code)
{
    return JX_STEP;
}
void jit_link(machine_t *m, uint8_t *link, uint64_t gen, const uint8_t *code) {}
uint64_t jit_gen(machine_t *m)
{
    return 0;
}
void jit_flush(machine_t *m, int cause) {}
void jit_reset(machine_t *m) {}
void jit_smc(machine_t *m, ram_slot_t *s, uint64_t pa, uint64_t len) {}
unsigned jit_host_sync(machine_t *m, int cause)
{
    __atomic_store_n(&m->jit_hostw_pending, 0, __ATOMIC_SEQ_CST);
    return 0;
}

#endif
