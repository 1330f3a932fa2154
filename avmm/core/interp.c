/*
 * The interpreter: fetch, decode and execute RV64IMAC + Zicsr + Zifencei (and
 * the memory part of F/D), in slices.
 *
 * Budget: a slice takes at most `budget` steps; a step is a retired
 * instruction or an instruction that raised an exception (so a trap storm
 * still ends the slice). Taking an interrupt is not a step. `instret` counts
 * retired instructions only (exceptions and ecall/ebreak traps do not retire;
 * an ecall completed by the VMM, EXIT_ECALL, does).
 *
 * Hot-loop state (pc, step count, the current fetch page) lives in locals;
 * anything out of line sees it after SYNC().
 */
#include <inttypes.h>

#include "core.h"

#define HOST_POLL_STEPS 1024 /* host clock: check timers this often */

static inline int64_t sext(uint64_t v, int bits)
{
    return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

static inline uint64_t mulh(int64_t a, int64_t b)
{
    return (uint64_t)(((__int128)a * b) >> 64);
}
static inline uint64_t mulhu(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}
static inline uint64_t mulhsu(int64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)a * (__int128)b) >> 64);
}
static inline uint64_t divs(int64_t a, int64_t b)
{
    if (b == 0)
        return UINT64_MAX;
    if (a == INT64_MIN && b == -1)
        return (uint64_t)a;
    return (uint64_t)(a / b);
}
static inline uint64_t rems(int64_t a, int64_t b)
{
    if (b == 0)
        return (uint64_t)a;
    if (a == INT64_MIN && b == -1)
        return 0;
    return (uint64_t)(a % b);
}
static inline uint64_t divw(int32_t a, int32_t b)
{
    if (b == 0)
        return UINT64_MAX;
    if (a == INT32_MIN && b == -1)
        return (uint64_t)(int64_t)a;
    return (uint64_t)(int64_t)(a / b);
}
static inline uint64_t remw(int32_t a, int32_t b)
{
    if (b == 0)
        return (uint64_t)(int64_t)a;
    if (a == INT32_MIN && b == -1)
        return 0;
    return (uint64_t)(int64_t)(a % b);
}

static const char *cause_name(uint64_t c)
{
    static const char *const names[16] = {
        "instruction address misaligned", "instruction access fault", "illegal instruction",
        "breakpoint", "load address misaligned", "load access fault",
        "store address misaligned", "store access fault", "ecall from U-mode",
        "ecall from S-mode", "exception 10", "ecall from M-mode", "instruction page fault",
        "load page fault", "exception 14", "store page fault",
    };
    return c < 16 ? names[c] : "exception";
}

/* ------------------------------------------------------------ out of line */

static int exec_csr(hart_t *h, uint32_t insn, int *effects)
{
    unsigned f3 = (insn >> 12) & 7, rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31;
    int csr = (int)(insn >> 20);
    uint64_t src = (f3 & 4) ? rs1 : h->x[rs1];
    bool write = (f3 & 3) == 1 || rs1 != 0;
    uint64_t old = 0;
    /* reads have no side effects in this core, so csrrw with rd=x0 may read */
    if (csr_read(h, csr, &old, true) != MEM_OK)
        return MEM_EXC;
    if (write) {
        uint64_t v = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? old | src : old & ~src;
        if (csr_write(h, csr, v, true, effects) != MEM_OK)
            return MEM_EXC;
    }
    if (rd)
        h->x[rd] = old;
    return MEM_OK;
}

static int exec_amo(hart_t *h, uint32_t insn)
{
    unsigned f3 = (insn >> 12) & 7, f5 = insn >> 27;
    unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
    unsigned size = f3 == 2 ? 4 : f3 == 3 ? 8 : 0;
    uint64_t va = h->x[rs1], src = h->x[rs2], pa, old;
    uint8_t *p;
    int r;
    if (!size)
        goto illegal;
    if (f5 == 2) { /* LR */
        if (rs2)
            goto illegal;
        r = mem_atomic_ptr(h, va, size, true, &pa, &p);
        if (r)
            return r;
        if (size == 4) {
            int32_t v;
            memcpy(&v, p, 4);
            old = (uint64_t)(int64_t)v;
        } else {
            memcpy(&old, p, 8);
        }
        if (!h->resv_valid) {
            h->resv_valid = true;
            h->m->nresv++;
        }
        h->resv_addr = pa;
        h->resv_size = size;
        if (rd)
            h->x[rd] = old;
        return MEM_OK;
    }
    if (f5 == 3) { /* SC */
        if (va & (size - 1)) {
            h->exc_cause = CAUSE_MISALIGNED_STORE;
            h->exc_tval = va;
            return MEM_EXC;
        }
        if (!h->resv_valid) {
            if (rd)
                h->x[rd] = 1;
            return MEM_OK;
        }
        r = mem_atomic_ptr(h, va, size, false, &pa, &p);
        if (r) {
            hart_clear_resv(h);
            return r;
        }
        bool ok = pa >= h->resv_addr && pa + size <= h->resv_addr + h->resv_size;
        hart_clear_resv(h);
        if (!ok) {
            if (rd)
                h->x[rd] = 1;
            return MEM_OK;
        }
        memcpy(p, &src, size);
        if (rd)
            h->x[rd] = 0;
        return mem_atomic_stored(h, pa, size);
    }
    switch (f5) {
    case 0x00: case 0x01: case 0x04: case 0x08: case 0x0c:
    case 0x10: case 0x14: case 0x18: case 0x1c:
        break;
    default:
        goto illegal;
    }
    r = mem_atomic_ptr(h, va, size, false, &pa, &p);
    if (r)
        return r;
    uint64_t nv;
    if (size == 4) {
        int32_t o32;
        memcpy(&o32, p, 4);
        old = (uint64_t)(int64_t)o32;
        int32_t a = o32, b = (int32_t)src;
        uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
        switch (f5) {
        case 0x00: nv = ua + ub; break;
        case 0x01: nv = ub; break;
        case 0x04: nv = ua ^ ub; break;
        case 0x08: nv = ua | ub; break;
        case 0x0c: nv = ua & ub; break;
        case 0x10: nv = (uint32_t)(a < b ? a : b); break;
        case 0x14: nv = (uint32_t)(a > b ? a : b); break;
        case 0x18: nv = ua < ub ? ua : ub; break;
        default: nv = ua > ub ? ua : ub; break;
        }
        uint32_t n32 = (uint32_t)nv;
        memcpy(p, &n32, 4);
    } else {
        memcpy(&old, p, 8);
        int64_t a = (int64_t)old, b = (int64_t)src;
        switch (f5) {
        case 0x00: nv = old + src; break;
        case 0x01: nv = src; break;
        case 0x04: nv = old ^ src; break;
        case 0x08: nv = old | src; break;
        case 0x0c: nv = old & src; break;
        case 0x10: nv = (uint64_t)(a < b ? a : b); break;
        case 0x14: nv = (uint64_t)(a > b ? a : b); break;
        case 0x18: nv = old < src ? old : src; break;
        default: nv = old > src ? old : src; break;
        }
        memcpy(p, &nv, 8);
    }
    if (rd)
        h->x[rd] = old;
    return mem_atomic_stored(h, pa, size);
illegal:
    h->exc_cause = CAUSE_ILLEGAL;
    h->exc_tval = insn;
    return MEM_EXC;
}

static uint64_t timer_limit(hart_t *h)
{
    machine_t *m = h->m;
    uint64_t lim = UINT64_MAX;
    bool any = false;
    if (h->mtimecmp != DISARMED && !(h->timer_bits & MIP_MTIP) && (h->mie & MIP_MTIP)) {
        any = true;
        uint64_t k = machine_insns_until(m, h->mtimecmp);
        lim = k < lim ? k : lim;
    }
    if (h->stimecmp != DISARMED && !(h->timer_bits & MIP_STIP) && (h->mie & MIP_STIP)) {
        any = true;
        uint64_t k = machine_insns_until(m, h->stimecmp);
        lim = k < lim ? k : lim;
    }
    if (any && m->clock_mode == CLOCK_HOST)
        lim = HOST_POLL_STEPS;
    return lim ? lim : 1;
}

void hart_complete_mmio_read(hart_t *h, uint64_t v)
{
    unsigned rd = (unsigned)h->mmio_rd;
    switch (h->mmio_kind) {
    case LK_I8: v = (uint64_t)(int64_t)(int8_t)v; break;
    case LK_I16: v = (uint64_t)(int64_t)(int16_t)v; break;
    case LK_I32: v = (uint64_t)(int64_t)(int32_t)v; break;
    case LK_U8: v = (uint8_t)v; break;
    case LK_U16: v = (uint16_t)v; break;
    case LK_U32: v = (uint32_t)v; break;
    case LK_F32: v = 0xffffffff00000000ull | (uint32_t)v; break;
    default: break;
    }
    if (h->mmio_kind == LK_F32 || h->mmio_kind == LK_F64) {
        h->f[rd & 31] = v;
        fp_dirty(h);
    } else if (rd) {
        h->x[rd & 31] = v;
    }
    h->pc = h->mmio_next_pc;
    h->mmio_pending = false;
    hart_account(h, 1);
}

/* ------------------------------------------------------------ the loop */

#define SYNC() hart_sync(h, n - exc)

#define RD ((insn >> 7) & 31)
#define RS1 ((insn >> 15) & 31)
#define RS2 ((insn >> 20) & 31)
#define F3 ((insn >> 12) & 7)
#define F7 (insn >> 25)
#define IMM_I ((uint64_t)((int64_t)(int32_t)insn >> 20))
#define IMM_S ((uint64_t)(((int64_t)(int32_t)(insn & 0xfe000000u) >> 20) | ((insn >> 7) & 0x1f)))
#define IMM_B                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 19) | ((insn & 0x80) << 4) |     \
                ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e)))
#define IMM_J                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 11) | (insn & 0xff000) |          \
                ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe)))
#define IMM_U ((uint64_t)(int64_t)(int32_t)(insn & 0xfffff000u))

/* compressed fields */
#define CRS1P (8 + ((insn >> 7) & 7))
#define CRS2P (8 + ((insn >> 2) & 7))
#define CRD RD
#define CRS2 ((insn >> 2) & 31)
#define CI_IMM ((uint64_t)sext(((insn >> 7) & 0x20) | ((insn >> 2) & 0x1f), 6))
#define CI_UIMM ((((insn >> 7) & 0x20) | ((insn >> 2) & 0x1f)))

#define ILLEGAL()                                                                            \
    do {                                                                                     \
        h->exc_cause = CAUSE_ILLEGAL;                                                        \
        h->exc_tval = insn;                                                                  \
        goto trap;                                                                           \
    } while (0)

/* integer load of type T into x[rdi]; MMIO loads exit with (kind, rdi) recorded */
#define LDX(T, va, kind, rdi)                                                                \
    do {                                                                                     \
        uint64_t va_ = (va);                                                                 \
        size_t i_ = (va_ >> 12) & FC_MASK;                                                   \
        if (likely(h->fc_tag[ACC_LOAD][i_] == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {     \
            T t_;                                                                            \
            memcpy(&t_, (const void *)(h->fc_add[ACC_LOAD][i_] + (uintptr_t)va_), sizeof(T)); \
            h->st.fc_hits++;                                                                 \
            x[rdi] = (uint64_t)t_;                                                           \
        } else {                                                                             \
            uint64_t v_;                                                                     \
            SYNC();                                                                          \
            r = mem_load_slow(h, va_, sizeof(T), &v_);                                       \
            if (unlikely(r)) {                                                               \
                lkind = (kind);                                                              \
                lrd = (rdi);                                                                 \
                goto load_fail;                                                              \
            }                                                                                \
            x[rdi] = (uint64_t)(T)v_;                                                        \
        }                                                                                    \
    } while (0)

/* FP load (raw bits) into f[rdi], NaN-boxing singles */
#define LDF(T, va, kind, rdi)                                                                \
    do {                                                                                     \
        uint64_t va_ = (va), v_;                                                             \
        size_t i_ = (va_ >> 12) & FC_MASK;                                                   \
        if (!fp_enabled(h))                                                                  \
            ILLEGAL();                                                                       \
        if (likely(h->fc_tag[ACC_LOAD][i_] == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {     \
            T t_;                                                                            \
            memcpy(&t_, (const void *)(h->fc_add[ACC_LOAD][i_] + (uintptr_t)va_), sizeof(T)); \
            h->st.fc_hits++;                                                                 \
            v_ = t_;                                                                         \
        } else {                                                                             \
            SYNC();                                                                          \
            r = mem_load_slow(h, va_, sizeof(T), &v_);                                       \
            if (unlikely(r)) {                                                               \
                lkind = (kind);                                                              \
                lrd = (rdi);                                                                 \
                goto load_fail;                                                              \
            }                                                                                \
        }                                                                                    \
        h->f[rdi] = sizeof(T) == 4 ? (0xffffffff00000000ull | (uint32_t)v_) : v_;          \
        fp_dirty(h);                                                                         \
    } while (0)

#define ST(T, va, val)                                                                       \
    do {                                                                                     \
        uint64_t va_ = (va);                                                                 \
        T v_ = (T)(val);                                                                     \
        size_t i_ = (va_ >> 12) & FC_MASK;                                                   \
        if (likely(h->fc_tag[ACC_STORE][i_] == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {    \
            memcpy((void *)(h->fc_add[ACC_STORE][i_] + (uintptr_t)va_), &v_, sizeof(T));     \
            h->st.fc_hits++;                                                                 \
        } else {                                                                             \
            SYNC();                                                                          \
            r = mem_store_slow(h, va_, sizeof(T), (uint64_t)v_);                             \
            if (unlikely(r))                                                                 \
                goto store_fail;                                                             \
        }                                                                                    \
    } while (0)

#define STF(T, va, val)                                                                      \
    do {                                                                                     \
        if (!fp_enabled(h))                                                                  \
            ILLEGAL();                                                                       \
        ST(T, va, val);                                                                      \
    } while (0)

#define FLUSH_CTX()                                                                          \
    do {                                                                                     \
        fc_flush(h);                                                                         \
        fpage = FC_INVALID;                                                                  \
    } while (0)

int hart_run(hart_t *h, uint64_t budget, tlb_t *tlb)
{
    machine_t *const m = h->m;
    uint64_t *const x = h->x;
    uint64_t pc = h->pc, npc;
    uint64_t n = 0, exc = 0, chunk_end;
    uint64_t fpage = FC_INVALID;
    uintptr_t fadd = 0;
    uint32_t insn;
    int r, lkind = 0;
    unsigned lrd = 0;

    h->tlb = tlb;
    h->synced = 0;
    h->pauses = 0;
    h->exit_reason = EXIT_BUDGET;
    h->debug_cause = DEBUG_NONE;
    h->error[0] = 0;
    fc_flush(h);
    x[0] = 0;

check:
    SYNC();
    h->pc = pc;
    if (h->single_step && n > 0) {
        h->exit_reason = EXIT_DEBUG;
        h->debug_cause = DEBUG_STEP;
        goto exit;
    }
    if (n >= budget)
        goto exit;
    hart_update_timers(h);
    {
        int irq = hart_pending_irq(h);
        if (irq >= 0) {
            hart_take_trap(h, (uint64_t)irq, 0, true);
            pc = h->pc;
            FLUSH_CTX();
            h->bp_resume = false;
            if (h->single_step) {
                h->exit_reason = EXIT_DEBUG;
                h->debug_cause = DEBUG_STEP;
                goto exit;
            }
        }
    }
    chunk_end = h->single_step ? n + 1 : budget;
    {
        uint64_t lim = timer_limit(h);
        if (lim < chunk_end - n)
            chunk_end = n + lim;
    }

    for (;;) {
        if (unlikely(n >= chunk_end))
            goto check;
        x[0] = 0;

        /* ---- fetch */
        if (likely((pc & PAGE_MASK) == fpage && (pc & 0xfff) <= 0xffc)) {
            memcpy(&insn, (const void *)((uintptr_t)pc + fadd), 4);
        } else {
            size_t fi = (pc >> 12) & FC_MASK;
            if ((pc & 0xfff) <= 0xffc && h->fc_tag[ACC_FETCH][fi] == (pc & PAGE_MASK)) {
                fpage = pc & PAGE_MASK;
                fadd = h->fc_add[ACC_FETCH][fi];
                h->bp_resume = false;
                memcpy(&insn, (const void *)((uintptr_t)pc + fadd), 4);
            } else {
                SYNC();
                r = mem_fetch_slow(h, pc, &insn, &fpage, &fadd);
                if (unlikely(r)) {
                    if (r == MEM_EXC)
                        goto trap;
                    goto exit;
                }
            }
        }

        /* ---- compressed */
        if ((insn & 3) != 3) {
            insn &= 0xffff;
            npc = pc + 2;
            switch (((insn & 3) << 3) | (insn >> 13)) {
            case 0x00: { /* C.ADDI4SPN */
                uint64_t imm = ((insn >> 7) & 0x30) | ((insn >> 1) & 0x3c0) |
                               ((insn >> 4) & 0x4) | ((insn >> 2) & 0x8);
                if (!imm)
                    ILLEGAL(); /* includes the all-zero instruction */
                x[CRS2P] = x[2] + imm;
                break;
            }
            case 0x01: /* C.FLD */
                LDF(uint64_t, x[CRS1P] + (((insn >> 7) & 0x38) | ((insn << 1) & 0xc0)), LK_F64,
                    CRS2P);
                break;
            case 0x02: /* C.LW */
                LDX(int32_t,
                    x[CRS1P] + (((insn >> 7) & 0x38) | ((insn >> 4) & 4) | ((insn << 1) & 0x40)),
                    LK_I32, CRS2P);
                break;
            case 0x03: /* C.LD */
                LDX(uint64_t, x[CRS1P] + (((insn >> 7) & 0x38) | ((insn << 1) & 0xc0)), LK_I64,
                    CRS2P);
                break;
            case 0x05: /* C.FSD */
                STF(uint64_t, x[CRS1P] + (((insn >> 7) & 0x38) | ((insn << 1) & 0xc0)),
                    h->f[CRS2P]);
                break;
            case 0x06: /* C.SW */
                ST(uint32_t,
                   x[CRS1P] + (((insn >> 7) & 0x38) | ((insn >> 4) & 4) | ((insn << 1) & 0x40)),
                   x[CRS2P]);
                break;
            case 0x07: /* C.SD */
                ST(uint64_t, x[CRS1P] + (((insn >> 7) & 0x38) | ((insn << 1) & 0xc0)),
                   x[CRS2P]);
                break;
            case 0x08: /* C.ADDI (C.NOP) */
                x[CRD] = x[CRD] + CI_IMM;
                break;
            case 0x09: /* C.ADDIW */
                if (!CRD)
                    ILLEGAL();
                x[CRD] = (uint64_t)(int64_t)(int32_t)(x[CRD] + CI_IMM);
                break;
            case 0x0a: /* C.LI */
                x[CRD] = CI_IMM;
                break;
            case 0x0b:
                if (CRD == 2) { /* C.ADDI16SP */
                    uint64_t v = ((insn >> 3) & 0x200) | ((insn >> 2) & 0x10) |
                                 ((insn << 1) & 0x40) | ((insn << 4) & 0x180) |
                                 ((insn << 3) & 0x20);
                    if (!v)
                        ILLEGAL();
                    x[2] += (uint64_t)sext(v, 10);
                } else { /* C.LUI */
                    if (!CI_UIMM)
                        ILLEGAL();
                    x[CRD] = CI_IMM << 12;
                }
                break;
            case 0x0c: {
                unsigned rdp = CRS1P;
                switch ((insn >> 10) & 3) {
                case 0: x[rdp] = x[rdp] >> CI_UIMM; break;
                case 1: x[rdp] = (uint64_t)((int64_t)x[rdp] >> CI_UIMM); break;
                case 2: x[rdp] &= CI_IMM; break;
                default: {
                    uint64_t a = x[rdp], b = x[CRS2P];
                    switch (((insn >> 10) & 4) | ((insn >> 5) & 3)) {
                    case 0: x[rdp] = a - b; break;
                    case 1: x[rdp] = a ^ b; break;
                    case 2: x[rdp] = a | b; break;
                    case 3: x[rdp] = a & b; break;
                    case 4: x[rdp] = (uint64_t)(int64_t)(int32_t)(a - b); break;
                    case 5: x[rdp] = (uint64_t)(int64_t)(int32_t)(a + b); break;
                    default: ILLEGAL();
                    }
                }
                }
                break;
            }
            case 0x0d: /* C.J */
                npc = pc + (uint64_t)sext(((insn >> 1) & 0x800) | ((insn >> 7) & 0x10) |
                                              ((insn >> 1) & 0x300) | ((insn << 2) & 0x400) |
                                              ((insn >> 1) & 0x40) | ((insn << 1) & 0x80) |
                                              ((insn >> 2) & 0xe) | ((insn << 3) & 0x20),
                                          12);
                break;
            case 0x0e: /* C.BEQZ */
            case 0x0f: { /* C.BNEZ */
                bool z = x[CRS1P] == 0;
                if (z == !(insn & 0x2000))
                    npc = pc + (uint64_t)sext(((insn >> 4) & 0x100) | ((insn >> 7) & 0x18) |
                                                  ((insn << 1) & 0xc0) | ((insn >> 2) & 6) |
                                                  ((insn << 3) & 0x20),
                                              9);
                break;
            }
            case 0x10: /* C.SLLI */
                x[CRD] = x[CRD] << CI_UIMM;
                break;
            case 0x11: /* C.FLDSP */
                LDF(uint64_t,
                    x[2] + (((insn >> 7) & 0x20) | ((insn >> 2) & 0x18) | ((insn << 4) & 0x1c0)),
                    LK_F64, CRD);
                break;
            case 0x12: /* C.LWSP */
                if (!CRD)
                    ILLEGAL();
                LDX(int32_t,
                    x[2] + (((insn >> 7) & 0x20) | ((insn >> 2) & 0x1c) | ((insn << 4) & 0xc0)),
                    LK_I32, CRD);
                break;
            case 0x13: /* C.LDSP */
                if (!CRD)
                    ILLEGAL();
                LDX(uint64_t,
                    x[2] + (((insn >> 7) & 0x20) | ((insn >> 2) & 0x18) | ((insn << 4) & 0x1c0)),
                    LK_I64, CRD);
                break;
            case 0x14: {
                unsigned rs1 = CRD, rs2 = CRS2;
                if (!(insn & 0x1000)) {
                    if (!rs2) { /* C.JR */
                        if (!rs1)
                            ILLEGAL();
                        npc = x[rs1] & ~1ull;
                    } else { /* C.MV */
                        x[rs1] = x[rs2];
                    }
                } else if (!rs2) {
                    if (!rs1) { /* C.EBREAK */
                        goto ebreak;
                    } else { /* C.JALR */
                        uint64_t t = x[rs1] & ~1ull;
                        x[1] = npc;
                        npc = t;
                    }
                } else { /* C.ADD */
                    x[rs1] = x[rs1] + x[rs2];
                }
                break;
            }
            case 0x15: /* C.FSDSP */
                STF(uint64_t, x[2] + (((insn >> 7) & 0x38) | ((insn >> 1) & 0x1c0)),
                    h->f[CRS2]);
                break;
            case 0x16: /* C.SWSP */
                ST(uint32_t, x[2] + (((insn >> 7) & 0x3c) | ((insn >> 1) & 0xc0)), x[CRS2]);
                break;
            case 0x17: /* C.SDSP */
                ST(uint64_t, x[2] + (((insn >> 7) & 0x38) | ((insn >> 1) & 0x1c0)), x[CRS2]);
                break;
            default:
                ILLEGAL();
            }
            pc = npc;
            n++;
            continue;
        }

        /* ---- 32-bit */
        npc = pc + 4;
        switch (insn & 0x7f) {
        case 0x03: { /* LOAD */
            uint64_t va = x[RS1] + IMM_I;
            switch (F3) {
            case 0: LDX(int8_t, va, LK_I8, RD); break;
            case 1: LDX(int16_t, va, LK_I16, RD); break;
            case 2: LDX(int32_t, va, LK_I32, RD); break;
            case 3: LDX(uint64_t, va, LK_I64, RD); break;
            case 4: LDX(uint8_t, va, LK_U8, RD); break;
            case 5: LDX(uint16_t, va, LK_U16, RD); break;
            case 6: LDX(uint32_t, va, LK_U32, RD); break;
            default: ILLEGAL();
            }
            break;
        }
        case 0x07: { /* LOAD-FP */
            uint64_t va = x[RS1] + IMM_I;
            if (F3 == 2)
                LDF(uint32_t, va, LK_F32, RD);
            else if (F3 == 3)
                LDF(uint64_t, va, LK_F64, RD);
            else
                ILLEGAL();
            break;
        }
        case 0x0f: /* MISC-MEM */
            if (F3 == 0) {
                if (insn == 0x0100000fu && m->pause_exit && ++h->pauses >= m->pause_window) {
                    pc = npc;
                    n++;
                    h->exit_reason = EXIT_PAUSE;
                    goto exit;
                }
            } else if (F3 != 1) { /* fence.i: no decoded-instruction cache to flush */
                ILLEGAL();
            }
            break;
        case 0x13: { /* OP-IMM */
            uint64_t a = x[RS1], imm = IMM_I;
            switch (F3) {
            case 0: x[RD] = a + imm; break;
            case 1:
                if (insn >> 26)
                    ILLEGAL();
                x[RD] = a << (imm & 63);
                break;
            case 2: x[RD] = (int64_t)a < (int64_t)imm; break;
            case 3: x[RD] = a < imm; break;
            case 4: x[RD] = a ^ imm; break;
            case 5:
                if ((insn >> 26) == 0)
                    x[RD] = a >> (imm & 63);
                else if ((insn >> 26) == 0x10)
                    x[RD] = (uint64_t)((int64_t)a >> (imm & 63));
                else
                    ILLEGAL();
                break;
            case 6: x[RD] = a | imm; break;
            default: x[RD] = a & imm; break;
            }
            break;
        }
        case 0x17: /* AUIPC */
            x[RD] = pc + IMM_U;
            break;
        case 0x1b: { /* OP-IMM-32 */
            uint32_t a = (uint32_t)x[RS1];
            unsigned sh = RS2;
            switch (F3) {
            case 0: x[RD] = (uint64_t)(int64_t)(int32_t)(a + (uint32_t)IMM_I); break;
            case 1:
                if (F7)
                    ILLEGAL();
                x[RD] = (uint64_t)(int64_t)(int32_t)(a << sh);
                break;
            case 5:
                if (F7 == 0)
                    x[RD] = (uint64_t)(int64_t)(int32_t)(a >> sh);
                else if (F7 == 0x20)
                    x[RD] = (uint64_t)(int64_t)((int32_t)a >> sh);
                else
                    ILLEGAL();
                break;
            default: ILLEGAL();
            }
            break;
        }
        case 0x23: { /* STORE */
            uint64_t va = x[RS1] + IMM_S, v = x[RS2];
            switch (F3) {
            case 0: ST(uint8_t, va, v); break;
            case 1: ST(uint16_t, va, v); break;
            case 2: ST(uint32_t, va, v); break;
            case 3: ST(uint64_t, va, v); break;
            default: ILLEGAL();
            }
            break;
        }
        case 0x27: { /* STORE-FP */
            uint64_t va = x[RS1] + IMM_S, v = h->f[RS2];
            if (F3 == 2)
                STF(uint32_t, va, v);
            else if (F3 == 3)
                STF(uint64_t, va, v);
            else
                ILLEGAL();
            break;
        }
        case 0x2f: /* AMO */
            SYNC();
            h->pc = pc;
            r = exec_amo(h, insn);
            if (unlikely(r)) {
                if (r == MEM_EXC)
                    goto trap;
                pc = npc;
                n++;
                goto exit; /* HTIF */
            }
            break;
        case 0x33: { /* OP */
            uint64_t a = x[RS1], b = x[RS2];
            switch ((F7 << 3) | F3) {
            case 0x000: x[RD] = a + b; break;
            case 0x100: x[RD] = a - b; break;
            case 0x001: x[RD] = a << (b & 63); break;
            case 0x002: x[RD] = (int64_t)a < (int64_t)b; break;
            case 0x003: x[RD] = a < b; break;
            case 0x004: x[RD] = a ^ b; break;
            case 0x005: x[RD] = a >> (b & 63); break;
            case 0x105: x[RD] = (uint64_t)((int64_t)a >> (b & 63)); break;
            case 0x006: x[RD] = a | b; break;
            case 0x007: x[RD] = a & b; break;
            case 0x008: x[RD] = a * b; break;
            case 0x009: x[RD] = mulh((int64_t)a, (int64_t)b); break;
            case 0x00a: x[RD] = mulhsu((int64_t)a, b); break;
            case 0x00b: x[RD] = mulhu(a, b); break;
            case 0x00c: x[RD] = divs((int64_t)a, (int64_t)b); break;
            case 0x00d: x[RD] = b ? a / b : UINT64_MAX; break;
            case 0x00e: x[RD] = rems((int64_t)a, (int64_t)b); break;
            case 0x00f: x[RD] = b ? a % b : a; break;
            default: ILLEGAL();
            }
            break;
        }
        case 0x37: /* LUI */
            x[RD] = IMM_U;
            break;
        case 0x3b: { /* OP-32 */
            uint32_t a = (uint32_t)x[RS1], b = (uint32_t)x[RS2];
            switch ((F7 << 3) | F3) {
            case 0x000: x[RD] = (uint64_t)(int64_t)(int32_t)(a + b); break;
            case 0x100: x[RD] = (uint64_t)(int64_t)(int32_t)(a - b); break;
            case 0x001: x[RD] = (uint64_t)(int64_t)(int32_t)(a << (b & 31)); break;
            case 0x005: x[RD] = (uint64_t)(int64_t)(int32_t)(a >> (b & 31)); break;
            case 0x105: x[RD] = (uint64_t)(int64_t)((int32_t)a >> (b & 31)); break;
            case 0x008: x[RD] = (uint64_t)(int64_t)(int32_t)(a * b); break;
            case 0x00c: x[RD] = divw((int32_t)a, (int32_t)b); break;
            case 0x00d: x[RD] = (uint64_t)(int64_t)(int32_t)(b ? a / b : UINT32_MAX); break;
            case 0x00e: x[RD] = remw((int32_t)a, (int32_t)b); break;
            case 0x00f: x[RD] = (uint64_t)(int64_t)(int32_t)(b ? a % b : a); break;
            default: ILLEGAL();
            }
            break;
        }
        case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53: /* F/D */
            if (exec_fp(h, insn) != MEM_OK)
                goto trap;
            break;
        case 0x63: { /* BRANCH */
            uint64_t a = x[RS1], b = x[RS2];
            bool t;
            switch (F3) {
            case 0: t = a == b; break;
            case 1: t = a != b; break;
            case 4: t = (int64_t)a < (int64_t)b; break;
            case 5: t = (int64_t)a >= (int64_t)b; break;
            case 6: t = a < b; break;
            case 7: t = a >= b; break;
            default: ILLEGAL();
            }
            if (t)
                npc = pc + IMM_B;
            break;
        }
        case 0x67: { /* JALR */
            if (F3)
                ILLEGAL();
            uint64_t t = (x[RS1] + IMM_I) & ~1ull;
            x[RD] = npc;
            npc = t;
            break;
        }
        case 0x6f: /* JAL */
            x[RD] = npc;
            npc = pc + IMM_J;
            break;
        case 0x73: /* SYSTEM */
            if (F3 == 0) {
                if (RD != 0)
                    ILLEGAL();
                if (F7 == 0x09) { /* SFENCE.VMA */
                    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
                        ILLEGAL();
                    exec_sfence(h, x[RS1], RS1 != 0, x[RS2], RS2 != 0);
                    FLUSH_CTX();
                    break;
                }
                switch (insn) {
                case 0x00000073u: { /* ECALL */
                    uint64_t cause = h->priv == PRIV_U   ? CAUSE_ECALL_U
                                     : h->priv == PRIV_S ? CAUSE_ECALL_S
                                                         : CAUSE_ECALL_M;
                    if (m->sbi_in_vmm && trap_goes_to_m(h, cause)) {
                        pc = npc;
                        n++;
                        h->exit_reason = EXIT_ECALL;
                        goto exit;
                    }
                    h->exc_cause = cause;
                    h->exc_tval = 0;
                    goto trap;
                }
                case 0x00100073u: /* EBREAK */
                    goto ebreak;
                case 0x30200073u: /* MRET */
                case 0x10200073u: /* SRET */
                    SYNC();
                    h->pc = pc;
                    if ((insn == 0x30200073u ? exec_mret(h) : exec_sret(h)) != MEM_OK)
                        ILLEGAL();
                    pc = h->pc;
                    n++;
                    FLUSH_CTX();
                    goto check;
                case 0x10500073u: /* WFI */
                    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
                        ILLEGAL();
                    SYNC();
                    if (hart_wakeup_pending(h))
                        break; /* an interrupt is pending: wfi is a nop */
                    pc = npc;
                    n++;
                    h->exit_reason = EXIT_WFI;
                    goto exit;
                default:
                    ILLEGAL();
                }
            }
            if (F3 == 4)
                ILLEGAL();
            {
                int eff = 0;
                SYNC();
                h->pc = pc;
                if (exec_csr(h, insn, &eff) != MEM_OK)
                    ILLEGAL();
                pc = npc;
                n++;
                if (eff & CSR_FLUSH)
                    FLUSH_CTX();
                if (eff)
                    goto check;
                continue;
            }
        default:
            ILLEGAL();
        }
        pc = npc;
        n++;
    }

ebreak:
    if (h->debug_ebreak) {
        h->exit_reason = EXIT_DEBUG;
        h->debug_cause = DEBUG_EBREAK;
        goto exit;
    }
    h->exc_cause = CAUSE_BREAKPOINT;
    h->exc_tval = pc;
    goto trap;

load_fail:
    if (r == MEM_EXC)
        goto trap;
    /* MMIO read: the load retires when the VMM supplies the value */
    h->mmio_pending = true;
    h->mmio_rd = (int)lrd;
    h->mmio_kind = lkind;
    h->mmio_next_pc = npc;
    h->st.mmio_read++;
    goto exit;

store_fail:
    if (r == MEM_EXC)
        goto trap;
    pc = npc; /* the store retired */
    n++;
    if (r == MEM_RECHECK)
        goto check;
    if (h->exit_reason == EXIT_MMIO_WRITE)
        h->st.mmio_write++;
    goto exit;

trap:
    n++;
    exc++;
    SYNC();
    h->pc = pc;
    h->st.exceptions[h->exc_cause & 15]++;
    if (m->sbi_in_vmm && trap_goes_to_m(h, h->exc_cause)) {
        hart_error(h, "trap to M-mode in direct boot: %s at 0x%" PRIx64 ", pc 0x%" PRIx64,
                   cause_name(h->exc_cause), h->exc_tval, pc);
        h->exit_reason = EXIT_INTERNAL_ERROR;
        goto exit;
    }
    hart_take_trap(h, h->exc_cause, h->exc_tval, false);
    pc = h->pc;
    FLUSH_CTX();
    goto check;

exit:
    SYNC();
    h->pc = pc;
    h->tlb = NULL;
    x[0] = 0;
    h->st.exits[h->exit_reason]++;
    return h->exit_reason;
}
