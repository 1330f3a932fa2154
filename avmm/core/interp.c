/*
 * The interpreter: fetch, decode and execute RV64GC in slices. Instructions
 * are decoded into a cache of dinsn_t entries and executed by threaded code;
 * F/D arithmetic other than add/sub/mul/div/fma goes to fpu.c.
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
#include "decode.h"
#include "jit.h"
#include "softfloat.h"

#define HOST_POLL_STEPS 1024 /* host clock: check timers this often */

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
        /* only the software-writable SEIP bit takes part in a read-modify-write of mip */
        uint64_t base = csr == 0x344 ? (old & ~MIP_SEIP) | (h->mip_sw & MIP_SEIP) : old;
        uint64_t v = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? base | src : base & ~src;
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
        /* other harts may hold store fast-cache entries for this page, which
         * would skip breaking the reservation: they drop them at their next slice
         * start (within this slice no other hart runs) */
        if (h->m->nharts > 1 && !(h->resv_valid && ((h->resv_addr ^ pa) & PAGE_MASK) == 0))
            machine_fc_invalidate(h->m, true);
        if (!h->resv_valid) {
            h->resv_valid = true;
            h->m->nresv++;
        }
        h->resv_addr = pa;
        h->resv_size = size;
        h->resv_va = va;
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
        if (!h->resv_valid || va < h->resv_va || va + size > h->resv_va + h->resv_size) {
            /* no reservation here: fail without translating (as QEMU does) */
            hart_clear_resv(h);
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


/* ------------------------------------------------------------ decode cache */

/* Decoded instructions (decode.c) are cached machine-wide, direct-mapped by pc
 * and tagged by the raw instruction bits: decoding is a pure function of the
 * bits, so an entry whose tag equals the bits just fetched is valid whatever
 * the pc, the hart or any store to code since (no invalidation needed). */

/* ------------------------------------------------------------ the loop */

/* fast-cache hits are counted in a local (a memory counter would chain every
 * load and store through store forwarding) and flushed with the instret sync */
#define SYNC()                                                                               \
    do {                                                                                     \
        hart_sync(h, n - exc);                                                               \
        h->st.fc_hits += fch;                                                                \
        fch = 0;                                                                             \
    } while (0)
#define IMM ((uint64_t)(int64_t)d->imm)
#define XD x[d->rd]
#define X1 x[d->rs1]
#define X2 x[d->rs2]

#define ILLEGAL()                                                                            \
    do {                                                                                     \
        h->exc_cause = CAUSE_ILLEGAL;                                                        \
        h->exc_tval = d->raw;                                                                \
        goto trap;                                                                           \
    } while (0)

/* integer load of type T into x[rdi]; MMIO loads exit with (kind, rdi) recorded */
#define LDX(T, va, kind, rdi)                                                                \
    do {                                                                                     \
        uint64_t va_ = (va);                                                                 \
        size_t i_ = (va_ >> 12) & FC_MASK;                                                   \
        if (likely(h->fc[ACC_LOAD][i_].tag == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {     \
            T t_;                                                                            \
            memcpy(&t_, (const void *)(h->fc[ACC_LOAD][i_].add + (uintptr_t)va_), sizeof(T)); \
            fch++;                                                                 \
            x[rdi] = (uint64_t)t_;                                                           \
        } else {                                                                             \
            uint64_t v_;                                                                     \
            SYNC();                                                                          \
            r = mem_load_slow(h, va_, sizeof(T), &v_);                                       \
            if (unlikely(r)) {                                                               \
                lkind = (kind);                                                              \
                lrd = (rdi) & 31;                                                            \
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
        if (likely(h->fc[ACC_LOAD][i_].tag == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {     \
            T t_;                                                                            \
            memcpy(&t_, (const void *)(h->fc[ACC_LOAD][i_].add + (uintptr_t)va_), sizeof(T)); \
            fch++;                                                                 \
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
        if (likely(h->fc[ACC_STORE][i_].tag == (va_ & (PAGE_MASK | (sizeof(T) - 1))))) {    \
            memcpy((void *)(h->fc[ACC_STORE][i_].add + (uintptr_t)va_), &v_, sizeof(T));     \
            fch++;                                                                 \
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

/* Fetch at pc and jump to the handler of the decoded instruction. Replicated
 * at the end of every handler (threaded code), so each handler's indirect
 * jump is predicted on its own. */
#define DISPATCH()                                                                           \
    do {                                                                                     \
        if (unlikely(n >= stop))                                                             \
            goto stopped;                                                                    \
        if (unlikely((pc & PAGE_MASK) != fpage || (pc & 0xfff) > 0xffc))                     \
            goto fetch_slow;                                                                 \
        memcpy(&raw, (const void *)((uintptr_t)pc + fadd), 4);                               \
        if ((raw & 3) != 3)                                                                  \
            raw &= 0xffff;                                                                   \
        d = &dc[(pc >> 1) & DC_MASK];                                                        \
        if (unlikely(d->raw != raw))                                                         \
            goto decode_slow;                                                                \
        goto *labels[d->op];                                                                 \
    } while (0)

#define NEXT()                                                                               \
    do {                                                                                     \
        pc += d->len;                                                                        \
        n++;                                                                                 \
        DISPATCH();                                                                          \
    } while (0)

/* a jump, or a branch either way: a block may start at the target */
#define JUMP(target)                                                                         \
    do {                                                                                     \
        pc = (target);                                                                       \
        n++;                                                                                 \
        if (use_jit)                                                                         \
            goto jit_dispatch;                                                               \
        DISPATCH();                                                                          \
    } while (0)
#define NEXT_BRANCH() JUMP(pc + d->len)

int hart_run(hart_t *h, uint64_t budget, tlb_t *tlb)
{
    static void *const labels[OP_COUNT] = {
        [OP_ILLEGAL] = &&L_ILLEGAL, [OP_LUI] = &&L_LUI, [OP_AUIPC] = &&L_AUIPC,
        [OP_JAL] = &&L_JAL, [OP_JALR] = &&L_JALR,
        [OP_LB] = &&L_LB, [OP_LH] = &&L_LH, [OP_LW] = &&L_LW, [OP_LD] = &&L_LD,
        [OP_LBU] = &&L_LBU, [OP_LHU] = &&L_LHU, [OP_LWU] = &&L_LWU,
        [OP_ADDI] = &&L_ADDI, [OP_SLTI] = &&L_SLTI, [OP_SLTIU] = &&L_SLTIU,
        [OP_XORI] = &&L_XORI, [OP_ORI] = &&L_ORI, [OP_ANDI] = &&L_ANDI,
        [OP_SLLI] = &&L_SLLI, [OP_SRLI] = &&L_SRLI, [OP_SRAI] = &&L_SRAI,
        [OP_ADD] = &&L_ADD, [OP_SUB] = &&L_SUB, [OP_SLL] = &&L_SLL, [OP_SLT] = &&L_SLT,
        [OP_SLTU] = &&L_SLTU, [OP_XOR] = &&L_XOR, [OP_SRL] = &&L_SRL, [OP_SRA] = &&L_SRA,
        [OP_OR] = &&L_OR, [OP_AND] = &&L_AND,
        [OP_ADDIW] = &&L_ADDIW, [OP_SLLIW] = &&L_SLLIW, [OP_SRLIW] = &&L_SRLIW,
        [OP_SRAIW] = &&L_SRAIW, [OP_ADDW] = &&L_ADDW, [OP_SUBW] = &&L_SUBW,
        [OP_SLLW] = &&L_SLLW, [OP_SRLW] = &&L_SRLW, [OP_SRAW] = &&L_SRAW,
        [OP_MUL] = &&L_MUL, [OP_MULH] = &&L_MULH, [OP_MULHSU] = &&L_MULHSU,
        [OP_MULHU] = &&L_MULHU, [OP_DIV] = &&L_DIV, [OP_DIVU] = &&L_DIVU, [OP_REM] = &&L_REM,
        [OP_REMU] = &&L_REMU, [OP_MULW] = &&L_MULW, [OP_DIVW] = &&L_DIVW,
        [OP_DIVUW] = &&L_DIVUW, [OP_REMW] = &&L_REMW, [OP_REMUW] = &&L_REMUW,
        [OP_BEQ] = &&L_BEQ, [OP_BNE] = &&L_BNE, [OP_BLT] = &&L_BLT, [OP_BGE] = &&L_BGE,
        [OP_BLTU] = &&L_BLTU, [OP_BGEU] = &&L_BGEU,
        [OP_SB] = &&L_SB, [OP_SH] = &&L_SH, [OP_SW] = &&L_SW, [OP_SD] = &&L_SD,
        [OP_FENCE] = &&L_FENCE, [OP_FENCE_I] = &&L_FENCE_I, [OP_PAUSE] = &&L_PAUSE, [OP_AMO] = &&L_AMO,
        [OP_CSR] = &&L_CSR, [OP_ECALL] = &&L_ECALL, [OP_EBREAK] = &&L_EBREAK,
        [OP_MRET] = &&L_XRET, [OP_SRET] = &&L_XRET, [OP_WFI] = &&L_WFI,
        [OP_SFENCE] = &&L_SFENCE, [OP_FLW] = &&L_FLW, [OP_FLD] = &&L_FLD,
        [OP_FSW] = &&L_FSW, [OP_FSD] = &&L_FSD, [OP_FP] = &&L_FP,
        [OP_FADD_S] = &&L_FADD_S, [OP_FSUB_S] = &&L_FSUB_S, [OP_FMUL_S] = &&L_FMUL_S,
        [OP_FDIV_S] = &&L_FDIV_S, [OP_FMA_S] = &&L_FMA_S,
        [OP_FADD_D] = &&L_FADD_D, [OP_FSUB_D] = &&L_FSUB_D, [OP_FMUL_D] = &&L_FMUL_D,
        [OP_FDIV_D] = &&L_FDIV_D, [OP_FMA_D] = &&L_FMA_D,
        [OP_FSGNJ_D] = &&L_FSGNJ_D, [OP_FCVT_D_X] = &&L_FCVT_D_X, [OP_FCVT_X_D] = &&L_FCVT_X_D,
        [OP_FCMP_D] = &&L_FCMP_D, [OP_FMV_X_D] = &&L_FMV_X_D, [OP_FMV_D_X] = &&L_FMV_D_X,
    };
    machine_t *const m = h->m;
    uint64_t *const x = h->x;
    dinsn_t *const dc = m->dc;
    dinsn_t *d = dc;
    uint64_t pc = h->pc;
    uint64_t n = 0, exc = 0, chunk_end = 0, fch = 0;
    uint64_t fpage = FC_INVALID;
    uintptr_t fadd = 0;
    uint64_t stop = 0; /* DISPATCH stops here: chunk_end, or earlier to try translated code */
    uint32_t raw;
    int r, lkind = 0;
    unsigned lrd = 0;
    /* translated code: not under guest debug (breakpoints, watchpoints, triggers and
     * single steps are checked per instruction); looked at again after CSR writes,
     * traps and xRETs, which can arm or disarm triggers */
    bool use_jit = m->jit_on && !hart_debug_active(h);
    uint8_t *link = NULL;
    uint64_t link_gen = 0;

    h->tlb = tlb;
    h->synced = 0;
    h->pauses = 0;
    h->wfi_spins = 0;
    h->exit_reason = EXIT_BUDGET;
    h->debug_cause = DEBUG_NONE;
    h->error[0] = 0;
    fc_slice_start(h, tlb);
    x[0] = 0;
    if (m->jit)
        jit_host_sync(m, JF_HOST);

check:
    SYNC();
    h->pc = pc;
    use_jit = m->jit_on && !hart_debug_active(h);
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
    stop = chunk_end;
    if (use_jit)
        goto jit_dispatch;
    DISPATCH();

stopped:
    if (n >= chunk_end || !use_jit)
        goto check;
    stop = chunk_end; /* one instruction interpreted after translated code: look again */
    goto jit_dispatch;

    /* Translated code (jit.c) runs from jump targets. It returns with the next
     * pc and the step count; a side exit leaves the instruction at pc to the
     * interpreter, which runs it alone (stop = n + 1) and comes back here. */
jit_dispatch:
    link = NULL;
jit_dispatch_linked:
    if (unlikely(n >= chunk_end))
        goto check;
    {
        bool one = false;
        const uint8_t *code = jit_find(h, pc, &one);
        if (!code) {
            if (fpage != (pc & PAGE_MASK) &&
                h->fc[ACC_FETCH][(pc >> 12) & FC_MASK].tag != (pc & PAGE_MASK)) {
                /* no fetch entry (a slice start, a new page): the fetch the
                 * interpreter would do next, then look again */
                SYNC();
                r = mem_fetch_slow(h, pc, &raw, &fpage, &fadd);
                if (unlikely(r)) {
                    if (r == MEM_EXC)
                        goto trap;
                    goto exit;
                }
                goto jit_dispatch_linked;
            }
            /* an instruction the translator leaves to the interpreter (CSR,
             * AMO, xRET, ...): only it, then look again (a block may start
             * after it); else interpret on to the next jump */
            if (one && n + 1 < chunk_end)
                stop = n + 1;
            DISPATCH();
        }
        if (link) /* the block just left jumps here: chain it */
            jit_link(m, link, link_gen, code);
        jit_run_t jr = {n, chunk_end, pc, NULL};
        int why = jit_exec(h, &jr, code);
        h->st.jit_insns += jr.n - n;
        n = jr.n;
        pc = jr.pc;
        fpage = FC_INVALID;
        if (why == JX_DISPATCH) {
            link = jr.link;
            link_gen = jit_gen(m);
            goto jit_dispatch_linked;
        }
        /* JX_STEP: one instruction, then look again; JX_BUDGET: interpret to chunk_end */
        stop = why == JX_STEP && n + 1 < chunk_end ? n + 1 : chunk_end;
        DISPATCH();
    }

fetch_slow:
    if (n >= stop)
        goto stopped;
    {
        size_t fi = (pc >> 12) & FC_MASK;
        if ((pc & 0xfff) <= 0xffc && h->fc[ACC_FETCH][fi].tag == (pc & PAGE_MASK)) {
            fpage = pc & PAGE_MASK;
            fadd = h->fc[ACC_FETCH][fi].add;
            h->bp_resume = false;
            memcpy(&raw, (const void *)((uintptr_t)pc + fadd), 4);
            if ((raw & 3) != 3)
                raw &= 0xffff;
        } else {
            SYNC();
            r = mem_fetch_slow(h, pc, &raw, &fpage, &fadd);
            if (unlikely(r)) {
                if (r == MEM_EXC)
                    goto trap;
                goto exit;
            }
        }
    }
    d = &dc[(pc >> 1) & DC_MASK];
    if (d->raw == raw)
        goto *labels[d->op];
decode_slow:
    rv_decode(d, raw);
    goto *labels[d->op];

    /* ---- integer */
L_LUI: XD = IMM; NEXT();
L_AUIPC: XD = pc + IMM; NEXT();
L_JAL: XD = pc + d->len; JUMP(pc + IMM);
L_JALR: {
    uint64_t t = (X1 + IMM) & ~1ull;
    XD = pc + d->len;
    JUMP(t);
}
L_ADDI: XD = X1 + IMM; NEXT();
L_SLTI: XD = (int64_t)X1 < (int64_t)IMM; NEXT();
L_SLTIU: XD = X1 < IMM; NEXT();
L_XORI: XD = X1 ^ IMM; NEXT();
L_ORI: XD = X1 | IMM; NEXT();
L_ANDI: XD = X1 & IMM; NEXT();
L_SLLI: XD = X1 << d->imm; NEXT();
L_SRLI: XD = X1 >> d->imm; NEXT();
L_SRAI: XD = (uint64_t)((int64_t)X1 >> d->imm); NEXT();
L_ADD: XD = X1 + X2; NEXT();
L_SUB: XD = X1 - X2; NEXT();
L_SLL: XD = X1 << (X2 & 63); NEXT();
L_SLT: XD = (int64_t)X1 < (int64_t)X2; NEXT();
L_SLTU: XD = X1 < X2; NEXT();
L_XOR: XD = X1 ^ X2; NEXT();
L_SRL: XD = X1 >> (X2 & 63); NEXT();
L_SRA: XD = (uint64_t)((int64_t)X1 >> (X2 & 63)); NEXT();
L_OR: XD = X1 | X2; NEXT();
L_AND: XD = X1 & X2; NEXT();
L_ADDIW: XD = (uint64_t)(int64_t)(int32_t)(X1 + IMM); NEXT();
L_SLLIW: XD = (uint64_t)(int64_t)(int32_t)((uint32_t)X1 << d->imm); NEXT();
L_SRLIW: XD = (uint64_t)(int64_t)(int32_t)((uint32_t)X1 >> d->imm); NEXT();
L_SRAIW: XD = (uint64_t)(int64_t)((int32_t)X1 >> d->imm); NEXT();
L_ADDW: XD = (uint64_t)(int64_t)(int32_t)(X1 + X2); NEXT();
L_SUBW: XD = (uint64_t)(int64_t)(int32_t)(X1 - X2); NEXT();
L_SLLW: XD = (uint64_t)(int64_t)(int32_t)((uint32_t)X1 << (X2 & 31)); NEXT();
L_SRLW: XD = (uint64_t)(int64_t)(int32_t)((uint32_t)X1 >> (X2 & 31)); NEXT();
L_SRAW: XD = (uint64_t)(int64_t)((int32_t)X1 >> (X2 & 31)); NEXT();
L_MUL: XD = X1 * X2; NEXT();
L_MULH: XD = mulh((int64_t)X1, (int64_t)X2); NEXT();
L_MULHSU: XD = mulhsu((int64_t)X1, X2); NEXT();
L_MULHU: XD = mulhu(X1, X2); NEXT();
L_DIV: XD = divs((int64_t)X1, (int64_t)X2); NEXT();
L_DIVU: XD = X2 ? X1 / X2 : UINT64_MAX; NEXT();
L_REM: XD = rems((int64_t)X1, (int64_t)X2); NEXT();
L_REMU: XD = X2 ? X1 % X2 : X1; NEXT();
L_MULW: XD = (uint64_t)(int64_t)(int32_t)((uint32_t)X1 * (uint32_t)X2); NEXT();
L_DIVW: XD = divw((int32_t)X1, (int32_t)X2); NEXT();
L_DIVUW: {
    uint32_t a = (uint32_t)X1, b = (uint32_t)X2;
    XD = (uint64_t)(int64_t)(int32_t)(b ? a / b : UINT32_MAX);
    NEXT();
}
L_REMW: XD = remw((int32_t)X1, (int32_t)X2); NEXT();
L_REMUW: {
    uint32_t a = (uint32_t)X1, b = (uint32_t)X2;
    XD = (uint64_t)(int64_t)(int32_t)(b ? a % b : a);
    NEXT();
}
L_BEQ: if (X1 == X2) JUMP(pc + IMM); NEXT_BRANCH();
L_BNE: if (X1 != X2) JUMP(pc + IMM); NEXT_BRANCH();
L_BLT: if ((int64_t)X1 < (int64_t)X2) JUMP(pc + IMM); NEXT_BRANCH();
L_BGE: if ((int64_t)X1 >= (int64_t)X2) JUMP(pc + IMM); NEXT_BRANCH();
L_BLTU: if (X1 < X2) JUMP(pc + IMM); NEXT_BRANCH();
L_BGEU: if (X1 >= X2) JUMP(pc + IMM); NEXT_BRANCH();

    /* ---- memory */
L_LB: LDX(int8_t, X1 + IMM, LK_I8, d->rd); NEXT();
L_LH: LDX(int16_t, X1 + IMM, LK_I16, d->rd); NEXT();
L_LW: LDX(int32_t, X1 + IMM, LK_I32, d->rd); NEXT();
L_LD: LDX(uint64_t, X1 + IMM, LK_I64, d->rd); NEXT();
L_LBU: LDX(uint8_t, X1 + IMM, LK_U8, d->rd); NEXT();
L_LHU: LDX(uint16_t, X1 + IMM, LK_U16, d->rd); NEXT();
L_LWU: LDX(uint32_t, X1 + IMM, LK_U32, d->rd); NEXT();
L_SB: ST(uint8_t, X1 + IMM, X2); NEXT();
L_SH: ST(uint16_t, X1 + IMM, X2); NEXT();
L_SW: ST(uint32_t, X1 + IMM, X2); NEXT();
L_SD: ST(uint64_t, X1 + IMM, X2); NEXT();
L_FLW: LDF(uint32_t, X1 + IMM, LK_F32, d->rd); NEXT();
L_FLD: LDF(uint64_t, X1 + IMM, LK_F64, d->rd); NEXT();
L_FSW: STF(uint32_t, X1 + IMM, h->f[d->rs2]); NEXT();
L_FSD: STF(uint64_t, X1 + IMM, h->f[d->rs2]); NEXT();
L_AMO:
    SYNC();
    h->pc = pc;
    r = exec_amo(h, d->raw);
    if (unlikely(r)) {
        if (r == MEM_EXC)
            goto trap;
        if (h->exit_reason != EXIT_DEBUG) { /* HTIF; a watchpoint stops before the AMO */
            pc += d->len;
            n++;
        }
        goto exit;
    }
    NEXT();

    /* ---- FP arithmetic */
L_FP:
    if (exec_fp(h, d->raw) != MEM_OK)
        goto trap;
    NEXT();

    /* decoded F/D arithmetic: the rounding mode is resolved here (dynamic: frm;
     * an invalid frm is an illegal instruction), flags accumulate, FS = Dirty */
#define FP_RM()                                                                              \
    int rm = d->imm & 7;                                                                     \
    uint32_t fl = 0;                                                                         \
    if (unlikely(!fp_enabled(h)))                                                            \
        ILLEGAL();                                                                           \
    if (rm == 7) {                                                                           \
        rm = (int)h->frm;                                                                    \
        if (unlikely(rm > 4))                                                                \
            ILLEGAL();                                                                       \
    }
#define FP_DONE(v)                                                                           \
    do {                                                                                     \
        h->f[d->rd] = (v);                                                                   \
        h->fflags |= fl;                                                                     \
        h->mstatus |= MSTATUS_FS;                                                            \
        NEXT();                                                                              \
    } while (0)
#define UNBOX(v) (((v) >> 32) == 0xffffffffu ? (uint32_t)(v) : F32_CANONICAL_NAN)
#define BOX(v) (0xffffffff00000000ull | (v))
#define FP_BIN_S(fn)                                                                         \
    {                                                                                        \
        FP_RM();                                                                             \
        FP_DONE(BOX(fn(UNBOX(h->f[d->rs1]), UNBOX(h->f[d->rs2]), rm, &fl)));                \
    }
#define FP_BIN_D(fn)                                                                         \
    {                                                                                        \
        FP_RM();                                                                             \
        FP_DONE(fn(h->f[d->rs1], h->f[d->rs2], rm, &fl));                                    \
    }
L_FADD_S: FP_BIN_S(f32_add)
L_FSUB_S: FP_BIN_S(f32_sub)
L_FMUL_S: FP_BIN_S(f32_mul)
L_FDIV_S: FP_BIN_S(f32_div)
L_FADD_D: FP_BIN_D(f64_add)
L_FSUB_D: FP_BIN_D(f64_sub)
L_FMUL_D: FP_BIN_D(f64_mul)
L_FDIV_D: FP_BIN_D(f64_div)
L_FMA_S: {
    FP_RM();
    FP_DONE(BOX(f32_fma(UNBOX(h->f[d->rs1]), UNBOX(h->f[d->rs2]), UNBOX(h->f[d->imm >> 5]),
                        (d->imm >> 3) & 1, (d->imm >> 4) & 1, rm, &fl)));
}
L_FMA_D: {
    FP_RM();
    FP_DONE(f64_fma(h->f[d->rs1], h->f[d->rs2], h->f[d->imm >> 5], (d->imm >> 3) & 1,
                    (d->imm >> 4) & 1, rm, &fl));
}
L_FSGNJ_D: {
    if (unlikely(!fp_enabled(h)))
        ILLEGAL();
    uint64_t a = h->f[d->rs1], b = h->f[d->rs2], sign = 1ull << 63;
    uint64_t sb = d->imm == 0 ? b & sign : d->imm == 1 ? ~b & sign : (a ^ b) & sign;
    h->f[d->rd] = (a & ~sign) | sb;
    h->mstatus |= MSTATUS_FS;
    NEXT();
}
L_FCVT_D_X: {
    FP_RM();
    uint64_t v = X1;
    switch (d->imm >> 3) {
    case 0: v = i32_to_f64((int32_t)v, rm, &fl); break;
    case 1: v = u32_to_f64((uint32_t)v, rm, &fl); break;
    case 2: v = i64_to_f64((int64_t)v, rm, &fl); break;
    default: v = u64_to_f64(v, rm, &fl); break;
    }
    FP_DONE(v);
}
L_FCVT_X_D: {
    FP_RM();
    uint64_t a = h->f[d->rs1];
    switch (d->imm >> 3) {
    case 0: XD = f64_to_i32(a, rm, &fl); break;
    case 1: XD = f64_to_u32(a, rm, &fl); break;
    case 2: XD = f64_to_i64(a, rm, &fl); break;
    default: XD = f64_to_u64(a, rm, &fl); break;
    }
    if (fl) { /* only a flag changes FP state here */
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS;
    }
    NEXT();
}
L_FCMP_D: {
    uint32_t fl = 0;
    if (unlikely(!fp_enabled(h)))
        ILLEGAL();
    uint64_t a = h->f[d->rs1], b = h->f[d->rs2];
    XD = d->imm == 0 ? f64_le(a, b, &fl) : d->imm == 1 ? f64_lt(a, b, &fl) : f64_eq(a, b, &fl);
    if (fl) {
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS;
    }
    NEXT();
}
L_FMV_X_D:
    if (unlikely(!fp_enabled(h)))
        ILLEGAL();
    XD = h->f[d->rs1];
    NEXT();
L_FMV_D_X:
    if (unlikely(!fp_enabled(h)))
        ILLEGAL();
    h->f[d->rd] = X1;
    h->mstatus |= MSTATUS_FS;
    NEXT();

    /* ---- fences and hints */
L_FENCE: NEXT();
L_FENCE_I:
    /* guest stores to translated code were seen already; host writes (DMA) are applied now */
    if (m->jit)
        jit_host_sync(m, JF_FENCE_I);
    NEXT();
L_PAUSE:
    if (m->pause_exit && ++h->pauses >= m->pause_window) {
        pc += d->len;
        n++;
        h->exit_reason = EXIT_PAUSE;
        goto exit;
    }
    NEXT();

    /* ---- system */
L_SFENCE:
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
        ILLEGAL();
    exec_sfence(h, X1, d->rs1 != 0, X2, d->rs2 != 0);
    FLUSH_CTX();
    NEXT();
L_ECALL: {
    uint64_t cause = h->priv == PRIV_U   ? CAUSE_ECALL_U
                     : h->priv == PRIV_S ? CAUSE_ECALL_S
                                         : CAUSE_ECALL_M;
    if (m->sbi_in_vmm && trap_goes_to_m(h, cause)) {
        pc += d->len;
        n++;
        h->exit_reason = EXIT_ECALL;
        goto exit;
    }
    h->exc_cause = cause;
    h->exc_tval = 0;
    goto trap;
}
L_XRET:
    SYNC();
    h->pc = pc;
    if ((d->op == OP_MRET ? exec_mret(h) : exec_sret(h)) != MEM_OK)
        ILLEGAL();
    pc = h->pc;
    n++;
    FLUSH_CTX();
    goto check;
L_WFI:
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
        ILLEGAL();
    SYNC();
    if (hart_wakeup_pending(h)) {
        /* an interrupt is pending but not taken: wfi is a nop. A hart that keeps
         * waiting like this (OpenSBI's HSM wait loop, its cold-boot IPI pending)
         * yields its pCPU after a few: WFI-exiting, as pause-loop exiting. */
        if (!m->wfi_window || ++h->wfi_spins < m->wfi_window)
            NEXT();
        h->st.wfi_yields++;
    }
    pc += d->len;
    n++;
    h->exit_reason = EXIT_WFI;
    goto exit;
L_CSR: {
    int eff = 0;
    SYNC();
    h->pc = pc;
    if (exec_csr(h, d->raw, &eff) != MEM_OK)
        ILLEGAL();
    pc += d->len;
    n++;
    use_jit = m->jit_on && !hart_debug_active(h);
    if (eff & CSR_FLUSH)
        FLUSH_CTX();
    if (eff)
        goto check;
    DISPATCH();
}
L_ILLEGAL:
    ILLEGAL();
L_EBREAK:
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
    if (h->exit_reason == EXIT_DEBUG)
        goto exit; /* a watchpoint: the load has not happened */
    /* MMIO read: the load retires when the VMM supplies the value */
    h->mmio_pending = true;
    h->mmio_rd = (int)lrd;
    h->mmio_kind = lkind;
    h->mmio_next_pc = pc + d->len;
    h->st.mmio_read++;
    goto exit;

store_fail:
    if (r == MEM_EXC)
        goto trap;
    if (h->exit_reason == EXIT_DEBUG)
        goto exit; /* a watchpoint: the store has not happened */
    pc += d->len; /* the store retired */
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
    fc_slice_end(h, tlb);
    h->tlb = NULL;
    x[0] = 0;
    h->st.exits[h->exit_reason]++;
    return h->exit_reason;
}
