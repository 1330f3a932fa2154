/*
 * Checks avmm/core/softfloat.c bit for bit, flags included.
 *
 *   sf_check GROUP [SCALE [SEED]]   GROUP: arith32 arith64 fma32 fma64 cmp cvt rmm table
 *
 * SCALE multiplies the number of random cases (1 = 200000 per group); SEED
 * picks another random stream, for longer runs by hand.
 *
 * References: the host FPU (x86-64 SSE, rounding modes and exception flags
 * through fenv.h) for the four IEEE directed/nearest modes; for RMM, which
 * the host lacks, "the RNE result, except on an exact tie, where it is the
 * result rounded away from zero" with exact ties found in a wider host format
 * (binary64 for binary32 operations, binary128 for binary64 ones); and tables
 * computed by hand from the RISC-V spec for what has no host equivalent
 * (saturating conversions, NaN rules, min/max, signed zeros).
 *
 * Build (done by tests/softfloat/test_softfloat.py):
 *   gcc -std=gnu11 -O2 -frounding-math -fsignaling-nans -ffp-contract=off \
 *       -I avmm/core sf_check.c avmm/core/softfloat.c -lm
 *
 * Prints nothing and exits 0 when all checks pass; otherwise prints every
 * mismatch (up to a limit) and exits 1.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softfloat.h"

typedef unsigned __int128 u128;

/* ------------------------------------------------------------ reporting */

static long failures;
/* Coverage figures, printed to stderr when SF_STATS is set in the environment:
 * checks made, expected flags seen, exact ties met by the RMM checks. */
static long n_checks, n_flag[5], n_ties;
static const char *const rm_name[] = {"RNE", "RTZ", "RDN", "RUP", "RMM"};

static void flag_str(uint32_t f, char *buf)
{
    buf[0] = 0;
    static const char *const names[] = {"NX", "UF", "OF", "DZ", "NV"};
    for (int i = 4; i >= 0; i--)
        if (f & (1u << i)) {
            if (buf[0])
                strcat(buf, "|");
            strcat(buf, names[i]);
        }
    if (!buf[0])
        strcpy(buf, "-");
}

static void check(const char *op, int rm, int nin, const uint64_t *in, uint64_t want,
                  uint32_t want_fl, uint64_t got, uint32_t got_fl)
{
    n_checks++;
    for (int i = 0; i < 5; i++)
        n_flag[i] += (want_fl >> i) & 1;
    if (want == got && want_fl == got_fl)
        return;
    if (failures++ >= 40)
        return;
    char wf[32], gf[32];
    flag_str(want_fl, wf);
    flag_str(got_fl, gf);
    printf("MISMATCH %s rm=%s", op, rm >= 0 ? rm_name[rm] : "-");
    for (int i = 0; i < nin; i++)
        printf(" in%d=0x%llx", i, (unsigned long long)in[i]);
    printf(" expected=0x%llx flags=%s actual=0x%llx flags=%s\n", (unsigned long long)want, wf,
           (unsigned long long)got, gf);
}

/* ----------------------------------------------------------------- random */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* ------------------------------------------------------------------ host */

static const int host_rm[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};

/* Keeps the compiler from moving FP work across fesetround/fetestexcept. */
#define OPAQUE(v) __asm__ volatile("" : "+x"(v)::"memory")

static uint32_t host_flags(void)
{
    int e = fetestexcept(FE_ALL_EXCEPT);
    return (e & FE_INEXACT ? FF_NX : 0) | (e & FE_UNDERFLOW ? FF_UF : 0) |
           (e & FE_OVERFLOW ? FF_OF : 0) | (e & FE_DIVBYZERO ? FF_DZ : 0) |
           (e & FE_INVALID ? FF_NV : 0);
}

static float b2f(uint64_t x)
{
    uint32_t u = (uint32_t)x;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double b2d(uint64_t x)
{
    double d;
    memcpy(&d, &x, 8);
    return d;
}

static uint64_t f2b(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x7fffffff) > 0x7f800000 ? F32_CANONICAL_NAN : u;
}

static uint64_t d2b(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return (u & ~(1ull << 63)) > 0x7ff0000000000000ull ? F64_CANONICAL_NAN : u;
}

/* ---------------------------------------------------------------- formats */

typedef struct {
    int w, fb, emax;
} fmt_t;

static const fmt_t FMT32 = {32, 23, 0xff}, FMT64 = {64, 52, 0x7ff};

static uint64_t mk(const fmt_t *f, unsigned sign, int exp, uint64_t frac)
{
    return ((uint64_t)sign << (f->w - 1)) | ((uint64_t)exp << f->fb) |
           (frac & ((1ull << f->fb) - 1));
}

/* x truncated to the format's width (bit arithmetic on inputs may carry out) */
static uint64_t fit(const fmt_t *f, uint64_t x) { return f->w == 32 ? (uint32_t)x : x; }

static int exp_of(const fmt_t *f, uint64_t x) { return (int)(x >> f->fb) & f->emax; }

static uint64_t special(const fmt_t *f)
{
    uint64_t frac = (1ull << f->fb) - 1, quiet = 1ull << (f->fb - 1);
    int bias = f->emax >> 1;
    const uint64_t v[] = {
        0, 1, frac, 1ull << f->fb, mk(f, 0, f->emax - 1, frac), /* 0, subnormals, min/max normal */
        mk(f, 0, bias, 0), mk(f, 0, bias, 1), mk(f, 0, bias - 1, frac), mk(f, 0, bias + 1, 0),
        mk(f, 0, bias - 1, 0), mk(f, 0, bias + 1, 1ull << (f->fb - 1)), /* 1, 1+ulp, 1-ulp/2, 2, 1/2, 3 */
        mk(f, 0, f->emax, 0),                                           /* inf */
        mk(f, 0, f->emax, quiet), mk(f, 0, f->emax, quiet | 5),         /* qNaN */
        mk(f, 0, f->emax, 1), mk(f, 0, f->emax, quiet - 1),             /* sNaN */
        mk(f, 0, 1, frac), 2, frac - 1, mk(f, 0, f->emax - 1, 0),
    };
    uint64_t x = v[rndn(sizeof v / sizeof v[0])];
    return x | ((uint64_t)rndn(2) << (f->w - 1));
}

static uint64_t rand_frac(const fmt_t *f)
{
    uint64_t mask = (1ull << f->fb) - 1, m = rnd() & mask;
    switch (rndn(7)) {
    case 0: return m & ~((1ull << rndn(f->fb + 1)) - 1); /* short significand */
    case 1: return m & ~((1ull << rndn(f->fb + 1)) - 1); /* (twice as likely) */
    case 2: return m | ((1ull << rndn(f->fb + 1)) - 1);  /* trailing ones */
    case 3: return 1ull << rndn(f->fb);
    case 4: return mask ^ (1ull << rndn(f->fb));
    default: return m;
    }
}

static int rand_exp(const fmt_t *f)
{
    int bias = f->emax >> 1;
    switch (rndn(6)) {
    case 0: return (int)rndn(f->emax + 1);
    case 1: return (int)rndn(4);
    case 2: return f->emax - 1 - (int)rndn(4);
    case 3: return bias - 30 + (int)rndn(61);
    case 4: return (int)rndn(f->fb + 3);
    default: return 1 + (int)rndn(f->emax - 1);
    }
}

static uint64_t gen(const fmt_t *f)
{
    switch (rndn(12)) {
    case 0: return special(f);
    case 1: return rnd() & (f->w == 32 ? 0xffffffffull : ~0ull);
    default: return mk(f, rndn(2), rand_exp(f), rand_frac(f));
    }
}

/* A value with exponent near e (clamped to finite), random significand. */
static uint64_t near_exp(const fmt_t *f, int e)
{
    if (e < 0)
        e = 0;
    if (e > f->emax - 1)
        e = f->emax - 1;
    return mk(f, rndn(2), e, rand_frac(f));
}

/* ------------------------------------------------------- the operations */

enum { ADD, SUB, MUL, DIV, SQRT, FMADD, FMSUB, FNMSUB, FNMADD };
static const char *const op32[] = {"f32_add", "f32_sub", "f32_mul", "f32_div", "f32_sqrt",
                                   "f32_fmadd", "f32_fmsub", "f32_fnmsub", "f32_fnmadd"};
static const char *const op64[] = {"f64_add", "f64_sub", "f64_mul", "f64_div", "f64_sqrt",
                                   "f64_fmadd", "f64_fmsub", "f64_fnmsub", "f64_fnmadd"};

static int nin_of(int op) { return op == SQRT ? 1 : op >= FMADD ? 3 : 2; }

static uint64_t sf_op(int w, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    bool np = op == FNMSUB || op == FNMADD, nc = op == FMSUB || op == FNMADD;
    if (w == 32) {
        uint32_t x = (uint32_t)a, y = (uint32_t)b, z = (uint32_t)c;
        switch (op) {
        case ADD: return f32_add(x, y, rm, fl);
        case SUB: return f32_sub(x, y, rm, fl);
        case MUL: return f32_mul(x, y, rm, fl);
        case DIV: return f32_div(x, y, rm, fl);
        case SQRT: return f32_sqrt(x, rm, fl);
        default: return f32_fma(x, y, z, np, nc, rm, fl);
        }
    }
    switch (op) {
    case ADD: return f64_add(a, b, rm, fl);
    case SUB: return f64_sub(a, b, rm, fl);
    case MUL: return f64_mul(a, b, rm, fl);
    case DIV: return f64_div(a, b, rm, fl);
    case SQRT: return f64_sqrt(a, rm, fl);
    default: return f64_fma(a, b, c, np, nc, rm, fl);
    }
}

/*
 * The host's result and flags in host rounding mode hrm. One deliberate
 * adjustment: x86 FMA does not flag inf * 0 + qNaN as invalid; RISC-V does.
 */
static uint64_t host_op(int w, int op, uint64_t a, uint64_t b, uint64_t c, int hrm, uint32_t *fl)
{
    uint64_t res;
    bool infzero;
    fesetround(hrm);
    feclearexcept(FE_ALL_EXCEPT);
    if (w == 32) {
        float x = b2f(a), y = b2f(b), z = b2f(c), r;
        OPAQUE(x);
        OPAQUE(y);
        OPAQUE(z);
        switch (op) {
        case ADD: r = x + y; break;
        case SUB: r = x - y; break;
        case MUL: r = x * y; break;
        case DIV: r = x / y; break;
        case SQRT: r = sqrtf(x); break;
        case FMADD: r = fmaf(x, y, z); break;
        case FMSUB: r = fmaf(x, y, -z); break;
        case FNMSUB: r = fmaf(-x, y, z); break;
        default: r = fmaf(-x, y, -z); break;
        }
        OPAQUE(r);
        *fl = host_flags();
        res = f2b(r);
        infzero = (isinf(x) && y == 0) || (x == 0 && isinf(y));
    } else {
        double x = b2d(a), y = b2d(b), z = b2d(c), r;
        OPAQUE(x);
        OPAQUE(y);
        OPAQUE(z);
        switch (op) {
        case ADD: r = x + y; break;
        case SUB: r = x - y; break;
        case MUL: r = x * y; break;
        case DIV: r = x / y; break;
        case SQRT: r = sqrt(x); break;
        case FMADD: r = fma(x, y, z); break;
        case FMSUB: r = fma(x, y, -z); break;
        case FNMSUB: r = fma(-x, y, z); break;
        default: r = fma(-x, y, -z); break;
        }
        OPAQUE(r);
        *fl = host_flags();
        res = d2b(r);
        infzero = (isinf(x) && y == 0) || (x == 0 && isinf(y));
    }
    fesetround(FE_TONEAREST);
    if (op >= FMADD && infzero)
        *fl |= FF_NV;
    return res;
}

/* ------------------------------------------------------------ exact ties */

static int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/* Is S * 2^E exactly halfway between two neighbours of a format with p bits
 * of precision and minimum exponent emin (exponent range unbounded above)? */
static bool tie_at(u128 s, int e, int p, int emin)
{
    if (!s)
        return false;
    int msb = 127 - clz128(s) + e;
    int lsb = (msb > emin ? msb : emin) - (p - 1);
    int k = lsb - e; /* bits of s below the format's last place */
    if (k <= 0 || k > 128)
        return false;
    u128 low = k == 128 ? s : s & (((u128)1 << k) - 1);
    return low == (u128)1 << (k - 1);
}

/*
 * Computes op exactly in the wider host format; returns whether that worked
 * and the exact result is a tie of the narrow format, and its sign. A tie
 * needs only p + 1 bits, so if the wide result is inexact there is no tie.
 */
static bool exact_tie(int w, int op, uint64_t a, uint64_t b, uint64_t c, bool *neg)
{
    if (op == SQRT)
        return false; /* a square root is never exactly halfway */
    bool np = op == FNMSUB || op == FNMADD, nc = op == FMSUB || op == FNMADD;
    bool inexact;
    if (w == 32) {
        double x = b2f(a), y = b2f(b), z = b2f(c), v;
        feclearexcept(FE_ALL_EXCEPT);
        OPAQUE(x);
        OPAQUE(y);
        OPAQUE(z);
        switch (op) {
        case ADD: v = x + y; break;
        case SUB: v = x - y; break;
        case MUL: v = x * y; break;
        case DIV: v = x / y; break;
        default: {
            double p = x * y; /* 48 bits: exact */
            OPAQUE(p);
            v = (np ? -p : p) + (nc ? -z : z);
        }
        }
        OPAQUE(v);
        inexact = fetestexcept(FE_INEXACT);
        if (inexact || !isfinite(v))
            return false;
        uint64_t u;
        memcpy(&u, &v, 8);
        *neg = u >> 63;
        int ex = (int)(u >> 52) & 0x7ff;
        uint64_t m = u & ((1ull << 52) - 1);
        if (ex)
            m |= 1ull << 52;
        else
            ex = 1;
        return tie_at(m, ex - 1075, 24, -126);
    }
    __float128 x = b2d(a), y = b2d(b), z = b2d(c), v;
    feclearexcept(FE_ALL_EXCEPT);
    OPAQUE(x);
    OPAQUE(y);
    OPAQUE(z);
    switch (op) {
    case ADD: v = x + y; break;
    case SUB: v = x - y; break;
    case MUL: v = x * y; break;
    case DIV: v = x / y; break;
    default: {
        __float128 p = x * y; /* 106 bits: exact */
        OPAQUE(p);
        v = (np ? -p : p) + (nc ? -z : z);
    }
    }
    OPAQUE(v);
    inexact = fetestexcept(FE_INEXACT);
    u128 u;
    memcpy(&u, &v, 16);
    int ex = (int)(u >> 112) & 0x7fff;
    if (inexact || ex == 0x7fff)
        return false;
    *neg = (bool)(u >> 127);
    u128 m = u & (((u128)1 << 112) - 1);
    if (ex)
        m |= (u128)1 << 112;
    else
        ex = 1;
    return tie_at(m, ex - 16383 - 112, 53, -1022);
}

/* ------------------------------------------------------ arithmetic checks */

static void check_op(int w, int op, uint64_t a, uint64_t b, uint64_t c)
{
    const char *name = (w == 32 ? op32 : op64)[op];
    uint64_t in[3] = {a, b, c};
    for (int rm = 0; rm < 4; rm++) {
        uint32_t wf, gf = 0;
        uint64_t want = host_op(w, op, a, b, c, host_rm[rm], &wf);
        uint64_t got = sf_op(w, op, a, b, c, rm, &gf);
        check(name, rm, nin_of(op), in, want, wf, got, gf);
    }
}

static void check_rmm(int w, int op, uint64_t a, uint64_t b, uint64_t c)
{
    bool neg = false;
    bool tie = exact_tie(w, op, a, b, c, &neg);
    n_ties += tie;
    uint32_t wf, gf = 0;
    uint64_t want = host_op(w, op, a, b, c, tie ? (neg ? FE_DOWNWARD : FE_UPWARD) : FE_TONEAREST, &wf);
    uint64_t got = sf_op(w, op, a, b, c, RM_RMM, &gf);
    uint64_t in[3] = {a, b, c};
    check((w == 32 ? op32 : op64)[op], RM_RMM, nin_of(op), in, want, wf, got, gf);
}

/* Operand pairs that reach the interesting paths of op. */
static void gen_pair(const fmt_t *f, int op, uint64_t *a, uint64_t *b)
{
    int bias = f->emax >> 1;
    *a = gen(f);
    int ea = exp_of(f, *a);
    switch (rndn(8)) {
    case 0: /* nearby exponent: alignment, cancellation, carries */
        *b = near_exp(f, ea + (int)rndn(2 * f->fb + 8) - f->fb - 4);
        break;
    case 1: /* within a few ulps of +-a: massive cancellation */
        *b = fit(f, (*a + rndn(9) - 4) ^ ((uint64_t)rndn(2) << (f->w - 1)));
        break;
    case 2: { /* results near the overflow and underflow thresholds */
        int t = rndn(2) ? f->emax - 3 + (int)rndn(5) : -f->fb - 3 + (int)rndn(f->fb + 7);
        *b = near_exp(f, op == DIV ? ea + bias - t : t - ea + bias);
        break;
    }
    case 3: { /* exact ties: half an ulp of a, or short significands */
        if (op == ADD || op == SUB)
            *b = mk(f, rndn(2), ea - f->fb - 1 > 0 ? ea - f->fb - 1 : 0,
                    ea - f->fb - 1 > 0 ? 0 : 1ull << (f->fb + ea - 2 > 0 ? f->fb + ea - 2 : 0));
        else if (op == DIV) {
            *a = mk(f, rndn(2), (int)rndn(3), rnd() | 1);
            *b = mk(f, rndn(2), bias + 1 + (int)rndn(3), 0);
        } else {
            int t = 1 + (int)rndn(f->fb - 1);
            *a = mk(f, rndn(2), ea, (rnd() | 1ull << (f->fb - t)) & ~((1ull << (f->fb - t)) - 1));
            int u = f->fb - t - (int)rndn(2);
            *b = mk(f, rndn(2), 1 + (int)rndn(f->emax - 1),
                    (rnd() | 1ull << (f->fb - u)) & ~((1ull << (f->fb - u)) - 1));
        }
        break;
    }
    case 4: { /* a op b within an ulp or two of 2^emin or of the largest
               * finite number, where tininess and overflow are decided */
        uint64_t bound = rndn(2) ? 1ull << f->fb : mk(f, 0, f->emax - 1, ~0ull);
        uint64_t mag = *a & ~(1ull << (f->w - 1));
        uint32_t fl = 0;
        if (op == MUL)
            *b = sf_op(f->w, DIV, bound, mag, 0, RM_RNE, &fl);
        else if (op == DIV)
            *b = sf_op(f->w, DIV, mag, bound, 0, RM_RNE, &fl);
        else
            *b = bound;
        *b = fit(f, (*b + rndn(5) - 2) ^ ((uint64_t)rndn(2) << (f->w - 1)));
        break;
    }
    default: *b = gen(f); break;
    }
}

static void gen_fma(const fmt_t *f, uint64_t *a, uint64_t *b, uint64_t *c)
{
    gen_pair(f, MUL, a, b);
    uint32_t fl = 0;
    uint64_t p = sf_op(f->w, MUL, *a, *b, 0, RM_RTZ, &fl); /* only to aim c */
    int ep = exp_of(f, p);
    switch (rndn(5)) {
    case 0: /* c near -(a*b): cancellation of the exact product */
        *c = fit(f, (p + rndn(5) - 2) ^ ((uint64_t)rndn(2) << (f->w - 1)));
        break;
    case 1: /* c exponent near the product's */
        *c = near_exp(f, ep + (int)rndn(4 * f->fb + 8) - 2 * f->fb - 4);
        break;
    case 2: /* c half an ulp of the product: ties and near ties */
        *c = fit(f, mk(f, rndn(2), ep - f->fb - 1 > 0 ? ep - f->fb - 1 : 0, 0) + rndn(3));
        break;
    default: *c = gen(f); break;
    }
}

static void run_arith(const fmt_t *f, long n, bool fma_ops, bool rmm)
{
    for (long i = 0; i < n; i++) {
        uint64_t a, b, c = 0;
        int op;
        if (fma_ops) {
            op = FMADD + (int)rndn(4);
            gen_fma(f, &a, &b, &c);
        } else {
            op = (int)rndn(5);
            gen_pair(f, op, &a, &b);
        }
        if (rmm)
            check_rmm(f->w, op, a, b, c);
        else
            check_op(f->w, op, a, b, c);
    }
}

/* ---------------------------------------------------- compares, min/max */

/* min/max from host comparisons; x and y are the operands as host values of
 * their own format (so that issignaling sees the original NaN). */
#define REF_MINMAX(x, y, a, b, max, cnan, fl)                                                  \
    (*(fl) = (issignaling(x) || issignaling(y)) ? FF_NV : 0,                                   \
     isnan(x) && isnan(y)  ? (cnan)                                                            \
     : isnan(x)            ? (b)                                                               \
     : isnan(y)            ? (a)                                                               \
     : isless(x, y)        ? ((max) ? (b) : (a))                                               \
     : isless(y, x)        ? ((max) ? (a) : (b))                                               \
     : /* equal: only +-0 can differ, and -0 is the smaller */                                 \
         ((signbit(x) != 0) != (max) ? (a) : (b)))

#define REF_CLASSIFY(x)                                                                        \
    (issignaling(x)                     ? 1u << 8                                              \
     : isnan(x)                         ? 1u << 9                                              \
     : isinf(x)                         ? (signbit(x) ? 1u << 0 : 1u << 7)                     \
     : fpclassify(x) == FP_ZERO         ? (signbit(x) ? 1u << 3 : 1u << 4)                     \
     : fpclassify(x) == FP_SUBNORMAL    ? (signbit(x) ? 1u << 2 : 1u << 5)                     \
                                        : (signbit(x) ? 1u << 1 : 1u << 6))

/* On x86, == is a quiet compare (ucomis) and < <= are signalling ones (comis):
 * exactly feq versus flt/fle. */
#define HOST_CMP(x, y, expr, res, fl)                                                          \
    do {                                                                                       \
        feclearexcept(FE_ALL_EXCEPT);                                                          \
        OPAQUE(x);                                                                             \
        OPAQUE(y);                                                                             \
        res = (expr);                                                                          \
        fl = host_flags();                                                                     \
    } while (0)

static void run_cmp(const fmt_t *f, long n)
{
    bool w32 = f->w == 32;
    for (long i = 0; i < n; i++) {
        uint64_t a = gen(f), b;
        switch (rndn(4)) {
        case 0: b = a; break;
        case 1: b = a ^ (1ull << (f->w - 1)); break;
        case 2: b = fit(f, a + rndn(3) - 1); break;
        default: b = gen(f); break;
        }
        uint64_t in[2] = {a, b};
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
        bool want[3], got[3];
        uint32_t wf[3], gf[3] = {0, 0, 0};
        uint64_t wmm[2], gmm[2];
        uint32_t wmf[2], gmf[2] = {0, 0};
        uint32_t wc, gc;
        if (w32) {
            float x = b2f(a), y = b2f(b);
            HOST_CMP(x, y, x == y, want[0], wf[0]);
            HOST_CMP(x, y, x < y, want[1], wf[1]);
            HOST_CMP(x, y, x <= y, want[2], wf[2]);
            for (int mx = 0; mx < 2; mx++)
                wmm[mx] = REF_MINMAX(x, y, a, b, mx, F32_CANONICAL_NAN, &wmf[mx]);
            wc = REF_CLASSIFY(x);
            got[0] = f32_eq(a32, b32, &gf[0]);
            got[1] = f32_lt(a32, b32, &gf[1]);
            got[2] = f32_le(a32, b32, &gf[2]);
            gmm[0] = f32_min(a32, b32, &gmf[0]);
            gmm[1] = f32_max(a32, b32, &gmf[1]);
            gc = f32_classify(a32);
        } else {
            double x = b2d(a), y = b2d(b);
            HOST_CMP(x, y, x == y, want[0], wf[0]);
            HOST_CMP(x, y, x < y, want[1], wf[1]);
            HOST_CMP(x, y, x <= y, want[2], wf[2]);
            for (int mx = 0; mx < 2; mx++)
                wmm[mx] = REF_MINMAX(x, y, a, b, mx, F64_CANONICAL_NAN, &wmf[mx]);
            wc = REF_CLASSIFY(x);
            got[0] = f64_eq(a, b, &gf[0]);
            got[1] = f64_lt(a, b, &gf[1]);
            got[2] = f64_le(a, b, &gf[2]);
            gmm[0] = f64_min(a, b, &gmf[0]);
            gmm[1] = f64_max(a, b, &gmf[1]);
            gc = f64_classify(a);
        }
        static const char *const cmp_name[2][3] = {{"f64_eq", "f64_lt", "f64_le"},
                                                   {"f32_eq", "f32_lt", "f32_le"}};
        static const char *const mm_name[2][2] = {{"f64_min", "f64_max"}, {"f32_min", "f32_max"}};
        for (int k = 0; k < 3; k++)
            check(cmp_name[w32][k], -1, 2, in, want[k], wf[k], got[k], gf[k]);
        for (int k = 0; k < 2; k++)
            check(mm_name[w32][k], -1, 2, in, wmm[k], wmf[k], gmm[k], gmf[k]);
        check(w32 ? "f32_classify" : "f64_classify", -1, 1, in, wc, 0, gc, 0);
    }
}

/* ------------------------------------------------------------ conversions */

/*
 * Float -> integer reference: round to an integral value with the host's
 * exact rounding functions (round() is ties-away, i.e. RMM), then apply the
 * RISC-V rules: in range -> the value, NX if it moved; NaN -> largest
 * positive; otherwise NV and the bound on the value's side.
 */
static uint64_t ref_to_int(double x, int rm, bool is_signed, int bits, uint32_t *fl)
{
    double lo = is_signed ? -ldexp(1, bits - 1) : 0;
    double hi = is_signed ? ldexp(1, bits - 1) : ldexp(1, bits); /* exclusive */
    uint64_t umax = ~0ull >> (64 - bits), smax = umax >> 1;
    uint64_t r;
    *fl = 0;
    if (isnan(x)) {
        *fl = FF_NV;
        r = is_signed ? smax : umax;
    } else {
        double v;
        switch (rm) {
        case RM_RNE: v = nearbyint(x); break; /* default mode: RNE */
        case RM_RTZ: v = trunc(x); break;
        case RM_RDN: v = floor(x); break;
        case RM_RUP: v = ceil(x); break;
        default: v = round(x); break;
        }
        if (v >= lo && v < hi) {
            r = v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v;
            *fl = v != x ? FF_NX : 0;
        } else {
            *fl = FF_NV;
            r = v < 0 ? (is_signed ? ~smax : 0) : (is_signed ? smax : umax);
        }
    }
    return bits == 32 ? (uint64_t)(int64_t)(int32_t)(uint32_t)r : r;
}

/* Values at and around integer boundaries: k + {0, +-ulps, 1/2, 1/2 +- ulp}. */
static double near_int(void)
{
    static const double base[] = {0, 1, 2, 3, 0x1p31, 0x1p32, 0x1p52, 0x1p53, 0x1p63, 0x1p64,
                                  0x1p31 - 1, 0x1p32 - 1, 0x1p24, 0x1p23};
    double k = base[rndn(sizeof base / sizeof base[0])];
    if (rndn(3) == 0)
        k = ldexp((double)(rnd() >> 11), (int)rndn(20) - 10);
    double v = rndn(3) == 0 ? k + 0.5 : k;
    int64_t steps = (int64_t)rndn(7) - 3;
    uint64_t u;
    memcpy(&u, &v, 8);
    if (v != 0)
        u += (uint64_t)steps;
    memcpy(&v, &u, 8);
    return rndn(2) ? -v : v;
}

static uint64_t conv_input(const fmt_t *f)
{
    if (rndn(2))
        return gen(f);
    double v = near_int();
    if (f->w == 64)
        return d2b(v);
    float g = (float)v; /* RNE (default mode): still near the boundary */
    uint32_t u;
    memcpy(&u, &g, 4);
    return u + (uint32_t)((int)rndn(5) - 2) * (g != 0);
}

static uint64_t rand_int(void)
{
    uint64_t x = rnd() >> rndn(64);
    switch (rndn(4)) {
    case 0: x &= ~((1ull << rndn(64)) - 1); break; /* short: exact or ties */
    case 1: x = (1ull << rndn(64)) + rndn(5) - 2; break;
    default: break;
    }
    return x;
}

static void run_cvt(long n)
{
    static const char *const to_name[] = {"f32_to_i32", "f32_to_u32", "f32_to_i64",
                                          "f32_to_u64", "f64_to_i32", "f64_to_u32",
                                          "f64_to_i64", "f64_to_u64"};
    for (long i = 0; i < n; i++) {
        /* float -> integer, all five modes */
        for (int src = 0; src < 2; src++) {
            const fmt_t *f = src ? &FMT64 : &FMT32;
            uint64_t a = conv_input(f);
            double x = src ? b2d(a) : b2f(a);
            for (int k = 0; k < 4; k++) {
                bool sg = !(k & 1);
                int bits = k < 2 ? 32 : 64;
                for (int rm = 0; rm < 5; rm++) {
                    uint32_t wf, gf = 0;
                    uint64_t want = ref_to_int(x, rm, sg, bits, &wf), got;
                    uint32_t a32 = (uint32_t)a;
                    switch (src * 4 + k) {
                    case 0: got = f32_to_i32(a32, rm, &gf); break;
                    case 1: got = f32_to_u32(a32, rm, &gf); break;
                    case 2: got = f32_to_i64(a32, rm, &gf); break;
                    case 3: got = f32_to_u64(a32, rm, &gf); break;
                    case 4: got = f64_to_i32(a, rm, &gf); break;
                    case 5: got = f64_to_u32(a, rm, &gf); break;
                    case 6: got = f64_to_i64(a, rm, &gf); break;
                    default: got = f64_to_u64(a, rm, &gf); break;
                    }
                    check(to_name[src * 4 + k], rm, 1, &a, want, wf, got, gf);
                }
            }
        }

        /* integer -> float: host conversions, RMM from exact ties */
        uint64_t v = rand_int();
        if (rndn(2))
            v = (uint64_t)(-(int64_t)v);
        for (int k = 0; k < 8; k++) {
            bool to64 = k >= 4, sg = !(k & 1), wide = k & 2;
            uint64_t in = wide ? v : (uint64_t)(uint32_t)v;
            /* the exact value as sign and magnitude */
            bool neg = sg && (wide ? (int64_t)in < 0 : (int32_t)in < 0);
            uint64_t mag = !neg ? in : wide ? 0 - in : (uint64_t)(0 - (uint32_t)in);
            bool tie = tie_at(mag, 0, to64 ? 53 : 24, to64 ? -1022 : -126);
            n_ties += tie;
            static const char *const from_name[] = {"i32_to_f32", "u32_to_f32", "i64_to_f32",
                                                    "u64_to_f32", "i32_to_f64", "u32_to_f64",
                                                    "i64_to_f64", "u64_to_f64"};
            for (int rm = 0; rm < 5; rm++) {
                int hrm = rm < 4 ? host_rm[rm] : tie ? (neg ? FE_DOWNWARD : FE_UPWARD) : FE_TONEAREST;
                uint64_t want;
                uint32_t wf, gf = 0;
                uint64_t got = 0;
                fesetround(hrm);
                feclearexcept(FE_ALL_EXCEPT);
                uint64_t in_o = in;
                __asm__ volatile("" : "+r"(in_o)::"memory");
                if (!to64) {
                    float r;
                    switch (k) {
                    case 0: r = (float)(int32_t)in_o; break;
                    case 1: r = (float)(uint32_t)in_o; break;
                    case 2: r = (float)(int64_t)in_o; break;
                    default: r = (float)in_o; break;
                    }
                    OPAQUE(r);
                    wf = host_flags();
                    want = f2b(r);
                } else {
                    double r;
                    switch (k) {
                    case 4: r = (double)(int32_t)in_o; break;
                    case 5: r = (double)(uint32_t)in_o; break;
                    case 6: r = (double)(int64_t)in_o; break;
                    default: r = (double)in_o; break;
                    }
                    OPAQUE(r);
                    wf = host_flags();
                    want = d2b(r);
                }
                fesetround(FE_TONEAREST);
                switch (k) {
                case 0: got = i32_to_f32((int32_t)in, rm, &gf); break;
                case 1: got = u32_to_f32((uint32_t)in, rm, &gf); break;
                case 2: got = i64_to_f32((int64_t)in, rm, &gf); break;
                case 3: got = u64_to_f32(in, rm, &gf); break;
                case 4: got = i32_to_f64((int32_t)in, rm, &gf); break;
                case 5: got = u32_to_f64((uint32_t)in, rm, &gf); break;
                case 6: got = i64_to_f64((int64_t)in, rm, &gf); break;
                default: got = u64_to_f64(in, rm, &gf); break;
                }
                check(from_name[k], rm, 1, &in, want, wf, got, gf);
            }
        }

        /* binary32 <-> binary64 */
        uint64_t d = rndn(3) ? gen(&FMT64) : d2b(ldexp((double)(rnd() >> 11), -(int)rndn(200)));
        if (rndn(4) == 0) /* f32 ties: exactly bit 28 below the kept 23 bits */
            d = (d & ~((1ull << 29) - 1)) | (1ull << 28);
        bool dneg = d >> 63;
        int de = (int)(d >> 52) & 0x7ff;
        uint64_t dm = d & ((1ull << 52) - 1);
        bool dtie = de != 0x7ff && tie_at(de ? dm | 1ull << 52 : dm, (de ? de : 1) - 1075, 24, -126);
        n_ties += dtie;
        for (int rm = 0; rm < 5; rm++) {
            int hrm = rm < 4 ? host_rm[rm] : dtie ? (dneg ? FE_DOWNWARD : FE_UPWARD) : FE_TONEAREST;
            double xd = b2d(d);
            fesetround(hrm);
            feclearexcept(FE_ALL_EXCEPT);
            OPAQUE(xd);
            float r = (float)xd;
            OPAQUE(r);
            uint32_t wf = host_flags(), gf = 0;
            fesetround(FE_TONEAREST);
            uint64_t got = f64_to_f32(d, rm, &gf);
            check("f64_to_f32", rm, 1, &d, f2b(r), wf, got, gf);
        }
        uint64_t s = gen(&FMT32);
        float xs = b2f(s);
        feclearexcept(FE_ALL_EXCEPT);
        OPAQUE(xs);
        double rd = xs;
        OPAQUE(rd);
        uint32_t wf = host_flags(), gf = 0;
        uint64_t got = f32_to_f64((uint32_t)s, &gf);
        check("f32_to_f64", -1, 1, &s, d2b(rd), wf, got, gf);
    }
}

/* ------------------------------------------------------- hand tables */

/* Computed by hand from the RISC-V F/D chapters and IEEE 754. */
struct entry {
    const char *fn;
    int rm;
    uint64_t a, b, c, want;
    uint32_t fl;
};

#define NV FF_NV
#define NX FF_NX
#define OF FF_OF
#define UF FF_UF
#define DZ FF_DZ
#define RNE RM_RNE
#define RTZ RM_RTZ
#define RDN RM_RDN
#define RUP RM_RUP
#define RMM RM_RMM

/* binary64 */
#define D_ONE 0x3ff0000000000000ull
#define D_MONE 0xbff0000000000000ull
#define D_HALF 0x3fe0000000000000ull
#define D_MHALF 0xbfe0000000000000ull
#define D_2_5 0x4004000000000000ull
#define D_M2_5 0xc004000000000000ull
#define D_0_3 0x3fd3333333333333ull
#define D_M0_3 0xbfd3333333333333ull
#define D_M0_7 0xbfe6666666666666ull
#define D_INF 0x7ff0000000000000ull
#define D_MINF 0xfff0000000000000ull
#define D_QNAN 0x7ff8000000000000ull
#define D_MQNAN 0xfff8000000000000ull
#define D_SNAN 0x7ff0000000000001ull
#define D_MZERO 0x8000000000000000ull
#define D_MAX 0x7fefffffffffffffull
#define D_MMAX 0xffefffffffffffffull
#define D_2P31 0x41e0000000000000ull
#define D_M2P31 0xc1e0000000000000ull
#define D_2P32 0x41f0000000000000ull
#define D_2P63 0x43e0000000000000ull
#define D_M2P63 0xc3e0000000000000ull
#define D_2P64 0x43f0000000000000ull
#define D_CN F64_CANONICAL_NAN

/* binary32 */
#define S_ONE 0x3f800000ull
#define S_MONE 0xbf800000ull
#define S_M2_5 0xc0200000ull
#define S_INF 0x7f800000ull
#define S_MINF 0xff800000ull
#define S_QNAN 0x7fc00000ull
#define S_SNAN 0x7f800001ull
#define S_MZERO 0x80000000ull
#define S_2P31 0x4f000000ull
#define S_M2P31 0xcf000000ull
#define S_2P32 0x4f800000ull
#define S_2P63 0x5f000000ull
#define S_M2P63 0xdf000000ull
#define S_2P64 0x5f800000ull
#define S_CN F32_CANONICAL_NAN

#define SX32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))

static const struct entry table[] = {
    /* float -> int32: rounding, ties, saturation, NaN, sign-extension */
    {"f64_to_i32", RNE, D_ONE, 0, 0, 1, 0},
    {"f64_to_i32", RNE, D_MONE, 0, 0, ~0ull, 0},
    {"f64_to_i32", RNE, D_HALF, 0, 0, 0, NX},
    {"f64_to_i32", RMM, D_HALF, 0, 0, 1, NX},
    {"f64_to_i32", RNE, 0x3ff8000000000000ull, 0, 0, 2, NX}, /* 1.5 */
    {"f64_to_i32", RNE, D_2_5, 0, 0, 2, NX},
    {"f64_to_i32", RMM, D_2_5, 0, 0, 3, NX},
    {"f64_to_i32", RTZ, D_2_5, 0, 0, 2, NX},
    {"f64_to_i32", RUP, D_2_5, 0, 0, 3, NX},
    {"f64_to_i32", RDN, D_2_5, 0, 0, 2, NX},
    {"f64_to_i32", RNE, D_M2_5, 0, 0, SX32(-2), NX},
    {"f64_to_i32", RMM, D_M2_5, 0, 0, SX32(-3), NX},
    {"f64_to_i32", RDN, D_M2_5, 0, 0, SX32(-3), NX},
    {"f64_to_i32", RUP, D_M2_5, 0, 0, SX32(-2), NX},
    {"f64_to_i32", RTZ, D_M2_5, 0, 0, SX32(-2), NX},
    {"f64_to_i32", RMM, D_MHALF, 0, 0, SX32(-1), NX},
    {"f64_to_i32", RNE, D_MHALF, 0, 0, 0, NX},
    {"f64_to_i32", RUP, D_0_3, 0, 0, 1, NX},
    {"f64_to_i32", RDN, D_M0_3, 0, 0, SX32(-1), NX},
    {"f64_to_i32", RNE, 0x41dfffffffc00000ull, 0, 0, 0x7fffffff, 0}, /* 2^31-1 */
    {"f64_to_i32", RNE, 0x41dfffffffe00000ull, 0, 0, 0x7fffffff, NV}, /* 2^31-0.5 -> 2^31 */
    {"f64_to_i32", RTZ, 0x41dfffffffe00000ull, 0, 0, 0x7fffffff, NX},
    {"f64_to_i32", RMM, 0x41dfffffffe00000ull, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_2P31, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_M2P31, 0, 0, 0xffffffff80000000ull, 0},
    {"f64_to_i32", RNE, 0xc1e0000000200000ull, 0, 0, 0xffffffff80000000ull, NV}, /* -2^31-1 */
    {"f64_to_i32", RTZ, 0xc1e0000000100000ull, 0, 0, 0xffffffff80000000ull, NX}, /* -2^31-.5 */
    {"f64_to_i32", RNE, 0xc1e0000000100000ull, 0, 0, 0xffffffff80000000ull, NX},
    {"f64_to_i32", RMM, 0xc1e0000000100000ull, 0, 0, 0xffffffff80000000ull, NV},
    {"f64_to_i32", RDN, 0xc1e0000000100000ull, 0, 0, 0xffffffff80000000ull, NV},
    {"f64_to_i32", RNE, D_INF, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_MINF, 0, 0, 0xffffffff80000000ull, NV},
    {"f64_to_i32", RNE, D_QNAN, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_MQNAN, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_SNAN, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", RNE, D_MZERO, 0, 0, 0, 0},
    {"f64_to_i32", RUP, 1, 0, 0, 1, NX},
    {"f64_to_i32", RNE, 1, 0, 0, 0, NX},
    {"f64_to_i32", RDN, 0x8000000000000001ull, 0, 0, SX32(-1), NX},
    /* float -> uint32: negative inputs, results >= 2^31 sign-extended */
    {"f64_to_u32", RNE, D_ONE, 0, 0, 1, 0},
    {"f64_to_u32", RNE, D_MONE, 0, 0, 0, NV},
    {"f64_to_u32", RTZ, D_M0_3, 0, 0, 0, NX},
    {"f64_to_u32", RNE, D_M0_3, 0, 0, 0, NX},
    {"f64_to_u32", RUP, D_M0_3, 0, 0, 0, NX},
    {"f64_to_u32", RMM, D_M0_3, 0, 0, 0, NX},
    {"f64_to_u32", RDN, D_M0_3, 0, 0, 0, NV},
    {"f64_to_u32", RNE, D_MHALF, 0, 0, 0, NX},
    {"f64_to_u32", RMM, D_MHALF, 0, 0, 0, NV},
    {"f64_to_u32", RNE, D_M0_7, 0, 0, 0, NV},
    {"f64_to_u32", RNE, D_2P31, 0, 0, 0xffffffff80000000ull, 0},
    {"f64_to_u32", RNE, 0x41efffffffe00000ull, 0, 0, ~0ull, 0}, /* 2^32-1 */
    {"f64_to_u32", RNE, D_2P32, 0, 0, ~0ull, NV},
    {"f64_to_u32", RNE, 0x41effffffff00000ull, 0, 0, ~0ull, NV}, /* 2^32-.5 -> 2^32 */
    {"f64_to_u32", RTZ, 0x41effffffff00000ull, 0, 0, ~0ull, NX},
    {"f64_to_u32", RNE, D_INF, 0, 0, ~0ull, NV},
    {"f64_to_u32", RNE, D_MINF, 0, 0, 0, NV},
    {"f64_to_u32", RNE, D_QNAN, 0, 0, ~0ull, NV},
    {"f64_to_u32", RNE, D_MZERO, 0, 0, 0, 0},
    /* 64-bit targets */
    {"f64_to_i64", RNE, D_2P63, 0, 0, 0x7fffffffffffffffull, NV},
    {"f64_to_i64", RNE, D_M2P63, 0, 0, 0x8000000000000000ull, 0},
    {"f64_to_i64", RNE, 0x43dfffffffffffffull, 0, 0, 0x7ffffffffffffc00ull, 0},
    {"f64_to_i64", RMM, D_M2_5, 0, 0, 0xfffffffffffffffdull, NX},
    {"f64_to_i64", RNE, D_QNAN, 0, 0, 0x7fffffffffffffffull, NV},
    {"f64_to_i64", RNE, D_MINF, 0, 0, 0x8000000000000000ull, NV},
    {"f64_to_i64", RNE, 0x7e37e43c8800759cull, 0, 0, 0x7fffffffffffffffull, NV}, /* 1e300 */
    {"f64_to_i64", RNE, 0x4320000000000001ull, 0, 0, 0x0008000000000000ull, NX}, /* 2^51+.5 */
    {"f64_to_i64", RMM, 0x4320000000000001ull, 0, 0, 0x0008000000000001ull, NX},
    {"f64_to_u64", RNE, 0x43efffffffffffffull, 0, 0, 0xfffffffffffff800ull, 0},
    {"f64_to_u64", RNE, D_2P64, 0, 0, ~0ull, NV},
    {"f64_to_u64", RNE, D_2P63, 0, 0, 0x8000000000000000ull, 0},
    {"f64_to_u64", RNE, D_MONE, 0, 0, 0, NV},
    {"f64_to_u64", RTZ, D_M0_3, 0, 0, 0, NX},
    {"f64_to_u64", RNE, D_QNAN, 0, 0, ~0ull, NV},
    {"f64_to_u64", RNE, D_MINF, 0, 0, 0, NV},
    {"f64_to_u64", RNE, D_INF, 0, 0, ~0ull, NV},
    /* binary32 sources */
    {"f32_to_i32", RNE, 0x4effffffull, 0, 0, 0x7fffff80, 0},
    {"f32_to_i32", RNE, S_2P31, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", RNE, S_M2P31, 0, 0, 0xffffffff80000000ull, 0},
    {"f32_to_i32", RMM, S_M2_5, 0, 0, SX32(-3), NX},
    {"f32_to_i32", RNE, S_QNAN, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", RNE, S_SNAN, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", RNE, S_MINF, 0, 0, 0xffffffff80000000ull, NV},
    {"f32_to_u32", RNE, S_2P31, 0, 0, 0xffffffff80000000ull, 0},
    {"f32_to_u32", RNE, 0x4f7fffffull, 0, 0, 0xffffffffffffff00ull, 0},
    {"f32_to_u32", RNE, S_2P32, 0, 0, ~0ull, NV},
    {"f32_to_u32", RNE, 0xbf333333ull, 0, 0, 0, NV}, /* -0.7 */
    {"f32_to_u32", RUP, 0xbe99999aull, 0, 0, 0, NX}, /* -0.3 */
    {"f32_to_u32", RNE, S_MZERO, 0, 0, 0, 0},
    {"f32_to_u32", RNE, S_QNAN, 0, 0, ~0ull, NV},
    {"f32_to_i64", RNE, S_2P63, 0, 0, 0x7fffffffffffffffull, NV},
    {"f32_to_i64", RNE, S_M2P63, 0, 0, 0x8000000000000000ull, 0},
    {"f32_to_i64", RNE, 0x5effffffull, 0, 0, 0x7fffff8000000000ull, 0},
    {"f32_to_u64", RNE, 0x5f7fffffull, 0, 0, 0xffffff0000000000ull, 0},
    {"f32_to_u64", RNE, S_2P64, 0, 0, ~0ull, NV},
    {"f32_to_u64", RNE, S_MONE, 0, 0, 0, NV},
    {"f32_to_u64", RNE, S_INF, 0, 0, ~0ull, NV},
    /* integer -> float, including RMM ties */
    {"i32_to_f32", RNE, 16777217, 0, 0, 0x4b800000, NX},
    {"i32_to_f32", RMM, 16777217, 0, 0, 0x4b800001, NX},
    {"i32_to_f32", RUP, 16777217, 0, 0, 0x4b800001, NX},
    {"i32_to_f32", RTZ, 16777217, 0, 0, 0x4b800000, NX},
    {"i32_to_f32", RMM, SX32(-16777217), 0, 0, 0xcb800001, NX},
    {"i32_to_f32", RNE, SX32(-16777217), 0, 0, 0xcb800000, NX},
    {"i32_to_f32", RDN, SX32(-16777217), 0, 0, 0xcb800001, NX},
    {"i32_to_f32", RNE, 16777219, 0, 0, 0x4b800002, NX},
    {"i32_to_f32", RMM, 16777219, 0, 0, 0x4b800002, NX},
    {"i32_to_f32", RTZ, 16777219, 0, 0, 0x4b800001, NX},
    {"i32_to_f32", RMM, 16777221, 0, 0, 0x4b800003, NX}, /* 2^24+5: tie, odd above */
    {"i32_to_f32", RNE, 16777221, 0, 0, 0x4b800002, NX},
    {"i32_to_f32", RNE, SX32(0x80000000), 0, 0, 0xcf000000, 0},
    {"i32_to_f32", RNE, 0, 0, 0, 0, 0},
    {"u32_to_f32", RNE, 0xffffffff, 0, 0, 0x4f800000, NX},
    {"u32_to_f32", RTZ, 0xffffffff, 0, 0, 0x4f7fffff, NX},
    {"i64_to_f64", RNE, 9007199254740993ull, 0, 0, 0x4340000000000000ull, NX},
    {"i64_to_f64", RMM, 9007199254740993ull, 0, 0, 0x4340000000000001ull, NX},
    {"i64_to_f64", RNE, 0x8000000000000000ull, 0, 0, 0xc3e0000000000000ull, 0},
    {"u64_to_f64", RNE, ~0ull, 0, 0, 0x43f0000000000000ull, NX},
    {"u64_to_f64", RTZ, ~0ull, 0, 0, 0x43efffffffffffffull, NX},
    {"u64_to_f32", RNE, ~0ull, 0, 0, 0x5f800000, NX},
    {"i64_to_f32", RNE, ~0ull, 0, 0, 0xbf800000, 0},
    {"u32_to_f64", RNE, 0xffffffff, 0, 0, 0x41efffffffe00000ull, 0},
    /* binary64 -> binary32 */
    {"f64_to_f32", RNE, D_SNAN, 0, 0, S_CN, NV},
    {"f64_to_f32", RNE, 0x7ff8000000000123ull, 0, 0, S_CN, 0},
    {"f64_to_f32", RNE, D_MQNAN, 0, 0, S_CN, 0},
    {"f64_to_f32", RNE, 0x7e37e43c8800759cull, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", RTZ, 0x7e37e43c8800759cull, 0, 0, 0x7f7fffff, OF | NX},
    {"f64_to_f32", RDN, 0x7e37e43c8800759cull, 0, 0, 0x7f7fffff, OF | NX},
    {"f64_to_f32", RUP, 0x7e37e43c8800759cull, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", RMM, 0x7e37e43c8800759cull, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", RDN, 0xfe37e43c8800759cull, 0, 0, S_MINF, OF | NX},
    {"f64_to_f32", RUP, 0xfe37e43c8800759cull, 0, 0, 0xff7fffff, OF | NX},
    {"f64_to_f32", RNE, 1, 0, 0, 0, UF | NX},
    {"f64_to_f32", RUP, 1, 0, 0, 1, UF | NX},
    {"f64_to_f32", RNE, 0x3ff0000010000000ull, 0, 0, S_ONE, NX}, /* 1 + 2^-24 */
    {"f64_to_f32", RMM, 0x3ff0000010000000ull, 0, 0, 0x3f800001, NX},
    /* tininess after rounding: 2^-126 - 2^-151 rounds (unbounded) to 2^-126 */
    {"f64_to_f32", RNE, 0x380ffffff0000000ull, 0, 0, 0x00800000, NX},
    {"f64_to_f32", RTZ, 0x380ffffff0000000ull, 0, 0, 0x007fffff, UF | NX},
    /* 2^-126 - 2^-150: exact at 24 bits, so tiny, yet rounds to 2^-126 */
    {"f64_to_f32", RNE, 0x380fffffe0000000ull, 0, 0, 0x00800000, UF | NX},
    {"f64_to_f32", RMM, 0x380fffffe0000000ull, 0, 0, 0x00800000, UF | NX},
    {"f32_to_f64", -1, S_SNAN, 0, 0, D_CN, NV},
    {"f32_to_f64", -1, 1, 0, 0, 0x36a0000000000000ull, 0},
    {"f32_to_f64", -1, S_MZERO, 0, 0, D_MZERO, 0},
    {"f32_to_f64", -1, 0xffc00001ull, 0, 0, D_CN, 0},
    /* signed zeros */
    {"f64_add", RNE, D_ONE, D_MONE, 0, 0, 0},
    {"f64_add", RDN, D_ONE, D_MONE, 0, D_MZERO, 0},
    {"f64_add", RMM, D_ONE, D_MONE, 0, 0, 0},
    {"f64_add", RNE, D_MZERO, D_MZERO, 0, D_MZERO, 0},
    {"f64_add", RNE, 0, D_MZERO, 0, 0, 0},
    {"f64_add", RDN, 0, D_MZERO, 0, D_MZERO, 0},
    {"f64_sub", RDN, 0, 0, 0, D_MZERO, 0},
    {"f64_sub", RUP, 0, 0, 0, 0, 0},
    {"f32_add", RDN, S_ONE, S_MONE, 0, S_MZERO, 0},
    /* NaNs and infinities */
    {"f64_add", RNE, D_INF, D_MINF, 0, D_CN, NV},
    {"f64_sub", RNE, D_INF, D_INF, 0, D_CN, NV},
    {"f64_add", RNE, D_SNAN, D_ONE, 0, D_CN, NV},
    {"f64_add", RNE, D_QNAN, D_ONE, 0, D_CN, 0},
    {"f64_add", RNE, D_MQNAN, D_INF, 0, D_CN, 0},
    {"f32_mul", RNE, S_INF, 0, 0, S_CN, NV},
    {"f64_mul", RNE, D_MZERO, D_INF, 0, D_CN, NV},
    {"f64_div", RNE, D_ONE, 0, 0, D_INF, DZ},
    {"f64_div", RNE, D_MONE, 0, 0, D_MINF, DZ},
    {"f64_div", RNE, D_ONE, D_MZERO, 0, D_MINF, DZ},
    {"f64_div", RNE, 0, 0, 0, D_CN, NV},
    {"f64_div", RNE, D_INF, D_MINF, 0, D_CN, NV},
    {"f64_div", RNE, D_ONE, D_INF, 0, 0, 0},
    {"f64_div", RNE, D_INF, 0, 0, D_INF, 0},
    {"f64_div", RNE, D_QNAN, 0, 0, D_CN, 0},
    {"f64_sqrt", RNE, D_MZERO, 0, 0, D_MZERO, 0},
    {"f64_sqrt", RNE, D_MONE, 0, 0, D_CN, NV},
    {"f64_sqrt", RNE, D_MINF, 0, 0, D_CN, NV},
    {"f64_sqrt", RNE, D_INF, 0, 0, D_INF, 0},
    {"f64_sqrt", RNE, D_SNAN, 0, 0, D_CN, NV},
    {"f64_sqrt", RNE, 0x4010000000000000ull, 0, 0, 0x4000000000000000ull, 0},
    {"f64_sqrt", RNE, 0x4000000000000000ull, 0, 0, 0x3ff6a09e667f3bcdull, NX},
    {"f64_sqrt", RTZ, 0x4000000000000000ull, 0, 0, 0x3ff6a09e667f3bccull, NX},
    {"f64_sqrt", RMM, 0x4000000000000000ull, 0, 0, 0x3ff6a09e667f3bcdull, NX},
    {"f32_sqrt", RNE, 0x40000000, 0, 0, 0x3fb504f3, NX},
    {"f32_sqrt", RUP, 0x40000000, 0, 0, 0x3fb504f4, NX},
    {"f64_sqrt", RNE, 1, 0, 0, 0x1e60000000000000ull, 0}, /* sqrt(2^-1074) = 2^-537 */
    /* overflow per rounding mode */
    {"f64_add", RNE, D_MAX, D_MAX, 0, D_INF, OF | NX},
    {"f64_add", RTZ, D_MAX, D_MAX, 0, D_MAX, OF | NX},
    {"f64_add", RDN, D_MAX, D_MAX, 0, D_MAX, OF | NX},
    {"f64_add", RUP, D_MAX, D_MAX, 0, D_INF, OF | NX},
    {"f64_add", RMM, D_MAX, D_MAX, 0, D_INF, OF | NX},
    {"f64_add", RDN, D_MMAX, D_MMAX, 0, D_MINF, OF | NX},
    {"f64_add", RUP, D_MMAX, D_MMAX, 0, D_MMAX, OF | NX},
    {"f64_add", RTZ, D_MMAX, D_MMAX, 0, D_MMAX, OF | NX},
    /* max + half an ulp: a tie, rounds to even = up, so it overflows */
    {"f64_add", RNE, D_MAX, 0x7c90000000000000ull, 0, D_INF, OF | NX},
    {"f64_add", RMM, D_MAX, 0x7c90000000000000ull, 0, D_INF, OF | NX},
    {"f64_add", RTZ, D_MAX, 0x7c90000000000000ull, 0, D_MAX, NX},
    /* RMM ties */
    {"f64_add", RMM, D_ONE, 0x3ca0000000000000ull, 0, 0x3ff0000000000001ull, NX},
    {"f64_add", RNE, D_ONE, 0x3ca0000000000000ull, 0, D_ONE, NX},
    {"f64_add", RMM, D_MONE, 0xbca0000000000000ull, 0, 0xbff0000000000001ull, NX},
    {"f64_add", RMM, D_ONE, 0x3ca0000000000001ull, 0, 0x3ff0000000000001ull, NX},
    {"f64_add", RMM, D_ONE, 0x3c9fffffffffffffull, 0, D_ONE, NX},
    {"f32_add", RMM, S_ONE, 0x33800000, 0, 0x3f800001, NX}, /* 1 + 2^-24 */
    {"f32_add", RNE, S_ONE, 0x33800000, 0, S_ONE, NX},
    /* underflow: exact tiny results raise nothing; tiny inexact ones UF */
    {"f64_mul", RNE, 0x0010000000000000ull, D_HALF, 0, 0x0008000000000000ull, 0},
    {"f64_mul", RNE, 0x0010000000000000ull, 0x3fefffffffffffffull, 0, 0x0010000000000000ull,
     UF | NX},
    {"f64_mul", RNE, 1, D_HALF, 0, 0, UF | NX},       /* 2^-1075: tie to even 0 */
    {"f64_mul", RMM, 1, D_HALF, 0, 1, UF | NX},       /* away: 2^-1074 */
    {"f64_mul", RUP, 1, D_HALF, 0, 1, UF | NX},
    {"f64_mul", RNE, 3, D_HALF, 0, 2, UF | NX},       /* 1.5 ulp: to even 2 */
    {"f64_mul", RMM, 3, D_HALF, 0, 2, UF | NX},
    {"f64_div", RNE, 3, 0x4000000000000000ull, 0, 2, UF | NX},
    {"f64_div", RMM, 5, 0x4000000000000000ull, 0, 3, UF | NX},
    {"f64_div", RNE, 5, 0x4000000000000000ull, 0, 2, UF | NX},
    /* fused multiply-add */
    {"f64_fmadd", RNE, D_INF, 0, D_QNAN, D_CN, NV},
    {"f64_fmadd", RNE, 0, D_INF, D_QNAN, D_CN, NV},
    {"f32_fmadd", RNE, S_INF, 0, S_QNAN, S_CN, NV},
    {"f64_fmadd", RNE, D_INF, D_ONE, D_MINF, D_CN, NV},
    {"f64_fnmadd", RNE, D_INF, D_ONE, D_INF, D_MINF, 0},
    {"f64_fmsub", RNE, D_INF, D_ONE, D_INF, D_CN, NV},
    {"f64_fmadd", RNE, D_INF, D_ONE, D_QNAN, D_CN, 0},
    {"f64_fmadd", RNE, D_QNAN, 0, D_INF, D_CN, 0},
    {"f64_fmadd", RNE, D_ONE, D_ONE, D_SNAN, D_CN, NV},
    {"f64_fmadd", RNE, D_INF, D_MONE, D_ONE, D_MINF, 0},
    {"f64_fnmadd", RNE, D_INF, D_MONE, D_ONE, D_INF, 0},
    {"f64_fmadd", RNE, D_ONE, D_ONE, D_MONE, 0, 0},
    {"f64_fmadd", RDN, D_ONE, D_ONE, D_MONE, D_MZERO, 0},
    {"f64_fmadd", RNE, 0, D_ONE, D_MZERO, 0, 0},
    {"f64_fmadd", RDN, 0, D_ONE, D_MZERO, D_MZERO, 0},
    {"f64_fmadd", RNE, D_MZERO, D_ONE, D_MZERO, D_MZERO, 0},
    {"f64_fnmadd", RNE, 0, D_ONE, 0, D_MZERO, 0},   /* -(+0) - (+0) */
    {"f64_fnmadd", RUP, 0, D_ONE, 0, D_MZERO, 0},
    {"f64_fnmsub", RNE, 0, D_ONE, 0, 0, 0},         /* -(+0) + (+0) */
    {"f64_fnmsub", RDN, 0, D_ONE, 0, D_MZERO, 0},
    {"f64_fmsub", RNE, 0, D_ONE, 0, 0, 0},          /* +0 - (+0) */
    {"f64_fmsub", RNE, D_MZERO, D_ONE, 0, D_MZERO, 0},
    {"f64_fmadd", RNE, 0, D_ONE, D_ONE, D_ONE, 0},
    {"f64_fmsub", RNE, 0, D_ONE, D_ONE, D_MONE, 0},
    {"f64_fnmadd", RDN, D_ONE, D_ONE, D_MONE, D_MZERO, 0},  /* -1 + 1 */
    {"f64_fnmadd", RNE, D_ONE, D_ONE, D_MONE, 0, 0},
    /* one rounding: (1+2^-22)(1-2^-22) - 1 = -2^-44 exactly (unfused: 0) */
    {"f64_fmadd", RNE, 0x3ff0000040000000ull, 0x3fefffff80000000ull, D_MONE,
     0xbd30000000000000ull, 0},
    {"f32_fmadd", RNE, 0x3f800080, 0x3f7fff00, S_MONE, 0xaf800000, 0}, /* -2^-32 */
    /* product tiny, addend decides; and a tiny exact result */
    {"f64_fmadd", RNE, 1, 1, D_ONE, D_ONE, NX},
    {"f64_fmadd", RUP, 1, 1, D_ONE, 0x3ff0000000000001ull, NX},
    {"f64_fmadd", RDN, 1, 1, D_MONE, D_MONE, NX},
    {"f64_fmadd", RUP, 1, 1, D_MONE, 0xbfefffffffffffffull, NX},
    {"f64_fnmadd", RDN, 1, 1, D_ONE, 0xbff0000000000001ull, NX},
    {"f64_fmadd", RNE, 1, 1, 0, 0, UF | NX},
    {"f64_fmadd", RNE, 1, D_ONE, 1, 2, 0},
    /* min/max (RISC-V 2.2 semantics) */
    {"f64_min", -1, D_MZERO, 0, 0, D_MZERO, 0},
    {"f64_min", -1, 0, D_MZERO, 0, D_MZERO, 0},
    {"f64_max", -1, D_MZERO, 0, 0, 0, 0},
    {"f64_max", -1, 0, D_MZERO, 0, 0, 0},
    {"f64_min", -1, D_QNAN, D_ONE, 0, D_ONE, 0},
    {"f64_min", -1, D_ONE, D_MQNAN, 0, D_ONE, 0},
    {"f64_min", -1, D_SNAN, D_ONE, 0, D_ONE, NV},
    {"f64_max", -1, D_MONE, D_SNAN, 0, D_MONE, NV},
    {"f64_max", -1, D_QNAN, D_MQNAN, 0, D_CN, 0},
    {"f64_max", -1, D_SNAN, D_QNAN, 0, D_CN, NV},
    {"f64_max", -1, D_MINF, D_MAX, 0, D_MAX, 0},
    {"f32_min", -1, S_MZERO, 0, 0, S_MZERO, 0},
    {"f32_max", -1, S_QNAN, S_MINF, 0, S_MINF, 0},
    {"f32_min", -1, 0x7fc00001, 0x7fa00000, 0, S_CN, NV},
    /* compares */
    {"f64_eq", -1, D_QNAN, D_QNAN, 0, 0, 0},
    {"f64_eq", -1, D_SNAN, D_ONE, 0, 0, NV},
    {"f64_eq", -1, 0, D_MZERO, 0, 1, 0},
    {"f64_lt", -1, D_QNAN, D_ONE, 0, 0, NV},
    {"f64_le", -1, D_ONE, D_QNAN, 0, 0, NV},
    {"f64_le", -1, D_MZERO, 0, 0, 1, 0},
    {"f64_lt", -1, D_MZERO, 0, 0, 0, 0},
    {"f64_lt", -1, D_MONE, D_MHALF, 0, 1, 0},
    {"f64_lt", -1, D_MINF, D_INF, 0, 1, 0},
    {"f32_eq", -1, S_QNAN, S_ONE, 0, 0, 0},
    {"f32_le", -1, S_SNAN, S_ONE, 0, 0, NV},
    {"f32_lt", -1, S_MONE, S_ONE, 0, 1, 0},
    /* classify: all ten classes, both formats */
    {"f64_classify", -1, D_MINF, 0, 0, 1 << 0, 0},
    {"f64_classify", -1, D_MONE, 0, 0, 1 << 1, 0},
    {"f64_classify", -1, 0x8000000000000001ull, 0, 0, 1 << 2, 0},
    {"f64_classify", -1, D_MZERO, 0, 0, 1 << 3, 0},
    {"f64_classify", -1, 0, 0, 0, 1 << 4, 0},
    {"f64_classify", -1, 0x000fffffffffffffull, 0, 0, 1 << 5, 0},
    {"f64_classify", -1, D_MAX, 0, 0, 1 << 6, 0},
    {"f64_classify", -1, D_INF, 0, 0, 1 << 7, 0},
    {"f64_classify", -1, D_SNAN, 0, 0, 1 << 8, 0},
    {"f64_classify", -1, D_MQNAN, 0, 0, 1 << 9, 0},
    {"f32_classify", -1, S_MINF, 0, 0, 1 << 0, 0},
    {"f32_classify", -1, S_MONE, 0, 0, 1 << 1, 0},
    {"f32_classify", -1, 0x807fffff, 0, 0, 1 << 2, 0},
    {"f32_classify", -1, S_MZERO, 0, 0, 1 << 3, 0},
    {"f32_classify", -1, 0, 0, 0, 1 << 4, 0},
    {"f32_classify", -1, 1, 0, 0, 1 << 5, 0},
    {"f32_classify", -1, 0x00800000, 0, 0, 1 << 6, 0},
    {"f32_classify", -1, S_INF, 0, 0, 1 << 7, 0},
    {"f32_classify", -1, 0xffbfffff, 0, 0, 1 << 8, 0},
    {"f32_classify", -1, S_QNAN, 0, 0, 1 << 9, 0},
};

static uint64_t call(const char *fn, int rm, uint64_t a, uint64_t b, uint64_t c, uint32_t *fl,
                     int *nin)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    *nin = 1;
#define UN(name, expr)                                                                      \
    if (!strcmp(fn, name))                                                                 \
        return (expr);
#define BIN(name, expr)                                                                     \
    if (!strcmp(fn, name)) {                                                               \
        *nin = 2;                                                                          \
        return (expr);                                                                     \
    }
    for (int op = 0; op <= FNMADD; op++) {
        for (int w = 32; w <= 64; w += 32)
            if (!strcmp(fn, (w == 32 ? op32 : op64)[op])) {
                *nin = nin_of(op);
                return sf_op(w, op, a, b, c, rm, fl);
            }
    }
    UN("f64_to_i32", f64_to_i32(a, rm, fl));
    UN("f64_to_u32", f64_to_u32(a, rm, fl));
    UN("f64_to_i64", f64_to_i64(a, rm, fl));
    UN("f64_to_u64", f64_to_u64(a, rm, fl));
    UN("f32_to_i32", f32_to_i32(x, rm, fl));
    UN("f32_to_u32", f32_to_u32(x, rm, fl));
    UN("f32_to_i64", f32_to_i64(x, rm, fl));
    UN("f32_to_u64", f32_to_u64(x, rm, fl));
    UN("i32_to_f32", i32_to_f32((int32_t)x, rm, fl));
    UN("u32_to_f32", u32_to_f32(x, rm, fl));
    UN("i64_to_f32", i64_to_f32((int64_t)a, rm, fl));
    UN("u64_to_f32", u64_to_f32(a, rm, fl));
    UN("i64_to_f64", i64_to_f64((int64_t)a, rm, fl));
    UN("u64_to_f64", u64_to_f64(a, rm, fl));
    UN("u32_to_f64", u32_to_f64(x, rm, fl));
    UN("f64_to_f32", f64_to_f32(a, rm, fl));
    UN("f32_to_f64", f32_to_f64(x, fl));
    BIN("f64_min", f64_min(a, b, fl));
    BIN("f64_max", f64_max(a, b, fl));
    BIN("f32_min", f32_min(x, y, fl));
    BIN("f32_max", f32_max(x, y, fl));
    BIN("f64_eq", f64_eq(a, b, fl));
    BIN("f64_lt", f64_lt(a, b, fl));
    BIN("f64_le", f64_le(a, b, fl));
    BIN("f32_eq", f32_eq(x, y, fl));
    BIN("f32_lt", f32_lt(x, y, fl));
    BIN("f32_le", f32_le(x, y, fl));
    UN("f64_classify", f64_classify(a));
    UN("f32_classify", f32_classify(x));
    printf("table: unknown function %s\n", fn);
    failures++;
    return 0;
}

static void run_table(void)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct entry *t = &table[i];
        uint32_t fl = 0;
        int nin;
        uint64_t got = call(t->fn, t->rm, t->a, t->b, t->c, &fl, &nin);
        uint64_t in[3] = {t->a, t->b, t->c};
        check(t->fn, t->rm, nin, in, t->want, t->fl, got, fl);
    }
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s arith32|arith64|fma32|fma64|cmp|cvt|rmm|table [scale [seed]]\n",
                argv[0]);
        return 2;
    }
    const char *g = argv[1];
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    long n = (long)(200000 * scale);
    for (const char *p = g; *p; p++) /* a distinct stream per group */
        rng_state = rng_state * 31 + (unsigned char)*p;
    if (argc > 3)
        rng_state ^= strtoull(argv[3], NULL, 0) * 0x9e3779b97f4a7c15ull;

    if (!strcmp(g, "arith32"))
        run_arith(&FMT32, 2 * n, false, false);
    else if (!strcmp(g, "arith64"))
        run_arith(&FMT64, 2 * n, false, false);
    else if (!strcmp(g, "fma32"))
        run_arith(&FMT32, n, true, false);
    else if (!strcmp(g, "fma64"))
        run_arith(&FMT64, n, true, false);
    else if (!strcmp(g, "cmp")) {
        run_cmp(&FMT32, n);
        run_cmp(&FMT64, n);
    } else if (!strcmp(g, "cvt"))
        run_cvt(n / 2);
    else if (!strcmp(g, "rmm")) {
        run_arith(&FMT32, n / 2, false, true);
        run_arith(&FMT64, n / 2, false, true);
        run_arith(&FMT32, n / 2, true, true);
        run_arith(&FMT64, n / 2, true, true);
    } else if (!strcmp(g, "table"))
        run_table();
    else {
        fprintf(stderr, "unknown group %s\n", g);
        return 2;
    }
    if (getenv("SF_STATS"))
        fprintf(stderr, "%s: %ld checks; expected NX %ld UF %ld OF %ld DZ %ld NV %ld; ties %ld\n",
                g, n_checks, n_flag[0], n_flag[1], n_flag[2], n_flag[3], n_flag[4], n_ties);
    if (failures) {
        printf("%s: %ld mismatches\n", g, failures);
        return 1;
    }
    return 0;
}
