/* RV64F arithmetic: add, sub, mul, div, sqrt and the four fused
 * multiply-adds in every rounding mode (static and dynamic), fflags
 * (inexact, underflow with tininess after rounding, overflow, divide by
 * zero, invalid), canonical NaN results, NaN-boxed operands, fma exactness. */
#include "fp.h"

#define ONE 0x3f800000
#define TWO 0x40000000
#define THREE 0x40400000
#define HALF 0x3f000000
#define M_ONE 0xbf800000
#define ZERO 0x00000000
#define NZERO 0x80000000
#define INF 0x7f800000
#define M_INF 0xff800000
#define CNAN 0x7fc00000
#define SNAN 0x7f800001
#define QNAN 0x7fc12345 /* quiet, with a payload */
#define MAX 0x7f7fffff
#define M_MAX 0xff7fffff
#define MIN_N 0x00800000
#define MIN_S 0x00000001
#define EPS24 0x33800000 /* 2^-24: half an ulp of 1.0 */

static void add_sub(void) {
    CHECK_FP_ALL(FADD_S, S(ONE), S(TWO), 0, S(THREE), 0);
    CHECK_FP_ALL(FSUB_S, S(ONE), S(THREE), 0, S(0xc0000000), 0);
    /* 1 + 2^-24: exactly between 1 and its successor */
    CHECK_FP_RM(FADD_S, S(ONE), S(EPS24), 0, S(ONE), S(ONE), S(ONE), S(0x3f800001), S(0x3f800001),
                NX);
    CHECK_FP_RM(FADD_S, S(M_ONE), S(EPS24 | NZERO), 0, S(M_ONE), S(M_ONE), S(0xbf800001), S(M_ONE),
                S(0xbf800001), NX);
    /* a tie whose even neighbour is the larger one */
    CHECK_FP_RM(FADD_S, S(0x3f800001), S(EPS24), 0, S(0x3f800002), S(0x3f800001), S(0x3f800001),
                S(0x3f800002), S(0x3f800002), NX);
    /* exact zero: +0, except -0 when rounding down */
    CHECK_FP_RM(FSUB_S, S(ONE), S(ONE), 0, S(ZERO), S(ZERO), S(NZERO), S(ZERO), S(ZERO), 0);
    CHECK_FP_RM(FADD_S, S(ZERO), S(NZERO), 0, S(ZERO), S(ZERO), S(NZERO), S(ZERO), S(ZERO), 0);
    CHECK_FP_ALL(FADD_S, S(NZERO), S(NZERO), 0, S(NZERO), 0);
    /* infinities and NaNs */
    CHECK_FP_ALL(FADD_S, S(INF), S(ONE), 0, S(INF), 0);
    CHECK_FP_ALL(FADD_S, S(INF), S(M_INF), 0, S(CNAN), NV);
    CHECK_FP_ALL(FSUB_S, S(INF), S(INF), 0, S(CNAN), NV);
    CHECK_FP_ALL(FADD_S, S(SNAN), S(ONE), 0, S(CNAN), NV);
    CHECK_FP_ALL(FADD_S, S(QNAN), S(ONE), 0, S(CNAN), 0); /* no payload propagation */
    CHECK_FP_ALL(FSUB_S, S(ONE), S(QNAN | NZERO), 0, S(CNAN), 0);
    /* overflow */
    CHECK_FP_RM(FADD_S, S(MAX), S(0x73800000), 0, S(INF), S(MAX), S(MAX), S(INF), S(INF), OF | NX);
}

static void mul_div(void) {
    CHECK_FP_ALL(FMUL_S, S(TWO), S(THREE), 0, S(0x40c00000), 0);
    CHECK_FP_RM(FMUL_S, S(MAX), S(TWO), 0, S(INF), S(MAX), S(MAX), S(INF), S(INF), OF | NX);
    CHECK_FP_RM(FMUL_S, S(M_MAX), S(TWO), 0, S(M_INF), S(M_MAX), S(M_INF), S(M_MAX), S(M_INF),
                OF | NX);
    /* exact subnormal: no underflow flag */
    CHECK_FP_ALL(FMUL_S, S(MIN_N), S(HALF), 0, S(0x00400000), 0);
    /* half the smallest subnormal: a tie between 0 and it */
    CHECK_FP_RM(FMUL_S, S(MIN_S), S(HALF), 0, S(ZERO), S(ZERO), S(ZERO), S(MIN_S), S(MIN_S),
                UF | NX);
    CHECK_FP_RM(FMUL_S, S(MIN_S | NZERO), S(HALF), 0, S(NZERO), S(NZERO), S(0x80000001),
                S(NZERO), S(0x80000001), UF | NX);
    CHECK_FP_ALL(FMUL_S, S(INF), S(ZERO), 0, S(CNAN), NV);
    CHECK_FP_ALL(FMUL_S, S(NZERO), S(THREE), 0, S(NZERO), 0);
    /* 1/3 and -1/3 */
    CHECK_FP_RM(FDIV_S, S(ONE), S(THREE), 0, S(0x3eaaaaab), S(0x3eaaaaaa), S(0x3eaaaaaa),
                S(0x3eaaaaab), S(0x3eaaaaab), NX);
    CHECK_FP_RM(FDIV_S, S(M_ONE), S(THREE), 0, S(0xbeaaaaab), S(0xbeaaaaaa), S(0xbeaaaaab),
                S(0xbeaaaaaa), S(0xbeaaaaab), NX);
    CHECK_FP_ALL(FDIV_S, S(THREE), S(TWO), 0, S(0x3fc00000), 0);
    /* division by zero and invalid divisions */
    CHECK_FP_ALL(FDIV_S, S(ONE), S(ZERO), 0, S(INF), DZ);
    CHECK_FP_ALL(FDIV_S, S(M_ONE), S(ZERO), 0, S(M_INF), DZ);
    CHECK_FP_ALL(FDIV_S, S(ONE), S(NZERO), 0, S(M_INF), DZ);
    CHECK_FP_ALL(FDIV_S, S(ZERO), S(ZERO), 0, S(CNAN), NV);
    CHECK_FP_ALL(FDIV_S, S(INF), S(M_INF), 0, S(CNAN), NV);
    CHECK_FP_ALL(FDIV_S, S(INF), S(ZERO), 0, S(INF), 0);
    CHECK_FP_ALL(FDIV_S, S(ONE), S(INF), 0, S(ZERO), 0);
}

static void sqrt_(void) {
    CHECK_FP_ALL(FSQRT_S, S(0x40800000), 0, 0, S(TWO), 0);
    CHECK_FP_RM(FSQRT_S, S(TWO), 0, 0, S(0x3fb504f3), S(0x3fb504f3), S(0x3fb504f3), S(0x3fb504f4),
                S(0x3fb504f3), NX);
    CHECK_FP_ALL(FSQRT_S, S(M_ONE), 0, 0, S(CNAN), NV);
    CHECK_FP_ALL(FSQRT_S, S(NZERO), 0, 0, S(NZERO), 0);
    CHECK_FP_ALL(FSQRT_S, S(INF), 0, 0, S(INF), 0);
    CHECK_FP_ALL(FSQRT_S, S(M_INF), 0, 0, S(CNAN), NV);
    CHECK_FP_ALL(FSQRT_S, S(SNAN), 0, 0, S(CNAN), NV);
    CHECK_FP_ALL(FSQRT_S, S(QNAN), 0, 0, S(CNAN), 0);
    CHECK_FP_RM(FSQRT_S, S(MIN_S), 0, 0, S(0x1a3504f3), S(0x1a3504f3), S(0x1a3504f3),
                S(0x1a3504f4), S(0x1a3504f3), NX); /* sqrt(2^-149) */
}

static void nan_boxing(void) {
    /* an operand whose upper 32 bits are not all ones is the canonical NaN */
    CHECK_FP_ALL(FADD_S, 0x000000003f800000ULL, S(ONE), 0, S(CNAN), 0);
    CHECK_FP_ALL(FADD_S, S(ONE), 0xfffffffe3f800000ULL, 0, S(CNAN), 0);
    CHECK_FP_ALL(FMUL_S, 0x7fffffff7f800001ULL, S(ONE), 0, S(CNAN), 0); /* not a signaling NaN */
    CHECK_FP_ALL(FSQRT_S, 0x0000000040800000ULL, 0, 0, S(CNAN), 0);
    CHECK_FP_ALL(FMADD_S, S(ONE), S(ONE), 0x3ff0000000000000ULL, S(CNAN), 0);
    /* and results are boxed */
    CHECK_FP_ALL(FADD_S, S(ONE), S(ONE), 0, 0xffffffff40000000ULL, 0);
}

static void fused(void) {
    CHECK_FP_ALL(FMADD_S, S(TWO), S(THREE), S(ONE), S(0x40e00000), 0);  /* 2*3+1 */
    CHECK_FP_ALL(FMSUB_S, S(TWO), S(THREE), S(ONE), S(0x40a00000), 0);  /* 2*3-1 */
    CHECK_FP_ALL(FNMSUB_S, S(TWO), S(THREE), S(ONE), S(0xc0a00000), 0); /* -(2*3)+1 */
    CHECK_FP_ALL(FNMADD_S, S(TWO), S(THREE), S(ONE), S(0xc0e00000), 0); /* -(2*3)-1 */
    /* one rounding: (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly */
    CHECK_FP_ALL(FMADD_S, S(0x3f800001), S(0x3f7ffffe), S(M_ONE), S(0xa8800000), 0);
    CHECK_FP_ALL(FNMSUB_S, S(0x3f800001), S(0x3f7ffffe), S(ONE), S(0x28800000), 0);
    CHECK_FP_RM(FMADD_S, S(ONE), S(ONE), S(EPS24), S(ONE), S(ONE), S(ONE), S(0x3f800001),
                S(0x3f800001), NX);
    /* inf * 0 is invalid even when the addend is a quiet NaN */
    CHECK_FP_ALL(FMADD_S, S(INF), S(ZERO), S(CNAN), S(CNAN), NV);
    CHECK_FP_ALL(FMADD_S, S(ZERO), S(M_INF), S(ONE), S(CNAN), NV);
    CHECK_FP_ALL(FMADD_S, S(INF), S(ONE), S(M_INF), S(CNAN), NV);
    CHECK_FP_ALL(FMADD_S, S(ONE), S(ONE), S(SNAN), S(CNAN), NV);
    CHECK_FP_ALL(FMADD_S, S(QNAN), S(ONE), S(ONE), S(CNAN), 0);
    /* signs of exact zeros */
    CHECK_FP_ALL(FMADD_S, S(ONE), S(NZERO), S(NZERO), S(NZERO), 0);
    CHECK_FP_RM(FMADD_S, S(ONE), S(ZERO), S(NZERO), S(ZERO), S(ZERO), S(NZERO), S(ZERO), S(ZERO), 0);
    CHECK_FP_RM(FMSUB_S, S(TWO), S(ONE), S(TWO), S(ZERO), S(ZERO), S(NZERO), S(ZERO), S(ZERO), 0);
    /* tininess is detected after rounding: 2^-126 - 2^-151 rounds (with an
     * unbounded exponent) to 2^-126 in rne/rup/rmm, so no underflow there */
    fp_check(__LINE__, FMADD_S, RNE, S(0x9a000000), S(0x19800000), S(MIN_N), S(MIN_N), NX);
    fp_check(__LINE__, FMADD_S, RTZ, S(0x9a000000), S(0x19800000), S(MIN_N), S(0x007fffff), UF | NX);
    fp_check(__LINE__, FMADD_S, RDN, S(0x9a000000), S(0x19800000), S(MIN_N), S(0x007fffff), UF | NX);
    fp_check(__LINE__, FMADD_S, RUP, S(0x9a000000), S(0x19800000), S(MIN_N), S(MIN_N), NX);
    fp_check(__LINE__, FMADD_S, RMM, S(0x9a000000), S(0x19800000), S(MIN_N), S(MIN_N), NX);
    /* 2^-126 - 2^-150 is tiny in every mode */
    CHECK_FP_RM(FMADD_S, S(0x9a000000), S(0x1a000000), S(MIN_N), S(MIN_N), S(0x007fffff),
                S(0x007fffff), S(MIN_N), S(MIN_N), UF | NX);
}

static void flags_accumulate(void) {
    fflags_clear();
    fp_run(FDIV_S, RNE, S(ONE), S(ZERO), 0);
    fp_run(FADD_S, RNE, S(ONE), S(EPS24), 0);
    CHECK_EQ(fflags_get(), DZ | NX);
    fp_run(FADD_S, RNE, S(ONE), S(ONE), 0); /* exact: leaves the flags alone */
    CHECK_EQ(fflags_get(), DZ | NX);
    fp_run(FSQRT_S, RNE, S(M_ONE), 0, 0);
    CHECK_EQ(fflags_get(), DZ | NX | NV);
    CHECK_EQ(csr_read(fcsr) & 0x1f, DZ | NX | NV);
    fflags_clear();
}

void test_main(void) {
    add_sub();
    mul_div();
    sqrt_();
    nan_boxing();
    fused();
    flags_accumulate();
}
