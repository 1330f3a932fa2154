/* fp_run / fp_check: see fp.h. */
#include <stdio.h>

#include "fp.h"

#define FF(insn, rm)                                                         \
    __asm__ volatile("fmv.d.x ft0, %1\n\t"                                   \
                     "fmv.d.x ft1, %2\n\t"                                   \
                     "fmv.d.x ft2, %3\n\t" insn ", " rm "\n\t"               \
                     "fmv.x.d %0, ft3"                                       \
                     : "=r"(r)                                               \
                     : "r"(a), "r"(b), "r"(c)                                \
                     : "ft0", "ft1", "ft2", "ft3")
#define XF(insn, rm)                                                         \
    __asm__ volatile("fmv.d.x ft0, %1\n\t" insn ", " rm : "=r"(r) : "r"(a) : "ft0")
#define FX(insn, rm)                                                         \
    __asm__ volatile(insn ", " rm "\n\tfmv.x.d %0, ft3" : "=r"(r) : "r"(a) : "ft3")

/* One case per rounding-mode encoding: rne rtz rdn rup rmm dyn. */
#define RM_CASES(KIND, insn)          \
    switch (rm) {                     \
    case RNE:                         \
        KIND(insn, "rne");            \
        break;                        \
    case RTZ:                         \
        KIND(insn, "rtz");            \
        break;                        \
    case RDN:                         \
        KIND(insn, "rdn");            \
        break;                        \
    case RUP:                         \
        KIND(insn, "rup");            \
        break;                        \
    case RMM:                         \
        KIND(insn, "rmm");            \
        break;                        \
    default:                          \
        KIND(insn, "dyn");            \
        break;                        \
    }

/* fmin/fmax have no rounding mode: the same instruction for every rm. */
#define NO_RM(insn)                                                          \
    __asm__ volatile("fmv.d.x ft0, %1\n\t"                                   \
                     "fmv.d.x ft1, %2\n\t" insn "\n\t"                       \
                     "fmv.x.d %0, ft3"                                       \
                     : "=r"(r)                                               \
                     : "r"(a), "r"(b)                                        \
                     : "ft0", "ft1", "ft3")

uint64_t fp_run(enum fp_op op, unsigned rm, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t r = 0;
    switch (op) {
    case FADD_S: RM_CASES(FF, "fadd.s ft3, ft0, ft1") break;
    case FSUB_S: RM_CASES(FF, "fsub.s ft3, ft0, ft1") break;
    case FMUL_S: RM_CASES(FF, "fmul.s ft3, ft0, ft1") break;
    case FDIV_S: RM_CASES(FF, "fdiv.s ft3, ft0, ft1") break;
    case FSQRT_S: RM_CASES(FF, "fsqrt.s ft3, ft0") break;
    case FMIN_S: NO_RM("fmin.s ft3, ft0, ft1"); break;
    case FMAX_S: NO_RM("fmax.s ft3, ft0, ft1"); break;
    case FMADD_S: RM_CASES(FF, "fmadd.s ft3, ft0, ft1, ft2") break;
    case FMSUB_S: RM_CASES(FF, "fmsub.s ft3, ft0, ft1, ft2") break;
    case FNMSUB_S: RM_CASES(FF, "fnmsub.s ft3, ft0, ft1, ft2") break;
    case FNMADD_S: RM_CASES(FF, "fnmadd.s ft3, ft0, ft1, ft2") break;
    case FADD_D: RM_CASES(FF, "fadd.d ft3, ft0, ft1") break;
    case FSUB_D: RM_CASES(FF, "fsub.d ft3, ft0, ft1") break;
    case FMUL_D: RM_CASES(FF, "fmul.d ft3, ft0, ft1") break;
    case FDIV_D: RM_CASES(FF, "fdiv.d ft3, ft0, ft1") break;
    case FSQRT_D: RM_CASES(FF, "fsqrt.d ft3, ft0") break;
    case FMADD_D: RM_CASES(FF, "fmadd.d ft3, ft0, ft1, ft2") break;
    case FMSUB_D: RM_CASES(FF, "fmsub.d ft3, ft0, ft1, ft2") break;
    case FNMSUB_D: RM_CASES(FF, "fnmsub.d ft3, ft0, ft1, ft2") break;
    case FNMADD_D: RM_CASES(FF, "fnmadd.d ft3, ft0, ft1, ft2") break;
    case FCVT_S_D: RM_CASES(FF, "fcvt.s.d ft3, ft0") break;
    case FCVT_D_S: NO_RM("fcvt.d.s ft3, ft0"); break; /* exact */
    case FCVT_W_S: RM_CASES(XF, "fcvt.w.s %0, ft0") break;
    case FCVT_WU_S: RM_CASES(XF, "fcvt.wu.s %0, ft0") break;
    case FCVT_L_S: RM_CASES(XF, "fcvt.l.s %0, ft0") break;
    case FCVT_LU_S: RM_CASES(XF, "fcvt.lu.s %0, ft0") break;
    case FCVT_W_D: RM_CASES(XF, "fcvt.w.d %0, ft0") break;
    case FCVT_WU_D: RM_CASES(XF, "fcvt.wu.d %0, ft0") break;
    case FCVT_L_D: RM_CASES(XF, "fcvt.l.d %0, ft0") break;
    case FCVT_LU_D: RM_CASES(XF, "fcvt.lu.d %0, ft0") break;
    case FCVT_S_W: RM_CASES(FX, "fcvt.s.w ft3, %1") break;
    case FCVT_S_WU: RM_CASES(FX, "fcvt.s.wu ft3, %1") break;
    case FCVT_S_L: RM_CASES(FX, "fcvt.s.l ft3, %1") break;
    case FCVT_S_LU: RM_CASES(FX, "fcvt.s.lu ft3, %1") break;
    /* exact: the assembler takes no rounding mode */
    case FCVT_D_W:
        __asm__ volatile("fcvt.d.w ft3, %1\n\tfmv.x.d %0, ft3" : "=r"(r) : "r"(a) : "ft3");
        break;
    case FCVT_D_WU:
        __asm__ volatile("fcvt.d.wu ft3, %1\n\tfmv.x.d %0, ft3" : "=r"(r) : "r"(a) : "ft3");
        break;
    case FCVT_D_L: RM_CASES(FX, "fcvt.d.l ft3, %1") break;
    case FCVT_D_LU: RM_CASES(FX, "fcvt.d.lu ft3, %1") break;
    }
    return r;
}

static const char *const rm_names[8] = {"rne", "rtz", "rdn", "rup", "rmm", "?", "?", "dyn"};

static void report(unsigned line, const char *how, unsigned rm, uint64_t got, uint64_t want,
                   unsigned gflags, unsigned wflags) {
    console_lock();
    printf("FAIL %s:%u: %s rm=%s: result 0x%016lx (want 0x%016lx), fflags 0x%02x (want 0x%02x)\n",
           TEST_NAME, line, how, rm_names[rm & 7], (unsigned long)got, (unsigned long)want,
           gflags, wflags);
    console_unlock();
    guest_exit((int)line);
}

void fp_check(unsigned line, enum fp_op op, unsigned rm, uint64_t a, uint64_t b, uint64_t c,
              uint64_t want, unsigned flags) {
    /* static rounding mode; frm holds a different mode that must not matter */
    csr_write(frm, rm == RNE ? RUP : RNE);
    fflags_clear();
    uint64_t got = fp_run(op, rm, a, b, c);
    unsigned gflags = fflags_get();
    if (got != want || gflags != flags)
        report(line, "static", rm, got, want, gflags, flags);
    /* dynamic: frm = rm */
    csr_write(frm, rm);
    fflags_clear();
    got = fp_run(op, DYN, a, b, c);
    gflags = fflags_get();
    if (got != want || gflags != flags)
        report(line, "dynamic", rm, got, want, gflags, flags);
    if (csr_read(frm) != rm)
        report(line, "frm changed", rm, csr_read(frm), rm, 0, 0);
    csr_write(frm, RNE);
}
