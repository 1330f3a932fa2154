/*
 * F and D instruction semantics on top of softfloat.c: decode, NaN-boxing,
 * rounding modes (static and dynamic), fflags and mstatus.FS tracking.
 *
 * FP loads and stores are in interp.c (they are memory accesses).
 */
#include "core.h"
#include "softfloat.h"

#define BOX32 0xffffffff00000000ull

/* a single read from a 64-bit register: an improperly boxed value is the canonical NaN */
static inline uint32_t unbox(uint64_t v)
{
    return (v & BOX32) == BOX32 ? (uint32_t)v : F32_CANONICAL_NAN;
}

static inline uint64_t box(uint32_t v)
{
    return BOX32 | v;
}

static int illegal(hart_t *h, uint32_t insn)
{
    h->exc_cause = CAUSE_ILLEGAL;
    h->exc_tval = insn;
    return MEM_EXC;
}

int exec_fp(hart_t *h, uint32_t insn)
{
    unsigned op = insn & 0x7f, rd = (insn >> 7) & 31, f3 = (insn >> 12) & 7;
    unsigned rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31, rs3 = insn >> 27;
    unsigned f7 = insn >> 25, fmt = (insn >> 25) & 3;
    uint64_t *f = h->f, *x = h->x;
    uint32_t fl = 0;
    int rm = (int)f3;

    if (!fp_enabled(h))
        return illegal(h, insn);
    if (fmt > 1)
        return illegal(h, insn); /* no H or Q */

    /* the rounding mode, for the instructions that have one */
    bool has_rm = op != 0x53 || (f7 >> 2) <= 0x03 || (f7 >> 2) == 0x0b || (f7 >> 2) == 0x08 ||
                  (f7 >> 2) == 0x18 || (f7 >> 2) == 0x1a;
    if (has_rm) {
        if (rm == 7)
            rm = (int)h->frm;
        if (rm > 4)
            return illegal(h, insn);
    }

    if (op != 0x53) { /* fused multiply-add family */
        bool neg_prod = op == 0x4b || op == 0x4f, neg_c = op == 0x47 || op == 0x4f;
        if (fmt == 0)
            f[rd] = box(f32_fma(unbox(f[rs1]), unbox(f[rs2]), unbox(f[rs3]), neg_prod, neg_c, rm,
                                &fl));
        else
            f[rd] = f64_fma(f[rs1], f[rs2], f[rs3], neg_prod, neg_c, rm, &fl);
        goto wrote_f;
    }

    bool d = fmt == 1;
    uint32_t a32 = unbox(f[rs1]), b32 = unbox(f[rs2]);
    uint64_t a64 = f[rs1], b64 = f[rs2];
    switch (f7 >> 2) {
    case 0x00: /* FADD */
        f[rd] = d ? f64_add(a64, b64, rm, &fl) : box(f32_add(a32, b32, rm, &fl));
        goto wrote_f;
    case 0x01: /* FSUB */
        f[rd] = d ? f64_sub(a64, b64, rm, &fl) : box(f32_sub(a32, b32, rm, &fl));
        goto wrote_f;
    case 0x02: /* FMUL */
        f[rd] = d ? f64_mul(a64, b64, rm, &fl) : box(f32_mul(a32, b32, rm, &fl));
        goto wrote_f;
    case 0x03: /* FDIV */
        f[rd] = d ? f64_div(a64, b64, rm, &fl) : box(f32_div(a32, b32, rm, &fl));
        goto wrote_f;
    case 0x0b: /* FSQRT */
        if (rs2)
            return illegal(h, insn);
        f[rd] = d ? f64_sqrt(a64, rm, &fl) : box(f32_sqrt(a32, rm, &fl));
        goto wrote_f;
    case 0x04: { /* FSGNJ, FSGNJN, FSGNJX */
        if (f3 > 2)
            return illegal(h, insn);
        if (d) {
            uint64_t s = b64 & (1ull << 63);
            if (f3 == 1)
                s ^= 1ull << 63;
            else if (f3 == 2)
                s ^= a64 & (1ull << 63);
            f[rd] = (a64 & ~(1ull << 63)) | s;
        } else {
            uint32_t s = b32 & (1u << 31);
            if (f3 == 1)
                s ^= 1u << 31;
            else if (f3 == 2)
                s ^= a32 & (1u << 31);
            f[rd] = box((a32 & ~(1u << 31)) | s);
        }
        goto wrote_f;
    }
    case 0x05: /* FMIN, FMAX */
        if (f3 > 1)
            return illegal(h, insn);
        if (d)
            f[rd] = f3 ? f64_max(a64, b64, &fl) : f64_min(a64, b64, &fl);
        else
            f[rd] = box(f3 ? f32_max(a32, b32, &fl) : f32_min(a32, b32, &fl));
        goto wrote_f;
    case 0x08: /* FCVT.S.D, FCVT.D.S */
        if (d && rs2 == 0)
            f[rd] = f32_to_f64(a32, &fl);
        else if (!d && rs2 == 1)
            f[rd] = box(f64_to_f32(a64, rm, &fl));
        else
            return illegal(h, insn);
        goto wrote_f;
    case 0x14: { /* FLE, FLT, FEQ */
        bool r;
        if (f3 == 0)
            r = d ? f64_le(a64, b64, &fl) : f32_le(a32, b32, &fl);
        else if (f3 == 1)
            r = d ? f64_lt(a64, b64, &fl) : f32_lt(a32, b32, &fl);
        else if (f3 == 2)
            r = d ? f64_eq(a64, b64, &fl) : f32_eq(a32, b32, &fl);
        else
            return illegal(h, insn);
        if (rd)
            x[rd] = r;
        goto wrote_x;
    }
    case 0x18: { /* FCVT.W[U]/L[U] from S/D */
        uint64_t r;
        switch (rs2) {
        case 0: r = d ? f64_to_i32(a64, rm, &fl) : f32_to_i32(a32, rm, &fl); break;
        case 1: r = d ? f64_to_u32(a64, rm, &fl) : f32_to_u32(a32, rm, &fl); break;
        case 2: r = d ? f64_to_i64(a64, rm, &fl) : f32_to_i64(a32, rm, &fl); break;
        case 3: r = d ? f64_to_u64(a64, rm, &fl) : f32_to_u64(a32, rm, &fl); break;
        default: return illegal(h, insn);
        }
        if (rd)
            x[rd] = r;
        goto wrote_x;
    }
    case 0x1a: { /* FCVT.S/D from W[U]/L[U] */
        uint64_t v = x[rs1];
        switch (rs2) {
        case 0:
            f[rd] = d ? i32_to_f64((int32_t)v, rm, &fl) : box(i32_to_f32((int32_t)v, rm, &fl));
            break;
        case 1:
            f[rd] = d ? u32_to_f64((uint32_t)v, rm, &fl) : box(u32_to_f32((uint32_t)v, rm, &fl));
            break;
        case 2:
            f[rd] = d ? i64_to_f64((int64_t)v, rm, &fl) : box(i64_to_f32((int64_t)v, rm, &fl));
            break;
        case 3:
            f[rd] = d ? u64_to_f64(v, rm, &fl) : box(u64_to_f32(v, rm, &fl));
            break;
        default:
            return illegal(h, insn);
        }
        goto wrote_f;
    }
    case 0x1c: /* FMV.X.W/D, FCLASS */
        if (rs2)
            return illegal(h, insn);
        if (f3 == 0) {
            /* raw bits: FMV.X.W does not look at the NaN-boxing */
            if (rd)
                x[rd] = d ? a64 : (uint64_t)(int64_t)(int32_t)(uint32_t)a64;
        } else if (f3 == 1) {
            if (rd)
                x[rd] = d ? f64_classify(a64) : f32_classify(a32);
        } else {
            return illegal(h, insn);
        }
        return MEM_OK;
    case 0x1e: /* FMV.W.X, FMV.D.X */
        if (rs2 || f3)
            return illegal(h, insn);
        f[rd] = d ? x[rs1] : box((uint32_t)x[rs1]);
        goto wrote_f;
    default:
        return illegal(h, insn);
    }

wrote_f:
    fp_dirty(h);
wrote_x:
    if (fl) {
        h->fflags |= fl;
        fp_dirty(h);
    }
    return MEM_OK;
}
