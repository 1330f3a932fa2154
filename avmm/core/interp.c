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
#include "softfloat.h"

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


#define RD ((insn >> 7) & 31)
#define RS1 ((insn >> 15) & 31)
#define RS2 ((insn >> 20) & 31)
#define F3 ((insn >> 12) & 7)
#define F7 (insn >> 25)
#define IMM_B                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 19) | ((insn & 0x80) << 4) |     \
                ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e)))
#define IMM_J                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 11) | (insn & 0xff000) |          \
                ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe)))
#define IMM_S ((uint64_t)(((int64_t)(int32_t)(insn & 0xfe000000u) >> 20) | ((insn >> 7) & 0x1f)))

/* ------------------------------------------------------------ decoder */

/* Decoded instructions are cached machine-wide, direct-mapped by pc and
 * tagged by the raw instruction bits: decoding is a pure function of the
 * bits, so an entry whose tag equals the bits just fetched is valid whatever
 * the pc, the hart or any store to code since (no invalidation needed). */

enum {
    OP_ILLEGAL,
    /* ops that write x[rd] (rd = 32, the sink, when the instruction names x0) */
    OP_LUI, OP_AUIPC, OP_JAL, OP_JALR,
    OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
    OP_ADDI, OP_SLTI, OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI,
    OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND,
    OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW, OP_ADDW, OP_SUBW, OP_SLLW, OP_SRLW, OP_SRAW,
    OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
    OP_MULW, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW,
    OP_LAST_WX = OP_REMUW,
    OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
    OP_SB, OP_SH, OP_SW, OP_SD,
    OP_FENCE, OP_PAUSE, OP_AMO, OP_CSR, OP_ECALL, OP_EBREAK, OP_MRET, OP_SRET, OP_WFI,
    OP_SFENCE, OP_FLW, OP_FLD, OP_FSW, OP_FSD, OP_FP,
    /* common F/D arithmetic, decoded (imm: rm | neg_prod << 3 | neg_c << 4 | rs3 << 5) */
    OP_FADD_S, OP_FSUB_S, OP_FMUL_S, OP_FDIV_S, OP_FMA_S,
    OP_FADD_D, OP_FSUB_D, OP_FMUL_D, OP_FDIV_D, OP_FMA_D,
    OP_FSGNJ_D,  /* imm: funct3 */
    OP_FCVT_D_X, /* fcvt.d.{w,wu,l,lu}; imm: rm | rs2 << 3 */
    OP_FCVT_X_D, /* fcvt.{w,wu,l,lu}.d (writes x[rd]); imm: rm | rs2 << 3 */
    OP_FCMP_D,   /* fle/flt/feq.d (writes x[rd]); imm: funct3 */
    OP_FMV_X_D, OP_FMV_D_X,
    OP_COUNT
};

static void set(dinsn_t *d, int op, unsigned rd, unsigned rs1, unsigned rs2, int64_t imm)
{
    d->op = (uint8_t)op;
    d->rd = (uint8_t)rd;
    d->rs1 = (uint8_t)rs1;
    d->rs2 = (uint8_t)rs2;
    d->imm = (int32_t)imm;
}

static void decode_c(dinsn_t *d, uint32_t c)
{
    unsigned rd = (c >> 7) & 31, rs2 = (c >> 2) & 31;
    unsigned rdp = 8 + ((c >> 2) & 7), rs1p = 8 + ((c >> 7) & 7);
    int64_t ci = sext(((c >> 7) & 0x20) | ((c >> 2) & 0x1f), 6);
    unsigned cu = ((c >> 7) & 0x20) | ((c >> 2) & 0x1f);
    uint64_t lw = ((c >> 7) & 0x38) | ((c >> 4) & 4) | ((c << 1) & 0x40);
    uint64_t ld = ((c >> 7) & 0x38) | ((c << 1) & 0xc0);
    switch (((c & 3) << 3) | (c >> 13)) {
    case 0x00: { /* C.ADDI4SPN; zero is reserved (and covers the all-zero word) */
        uint64_t imm = ((c >> 7) & 0x30) | ((c >> 1) & 0x3c0) | ((c >> 4) & 0x4) |
                       ((c >> 2) & 0x8);
        if (imm)
            set(d, OP_ADDI, rdp, 2, 0, (int64_t)imm);
        return;
    }
    case 0x01: set(d, OP_FLD, rdp, rs1p, 0, (int64_t)ld); return;
    case 0x02: set(d, OP_LW, rdp, rs1p, 0, (int64_t)lw); return;
    case 0x03: set(d, OP_LD, rdp, rs1p, 0, (int64_t)ld); return;
    case 0x05: set(d, OP_FSD, 0, rs1p, rdp, (int64_t)ld); return;
    case 0x06: set(d, OP_SW, 0, rs1p, rdp, (int64_t)lw); return;
    case 0x07: set(d, OP_SD, 0, rs1p, rdp, (int64_t)ld); return;
    case 0x08: set(d, OP_ADDI, rd, rd, 0, ci); return; /* C.ADDI, C.NOP */
    case 0x09:
        if (rd)
            set(d, OP_ADDIW, rd, rd, 0, ci);
        return;
    case 0x0a: set(d, OP_ADDI, rd, 0, 0, ci); return; /* C.LI */
    case 0x0b:
        if (rd == 2) { /* C.ADDI16SP */
            uint64_t v = ((c >> 3) & 0x200) | ((c >> 2) & 0x10) | ((c << 1) & 0x40) |
                         ((c << 4) & 0x180) | ((c << 3) & 0x20);
            if (v)
                set(d, OP_ADDI, 2, 2, 0, sext(v, 10));
        } else if (cu) { /* C.LUI */
            set(d, OP_LUI, rd, 0, 0, ci * 4096);
        }
        return;
    case 0x0c:
        switch ((c >> 10) & 3) {
        case 0: set(d, OP_SRLI, rs1p, rs1p, 0, cu); return;
        case 1: set(d, OP_SRAI, rs1p, rs1p, 0, cu); return;
        case 2: set(d, OP_ANDI, rs1p, rs1p, 0, ci); return;
        default: {
            static const int ops[8] = {OP_SUB, OP_XOR, OP_OR, OP_AND, OP_SUBW, OP_ADDW,
                                       OP_ILLEGAL, OP_ILLEGAL};
            int op = ops[((c >> 10) & 4) | ((c >> 5) & 3)];
            if (op != OP_ILLEGAL)
                set(d, op, rs1p, rs1p, rdp, 0);
            return;
        }
        }
    case 0x0d: /* C.J */
        set(d, OP_JAL, 0, 0, 0,
            sext(((c >> 1) & 0x800) | ((c >> 7) & 0x10) | ((c >> 1) & 0x300) |
                     ((c << 2) & 0x400) | ((c >> 1) & 0x40) | ((c << 1) & 0x80) |
                     ((c >> 2) & 0xe) | ((c << 3) & 0x20),
                 12));
        return;
    case 0x0e: /* C.BEQZ */
    case 0x0f: /* C.BNEZ */
        set(d, (c & 0x2000) ? OP_BNE : OP_BEQ, 0, rs1p, 0,
            sext(((c >> 4) & 0x100) | ((c >> 7) & 0x18) | ((c << 1) & 0xc0) | ((c >> 2) & 6) |
                     ((c << 3) & 0x20),
                 9));
        return;
    case 0x10: set(d, OP_SLLI, rd, rd, 0, cu); return;
    case 0x11: /* C.FLDSP */
        set(d, OP_FLD, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x18) | ((c << 4) & 0x1c0));
        return;
    case 0x12: /* C.LWSP */
        if (rd)
            set(d, OP_LW, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x1c) | ((c << 4) & 0xc0));
        return;
    case 0x13: /* C.LDSP */
        if (rd)
            set(d, OP_LD, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x18) | ((c << 4) & 0x1c0));
        return;
    case 0x14:
        if (!(c & 0x1000)) {
            if (!rs2) { /* C.JR */
                if (rd)
                    set(d, OP_JALR, 0, rd, 0, 0);
            } else { /* C.MV */
                set(d, OP_ADD, rd, 0, rs2, 0);
            }
        } else if (!rs2) {
            if (!rd)
                set(d, OP_EBREAK, 0, 0, 0, 0); /* C.EBREAK */
            else
                set(d, OP_JALR, 1, rd, 0, 0); /* C.JALR */
        } else { /* C.ADD */
            set(d, OP_ADD, rd, rd, rs2, 0);
        }
        return;
    case 0x15: /* C.FSDSP */
        set(d, OP_FSD, 0, 2, rs2, ((c >> 7) & 0x38) | ((c >> 1) & 0x1c0));
        return;
    case 0x16: /* C.SWSP */
        set(d, OP_SW, 0, 2, rs2, ((c >> 7) & 0x3c) | ((c >> 1) & 0xc0));
        return;
    case 0x17: /* C.SDSP */
        set(d, OP_SD, 0, 2, rs2, ((c >> 7) & 0x38) | ((c >> 1) & 0x1c0));
        return;
    default:
        return;
    }
}

static void decode_32(dinsn_t *d, uint32_t insn)
{
    unsigned rd = RD, rs1 = RS1, rs2 = RS2, f3 = F3, f7 = F7;
    int64_t imm_i = (int32_t)insn >> 20;
    switch (insn & 0x7f) {
    case 0x37: set(d, OP_LUI, rd, 0, 0, (int32_t)(insn & 0xfffff000u)); return;
    case 0x17: set(d, OP_AUIPC, rd, 0, 0, (int32_t)(insn & 0xfffff000u)); return;
    case 0x6f: set(d, OP_JAL, rd, 0, 0, (int64_t)IMM_J); return;
    case 0x67:
        if (!f3)
            set(d, OP_JALR, rd, rs1, 0, imm_i);
        return;
    case 0x63: {
        static const int ops[8] = {OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
                                   OP_BLT, OP_BGE, OP_BLTU, OP_BGEU};
        if (ops[f3] != OP_ILLEGAL)
            set(d, ops[f3], 0, rs1, rs2, (int64_t)IMM_B);
        return;
    }
    case 0x03: {
        static const int ops[8] = {OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
                                   OP_ILLEGAL};
        if (ops[f3] != OP_ILLEGAL)
            set(d, ops[f3], rd, rs1, 0, imm_i);
        return;
    }
    case 0x23:
        if (f3 < 4)
            set(d, OP_SB + (int)f3, 0, rs1, rs2, (int64_t)IMM_S);
        return;
    case 0x13: {
        static const int ops[8] = {OP_ADDI, OP_SLLI, OP_SLTI, OP_SLTIU,
                                   OP_XORI, OP_SRLI, OP_ORI, OP_ANDI};
        int op = ops[f3];
        if (f3 == 1 && (insn >> 26))
            return;
        if (f3 == 5) {
            if ((insn >> 26) == 0x10)
                op = OP_SRAI;
            else if (insn >> 26)
                return;
        }
        set(d, op, rd, rs1, 0, (f3 == 1 || f3 == 5) ? (imm_i & 63) : imm_i);
        return;
    }
    case 0x1b:
        if (f3 == 0)
            set(d, OP_ADDIW, rd, rs1, 0, imm_i);
        else if (f3 == 1 && f7 == 0)
            set(d, OP_SLLIW, rd, rs1, 0, rs2);
        else if (f3 == 5 && f7 == 0)
            set(d, OP_SRLIW, rd, rs1, 0, rs2);
        else if (f3 == 5 && f7 == 0x20)
            set(d, OP_SRAIW, rd, rs1, 0, rs2);
        return;
    case 0x33: {
        int op;
        switch ((f7 << 3) | f3) {
        case 0x000: op = OP_ADD; break;
        case 0x100: op = OP_SUB; break;
        case 0x001: op = OP_SLL; break;
        case 0x002: op = OP_SLT; break;
        case 0x003: op = OP_SLTU; break;
        case 0x004: op = OP_XOR; break;
        case 0x005: op = OP_SRL; break;
        case 0x105: op = OP_SRA; break;
        case 0x006: op = OP_OR; break;
        case 0x007: op = OP_AND; break;
        case 0x008: op = OP_MUL; break;
        case 0x009: op = OP_MULH; break;
        case 0x00a: op = OP_MULHSU; break;
        case 0x00b: op = OP_MULHU; break;
        case 0x00c: op = OP_DIV; break;
        case 0x00d: op = OP_DIVU; break;
        case 0x00e: op = OP_REM; break;
        case 0x00f: op = OP_REMU; break;
        default: return;
        }
        set(d, op, rd, rs1, rs2, 0);
        return;
    }
    case 0x3b: {
        int op;
        switch ((f7 << 3) | f3) {
        case 0x000: op = OP_ADDW; break;
        case 0x100: op = OP_SUBW; break;
        case 0x001: op = OP_SLLW; break;
        case 0x005: op = OP_SRLW; break;
        case 0x105: op = OP_SRAW; break;
        case 0x008: op = OP_MULW; break;
        case 0x00c: op = OP_DIVW; break;
        case 0x00d: op = OP_DIVUW; break;
        case 0x00e: op = OP_REMW; break;
        case 0x00f: op = OP_REMUW; break;
        default: return;
        }
        set(d, op, rd, rs1, rs2, 0);
        return;
    }
    case 0x0f:
        if (f3 == 0) /* fence (pause is the fence with pred=W, succ=0) */
            set(d, insn == 0x0100000fu ? OP_PAUSE : OP_FENCE, 0, 0, 0, 0);
        else if (f3 == 1) /* fence.i: decoded entries are validated by their bits */
            set(d, OP_FENCE, 0, 0, 0, 0);
        return;
    case 0x2f: set(d, OP_AMO, 0, 0, 0, 0); return; /* validated when executed */
    case 0x73:
        if (f3 == 0) {
            if (rd)
                return;
            if (f7 == 0x09)
                set(d, OP_SFENCE, 0, rs1, rs2, 0);
            else if (insn == 0x00000073u)
                set(d, OP_ECALL, 0, 0, 0, 0);
            else if (insn == 0x00100073u)
                set(d, OP_EBREAK, 0, 0, 0, 0);
            else if (insn == 0x30200073u)
                set(d, OP_MRET, 0, 0, 0, 0);
            else if (insn == 0x10200073u)
                set(d, OP_SRET, 0, 0, 0, 0);
            else if (insn == 0x10500073u)
                set(d, OP_WFI, 0, 0, 0, 0);
        } else if (f3 != 4) {
            set(d, OP_CSR, 0, 0, 0, 0);
        }
        return;
    case 0x07:
        if (f3 == 2 || f3 == 3)
            set(d, f3 == 2 ? OP_FLW : OP_FLD, rd, rs1, 0, imm_i);
        return;
    case 0x27:
        if (f3 == 2 || f3 == 3)
            set(d, f3 == 2 ? OP_FSW : OP_FSD, 0, rs1, rs2, (int64_t)IMM_S);
        return;
    case 0x43: case 0x47: case 0x4b: case 0x4f: { /* fused multiply-add */
        unsigned fmt = (insn >> 25) & 3, op = insn & 0x7f;
        set(d, OP_FP, 0, 0, 0, 0);
        if (fmt < 2 && f3 != 5 && f3 != 6)
            set(d, fmt ? OP_FMA_D : OP_FMA_S, rd, rs1, rs2,
                f3 | ((op == 0x4b || op == 0x4f) << 3) | ((op == 0x47 || op == 0x4f) << 4) |
                    ((insn >> 27) << 5));
        return;
    }
    case 0x53:
        set(d, OP_FP, 0, 0, 0, 0);
        if (f7 <= 0x0d && f3 != 5 && f3 != 6) { /* fadd/fsub/fmul/fdiv .s/.d */
            static const int ops[2][4] = {{OP_FADD_S, OP_FSUB_S, OP_FMUL_S, OP_FDIV_S},
                                          {OP_FADD_D, OP_FSUB_D, OP_FMUL_D, OP_FDIV_D}};
            if ((f7 & 3) < 2)
                set(d, ops[f7 & 1][f7 >> 2], rd, rs1, rs2, f3);
        } else if (f7 == 0x11 && f3 <= 2) {
            set(d, OP_FSGNJ_D, rd, rs1, rs2, f3);
        } else if (f7 == 0x69 && rs2 <= 3 && f3 != 5 && f3 != 6) {
            set(d, OP_FCVT_D_X, rd, rs1, 0, f3 | (rs2 << 3));
        } else if (f7 == 0x61 && rs2 <= 3 && f3 != 5 && f3 != 6) {
            set(d, OP_FCVT_X_D, rd ? rd : 32, rs1, 0, f3 | (rs2 << 3));
        } else if (f7 == 0x51 && f3 <= 2) {
            set(d, OP_FCMP_D, rd ? rd : 32, rs1, rs2, f3);
        } else if (f7 == 0x71 && rs2 == 0 && f3 == 0) {
            set(d, OP_FMV_X_D, rd ? rd : 32, rs1, 0, 0);
        } else if (f7 == 0x79 && rs2 == 0 && f3 == 0) {
            set(d, OP_FMV_D_X, rd, rs1, 0, 0);
        }
        return;
    default:
        return;
    }
}

static void decode(dinsn_t *d, uint32_t raw)
{
    set(d, OP_ILLEGAL, 0, 0, 0, 0);
    d->raw = raw;
    if ((raw & 3) != 3) {
        d->len = 2;
        decode_c(d, raw);
    } else {
        d->len = 4;
        decode_32(d, raw);
    }
    if (d->op != OP_ILLEGAL && d->op <= OP_LAST_WX && d->rd == 0)
        d->rd = 32; /* writes to x0 go to the sink */
}

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
        if (unlikely(n >= chunk_end))                                                        \
            goto check;                                                                      \
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

#define JUMP(target)                                                                         \
    do {                                                                                     \
        pc = (target);                                                                       \
        n++;                                                                                 \
        DISPATCH();                                                                          \
    } while (0)

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
        [OP_FENCE] = &&L_FENCE, [OP_PAUSE] = &&L_PAUSE, [OP_AMO] = &&L_AMO,
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
    uint32_t raw;
    int r, lkind = 0;
    unsigned lrd = 0;

    h->tlb = tlb;
    h->synced = 0;
    h->pauses = 0;
    h->wfi_spins = 0;
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
    DISPATCH();

fetch_slow:
    if (n >= chunk_end)
        goto check;
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
    decode(d, raw);
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
L_BEQ: if (X1 == X2) JUMP(pc + IMM); NEXT();
L_BNE: if (X1 != X2) JUMP(pc + IMM); NEXT();
L_BLT: if ((int64_t)X1 < (int64_t)X2) JUMP(pc + IMM); NEXT();
L_BGE: if ((int64_t)X1 >= (int64_t)X2) JUMP(pc + IMM); NEXT();
L_BLTU: if (X1 < X2) JUMP(pc + IMM); NEXT();
L_BGEU: if (X1 >= X2) JUMP(pc + IMM); NEXT();

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
        pc += d->len;
        n++;
        goto exit; /* HTIF */
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
    h->tlb = NULL;
    x[0] = 0;
    h->st.exits[h->exit_reason]++;
    return h->exit_reason;
}
