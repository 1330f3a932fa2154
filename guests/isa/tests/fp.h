/* Floating-point test machinery: run one FP instruction on raw 64-bit
 * register images (so NaN boxing is visible), with a static rounding mode
 * or with rm = dyn and frm set, and compare result and fflags.
 *
 * fp_check(line, op, rm, a, b, c, want, flags) runs the instruction twice:
 * once with the static rounding mode rm and once with frm = rm and the
 * dyn encoding; both must give `want` and exactly the fflags `flags`. */
#ifndef ISA_FP_H
#define ISA_FP_H

#include "isa.h"

#define NX FFLAG_NX
#define UF FFLAG_UF
#define OF FFLAG_OF
#define DZ FFLAG_DZ
#define NV FFLAG_NV

#define RNE 0
#define RTZ 1
#define RDN 2
#define RUP 3
#define RMM 4
#define DYN 7

/* Single-precision values are NaN-boxed in 64-bit registers. */
#define S(x) (0xffffffff00000000ULL | (uint32_t)(x))

enum fp_op {
    /* f <- f, f, f */
    FADD_S, FSUB_S, FMUL_S, FDIV_S, FSQRT_S, FMIN_S, FMAX_S,
    FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S,
    FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_D,
    FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D,
    FCVT_S_D, FCVT_D_S,
    /* x <- f */
    FCVT_W_S, FCVT_WU_S, FCVT_L_S, FCVT_LU_S,
    FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D,
    /* f <- x */
    FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU,
    FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
};

uint64_t fp_run(enum fp_op op, unsigned rm, uint64_t a, uint64_t b, uint64_t c);
void fp_check(unsigned line, enum fp_op op, unsigned rm, uint64_t a, uint64_t b, uint64_t c,
              uint64_t want, unsigned flags);

#define CHECK_FP(op, rm, a, b, c, want, flags) fp_check(__LINE__, op, rm, a, b, c, want, flags)
/* All five rounding modes give the same result and flags. */
#define CHECK_FP_ALL(op, a, b, c, want, flags)            \
    do {                                                   \
        for (unsigned rm_ = 0; rm_ <= RMM; rm_++)          \
            fp_check(__LINE__, op, rm_, a, b, c, want, flags); \
    } while (0)

/* Results for rne, rtz, rdn, rup, rmm; the same fflags for all. */
#define CHECK_FP_RM(op, a, b, c, r_rne, r_rtz, r_rdn, r_rup, r_rmm, flags)           \
    do {                                                                           \
        const uint64_t want_[5] = {r_rne, r_rtz, r_rdn, r_rup, r_rmm};             \
        for (unsigned rm_ = 0; rm_ <= RMM; rm_++)                                  \
            fp_check(__LINE__, op, rm_, a, b, c, want_[rm_], flags);               \
    } while (0)

static inline void fflags_clear(void) { csr_write(fflags, 0); }
static inline unsigned fflags_get(void) { return (unsigned)csr_read(fflags); }

#endif
