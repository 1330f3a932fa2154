/* RV64F/D conversions in every rounding mode: float to integer (W, WU, L,
 * LU) with saturation and invalid flags for NaN, infinities and
 * out-of-range values; integer to float rounding; single <-> double with
 * NaN canonicalisation, overflow and underflow; 32-bit results are
 * sign-extended and 32-bit sources ignore the upper register half. */
#include "fp.h"

#define S_NAN S(0x7fc00000)
#define S_SNAN S(0x7f800001)
#define S_INF S(0x7f800000)
#define S_MINF S(0xff800000)
#define D_NAN 0x7ff8000000000000ULL
#define D_SNAN 0x7ff0000000000001ULL
#define D_INF 0x7ff0000000000000ULL
#define D_MINF 0xfff0000000000000ULL
#define M1 0xffffffffffffffffULL
#define I32_MAX 0x7fffffffULL
#define I32_MIN 0xffffffff80000000ULL
#define I64_MAX 0x7fffffffffffffffULL
#define I64_MIN 0x8000000000000000ULL

static void float_to_int(void) {
    /* rounding of halves */
    CHECK_FP_RM(FCVT_W_S, S(0x40200000), 0, 0, 2, 2, 2, 3, 3, NX);             /* 2.5 */
    CHECK_FP_RM(FCVT_W_S, S(0xc0200000), 0, 0, -2ULL, -2ULL, -3ULL, -2ULL, -3ULL, NX); /* -2.5 */
    CHECK_FP_RM(FCVT_W_S, S(0x3f000000), 0, 0, 0, 0, 0, 1, 1, NX);             /* 0.5 */
    CHECK_FP_RM(FCVT_L_S, S(0x3fc00000), 0, 0, 2, 1, 1, 2, 2, NX);             /* 1.5 */
    CHECK_FP_RM(FCVT_L_D, 0xc004000000000000ULL, 0, 0, -2ULL, -2ULL, -3ULL, -2ULL, -3ULL, NX);
    CHECK_FP_ALL(FCVT_W_S, S(0xcf000000), 0, 0, I32_MIN, 0);                    /* -2^31 */
    CHECK_FP_ALL(FCVT_L_S, S(0xdf000000), 0, 0, I64_MIN, 0);                    /* -2^63 */
    CHECK_FP_ALL(FCVT_W_D, 0xc1e0000000000000ULL, 0, 0, I32_MIN, 0);
    CHECK_FP_ALL(FCVT_WU_S, S(0x4f7fffff), 0, 0, 0xffffffffffffff00ULL, 0);     /* sign-extended */
    CHECK_FP_ALL(FCVT_WU_D, 0x41efffffffe00000ULL, 0, 0, M1, 0);                /* 2^32 - 1 */
    CHECK_FP_ALL(FCVT_LU_S, S(0x5f7fffff), 0, 0, 0xffffff0000000000ULL, 0);
    CHECK_FP_ALL(FCVT_LU_D, 0x43e158e460913d00ULL, 0, 0, 0x8ac7230489e80000ULL, 0); /* 1e19 */

    /* NaN, infinities and out-of-range values saturate with NV */
    CHECK_FP_ALL(FCVT_W_S, S_NAN, 0, 0, I32_MAX, NV);
    CHECK_FP_ALL(FCVT_W_S, S_SNAN, 0, 0, I32_MAX, NV);
    CHECK_FP_ALL(FCVT_W_S, S_INF, 0, 0, I32_MAX, NV);
    CHECK_FP_ALL(FCVT_W_S, S_MINF, 0, 0, I32_MIN, NV);
    CHECK_FP_ALL(FCVT_W_S, S(0x4f32d05e), 0, 0, I32_MAX, NV);                   /* 3e9 */
    CHECK_FP_ALL(FCVT_W_S, S(0xcf32d05e), 0, 0, I32_MIN, NV);
    CHECK_FP_ALL(FCVT_W_S, S(0x4f000000), 0, 0, I32_MAX, NV);                   /* 2^31 */
    CHECK_FP_ALL(FCVT_WU_S, S_NAN, 0, 0, M1, NV);
    CHECK_FP_ALL(FCVT_WU_S, S_INF, 0, 0, M1, NV);
    CHECK_FP_ALL(FCVT_WU_S, S_MINF, 0, 0, 0, NV);
    CHECK_FP_ALL(FCVT_WU_S, S(0xbf800000), 0, 0, 0, NV);                        /* -1 */
    CHECK_FP_ALL(FCVT_WU_S, S(0x4f800000), 0, 0, M1, NV);                       /* 2^32 */
    CHECK_FP_ALL(FCVT_L_S, S_NAN, 0, 0, I64_MAX, NV);
    CHECK_FP_ALL(FCVT_L_S, S_MINF, 0, 0, I64_MIN, NV);
    CHECK_FP_ALL(FCVT_L_S, S(0x5f000000), 0, 0, I64_MAX, NV);                   /* 2^63 */
    CHECK_FP_ALL(FCVT_LU_S, S_NAN, 0, 0, M1, NV);
    CHECK_FP_ALL(FCVT_LU_S, S(0xbf800000), 0, 0, 0, NV);
    CHECK_FP_ALL(FCVT_LU_S, S(0x5f800000), 0, 0, M1, NV);                       /* 2^64 */
    CHECK_FP_ALL(FCVT_W_D, D_NAN, 0, 0, I32_MAX, NV);
    CHECK_FP_ALL(FCVT_W_D, D_MINF, 0, 0, I32_MIN, NV);
    CHECK_FP_ALL(FCVT_WU_D, D_SNAN, 0, 0, M1, NV);
    CHECK_FP_ALL(FCVT_WU_D, D_MINF, 0, 0, 0, NV);
    CHECK_FP_ALL(FCVT_L_D, D_NAN, 0, 0, I64_MAX, NV);
    CHECK_FP_ALL(FCVT_L_D, D_INF, 0, 0, I64_MAX, NV);
    CHECK_FP_ALL(FCVT_L_D, 0x43e158e460913d00ULL, 0, 0, I64_MAX, NV);           /* 1e19 */
    CHECK_FP_ALL(FCVT_LU_D, D_NAN, 0, 0, M1, NV);
    CHECK_FP_ALL(FCVT_LU_D, D_MINF, 0, 0, 0, NV);
    CHECK_FP_ALL(FCVT_LU_D, 0x43f0000000000000ULL, 0, 0, M1, NV);               /* 2^64 */

    /* whether a value is out of range depends on the rounded result */
    /* 2^31 - 0.5 */
    fp_check(__LINE__, FCVT_W_D, RNE, 0x41dfffffffe00000ULL, 0, 0, I32_MAX, NV);
    fp_check(__LINE__, FCVT_W_D, RTZ, 0x41dfffffffe00000ULL, 0, 0, I32_MAX, NX);
    fp_check(__LINE__, FCVT_W_D, RDN, 0x41dfffffffe00000ULL, 0, 0, I32_MAX, NX);
    fp_check(__LINE__, FCVT_W_D, RUP, 0x41dfffffffe00000ULL, 0, 0, I32_MAX, NV);
    fp_check(__LINE__, FCVT_W_D, RMM, 0x41dfffffffe00000ULL, 0, 0, I32_MAX, NV);
    /* -2^31 - 0.5 */
    fp_check(__LINE__, FCVT_W_D, RNE, 0xc1e0000000100000ULL, 0, 0, I32_MIN, NX);
    fp_check(__LINE__, FCVT_W_D, RTZ, 0xc1e0000000100000ULL, 0, 0, I32_MIN, NX);
    fp_check(__LINE__, FCVT_W_D, RDN, 0xc1e0000000100000ULL, 0, 0, I32_MIN, NV);
    fp_check(__LINE__, FCVT_W_D, RUP, 0xc1e0000000100000ULL, 0, 0, I32_MIN, NX);
    fp_check(__LINE__, FCVT_W_D, RMM, 0xc1e0000000100000ULL, 0, 0, I32_MIN, NV);
    /* -0.5 to unsigned: rounds to 0 (inexact) or -1 (invalid) */
    fp_check(__LINE__, FCVT_WU_S, RNE, S(0xbf000000), 0, 0, 0, NX);
    fp_check(__LINE__, FCVT_WU_S, RTZ, S(0xbf000000), 0, 0, 0, NX);
    fp_check(__LINE__, FCVT_WU_S, RDN, S(0xbf000000), 0, 0, 0, NV);
    fp_check(__LINE__, FCVT_WU_S, RUP, S(0xbf000000), 0, 0, 0, NX);
    fp_check(__LINE__, FCVT_WU_S, RMM, S(0xbf000000), 0, 0, 0, NV);
    fp_check(__LINE__, FCVT_LU_D, RTZ, 0xbfe0000000000000ULL, 0, 0, 0, NX);
    fp_check(__LINE__, FCVT_LU_D, RDN, 0xbfe0000000000000ULL, 0, 0, 0, NV);
    /* -0 is fine for unsigned */
    CHECK_FP_ALL(FCVT_WU_D, 0x8000000000000000ULL, 0, 0, 0, 0);
    /* an unboxed single is the canonical NaN */
    CHECK_FP_ALL(FCVT_W_S, 0x000000003f800000ULL, 0, 0, I32_MAX, NV);
}

static void int_to_float(void) {
    /* 2^31 - 1 needs rounding in single; upper half of rs1 ignored */
    CHECK_FP_RM(FCVT_S_W, 0xffffffff7fffffffULL, 0, 0, S(0x4f000000), S(0x4effffff), S(0x4effffff),
                S(0x4f000000), S(0x4f000000), NX);
    CHECK_FP_ALL(FCVT_S_W, 0x0000000080000000ULL, 0, 0, S(0xcf000000), 0);
    CHECK_FP_ALL(FCVT_S_W, 0x12345678fffffffdULL, 0, 0, S(0xc0400000), 0); /* -3 */
    CHECK_FP_RM(FCVT_S_WU, 0x12345678ffffffffULL, 0, 0, S(0x4f800000), S(0x4f7fffff),
                S(0x4f7fffff), S(0x4f800000), S(0x4f800000), NX);
    CHECK_FP_RM(FCVT_S_L, I64_MAX, 0, 0, S(0x5f000000), S(0x5effffff), S(0x5effffff),
                S(0x5f000000), S(0x5f000000), NX);
    CHECK_FP_RM(FCVT_S_L, 0xffffffffff000001ULL, 0, 0, S(0xcb7fffff), S(0xcb7fffff),
                S(0xcb7fffff), S(0xcb7fffff), S(0xcb7fffff), 0); /* -(2^24 - 1): exact */
    CHECK_FP_RM(FCVT_S_LU, M1, 0, 0, S(0x5f800000), S(0x5f7fffff), S(0x5f7fffff), S(0x5f800000),
                S(0x5f800000), NX);
    CHECK_FP_ALL(FCVT_S_LU, 0, 0, 0, S(0), 0);
    /* 2^53 + 1 is a tie in double */
    CHECK_FP_RM(FCVT_D_L, 0x20000000000001ULL, 0, 0, 0x4340000000000000ULL, 0x4340000000000000ULL,
                0x4340000000000000ULL, 0x4340000000000001ULL, 0x4340000000000001ULL, NX);
    CHECK_FP_RM(FCVT_D_L, -0x20000000000001ULL, 0, 0, 0xc340000000000000ULL, 0xc340000000000000ULL,
                0xc340000000000001ULL, 0xc340000000000000ULL, 0xc340000000000001ULL, NX);
    CHECK_FP_RM(FCVT_D_LU, M1, 0, 0, 0x43f0000000000000ULL, 0x43efffffffffffffULL,
                0x43efffffffffffffULL, 0x43f0000000000000ULL, 0x43f0000000000000ULL, NX);
    CHECK_FP_ALL(FCVT_D_W, 0xffffffff80000000ULL, 0, 0, 0xc1e0000000000000ULL, 0);
    CHECK_FP_ALL(FCVT_D_W, 0x00000000ffffffffULL, 0, 0, 0xbff0000000000000ULL, 0); /* -1 */
    CHECK_FP_ALL(FCVT_D_WU, 0xabcdef00ffffffffULL, 0, 0, 0x41efffffffe00000ULL, 0);
    CHECK_FP_ALL(FCVT_D_L, 0, 0, 0, 0, 0); /* +0 */
}

static void single_double(void) {
    CHECK_FP_RM(FCVT_S_D, 0x3fd5555555555555ULL, 0, 0, S(0x3eaaaaab), S(0x3eaaaaaa), S(0x3eaaaaaa),
                S(0x3eaaaaab), S(0x3eaaaaab), NX);
    CHECK_FP_RM(FCVT_S_D, 0x7e37e43c8800759cULL, 0, 0, S(0x7f800000), S(0x7f7fffff),
                S(0x7f7fffff), S(0x7f800000), S(0x7f800000), OF | NX); /* 1e300 */
    CHECK_FP_RM(FCVT_S_D, 1, 0, 0, S(0), S(0), S(0), S(1), S(0), UF | NX); /* 2^-1074 */
    CHECK_FP_ALL(FCVT_S_D, 0x36a0000000000000ULL, 0, 0, S(1), 0);          /* 2^-149 */
    CHECK_FP_ALL(FCVT_S_D, D_SNAN, 0, 0, S_NAN, NV);
    CHECK_FP_ALL(FCVT_S_D, 0xfff8000000abcdefULL, 0, 0, S_NAN, 0);
    CHECK_FP_ALL(FCVT_S_D, 0x8000000000000000ULL, 0, 0, S(0x80000000), 0);
    CHECK_FP_ALL(FCVT_S_D, D_MINF, 0, 0, S_MINF, 0);
    CHECK_FP_ALL(FCVT_D_S, S(0x3f800000), 0, 0, 0x3ff0000000000000ULL, 0);
    CHECK_FP_ALL(FCVT_D_S, S(1), 0, 0, 0x36a0000000000000ULL, 0);
    CHECK_FP_ALL(FCVT_D_S, S_SNAN, 0, 0, D_NAN, NV);
    CHECK_FP_ALL(FCVT_D_S, S(0xffc12345), 0, 0, D_NAN, 0);
    CHECK_FP_ALL(FCVT_D_S, 0x000000003f800000ULL, 0, 0, D_NAN, 0); /* unboxed */
    CHECK_FP_ALL(FCVT_D_S, S_MINF, 0, 0, D_MINF, 0);
}

void test_main(void) {
    float_to_int();
    int_to_float();
    single_double();
}
