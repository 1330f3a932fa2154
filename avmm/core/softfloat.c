/*
 * Exact IEEE 754 binary32/binary64 arithmetic with RISC-V semantics.
 *
 * Pure integer arithmetic: the host FPU is never used, so results and flags
 * are bit-identical on every host. See softfloat.h for the interface.
 *
 * Internal convention. Both formats are handled by the same generic routines,
 * specialised at compile time by FB (fraction bits: 23 or 52) and EMAX (the
 * all-ones exponent: 0xff or 0x7ff); binary32 values travel in uint64_t.
 * A finite nonzero intermediate is (sign, exp, sig) with
 *
 *     value = (-1)^sign * sig * 2^(exp - BIAS - 62),   sig < 2^63,
 *
 * so that when bit 62 of sig is set, exp is the biased exponent of the value.
 * The bits of sig below the format's fraction are round bits (10 for binary64,
 * 39 for binary32). Whatever an exact computation shifts out to the right is
 * OR-ed ("jammed") into bit 0: that sticky bit records "there was more" without
 * moving the value across any rounding boundary, so one final rounding of the
 * jammed sig equals the rounding of the exact result.
 */
#include "softfloat.h"

typedef unsigned __int128 u128;
typedef __int128 i128;

#define INLINE static inline __attribute__((always_inline))

/* Format arguments for the generic routines. */
#define F32 23, 0xff
#define F64 52, 0x7ff
#define FMT const int FB, const int EMAX

/* Derived constants; they use the FB/EMAX parameters of the enclosing routine. */
#define BIAS (EMAX >> 1)
#define SB (FB == 23 ? 31 : 63)     /* sign bit */
#define RB (62 - FB)                /* round bits of a sig */
#define HIDDEN ((uint64_t)1 << FB)
#define FRAC ((uint64_t)HIDDEN - 1)
#define INF ((uint64_t)EMAX << FB)
#define QUIET ((uint64_t)1 << (FB - 1))
#define ABS (((uint64_t)1 << SB) - 1)
#define CNAN (INF | QUIET)
#define EXP(x) ((int)((x) >> FB) & EMAX)
#define SIGN(x) ((bool)(((x) >> SB) & 1))

#define BIT63 ((uint64_t)1 << 63)

/* ---------------------------------------------------------------- helpers */

/* x >> n, with every bit shifted out OR-ed into bit 0 (n >= 0). */
INLINE uint64_t shr_jam64(uint64_t x, int n)
{
    if (n == 0)
        return x;
    if (n < 64)
        return (x >> n) | ((x << (64 - n)) != 0);
    return x != 0;
}

INLINE u128 shr_jam128(u128 x, int n)
{
    if (n == 0)
        return x;
    if (n < 128)
        return (x >> n) | ((x << (128 - n)) != 0);
    return x != 0;
}

INLINE int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

INLINE bool is_nan(uint64_t x, FMT) { return (x & ABS) > INF; }
INLINE bool is_snan(uint64_t x, FMT) { return is_nan(x, FB, EMAX) && !(x & QUIET); }

/* Significand with its leading 1 at bit FB, and the exponent, of a finite
 * nonzero x. Subnormals are normalised (their exponent drops below 1) so the
 * arithmetic can always assume a leading 1 at a known place. */
INLINE uint64_t unpack(uint64_t x, int *e, FMT)
{
    int ex = EXP(x);
    uint64_t m = x & FRAC;
    if (ex) {
        *e = ex;
        return m | HIDDEN;
    }
    int s = __builtin_clzll(m) - (63 - FB);
    *e = 1 - s;
    return m << s;
}

/* ------------------------------------------------------- rounding, packing */

/*
 * Round (sign, exp, sig) to the format in mode rm and pack it, raising
 * NX/UF/OF. sig must have bit 62 set unless the value is below 2^emin.
 */
INLINE uint64_t round_pack(bool sign, int exp, uint64_t sig, int rm, uint32_t *flags, FMT)
{
    const uint64_t mask = ((uint64_t)1 << RB) - 1, half = (uint64_t)1 << (RB - 1);
    uint64_t inc;
    switch (rm) {
    case RM_RTZ: inc = 0; break;
    case RM_RDN: inc = sign ? mask : 0; break;
    case RM_RUP: inc = sign ? 0 : mask; break;
    default: inc = half; break; /* RNE, RMM */
    }
    /* One unsigned compare keeps normal results off the slow path. */
    if ((unsigned)(exp - 1) >= (unsigned)(EMAX - 2)) {
        if (exp <= 0) {
            /* Tininess is detected after rounding: the value is tiny unless
             * rounding it to full precision with an unbounded exponent reaches
             * 2^emin, which only a value in [2^emin/2, 2^emin) (exp == 0)
             * whose significand rounds up to 2.0 can do. */
            bool tiny = exp < 0 || sig + inc < BIT63;
            sig = shr_jam64(sig, 1 - exp);
            exp = 1; /* subnormal: exponent field 0, no hidden bit */
            if (tiny && (sig & mask))
                *flags |= FF_UF;
        } else if (exp > EMAX - 1 || sig + inc >= BIT63) {
            /* Overflow: infinity when the mode rounds away from zero here,
             * otherwise the largest finite number (IEEE 754 7.4). */
            *flags |= FF_OF | FF_NX;
            return ((uint64_t)sign << SB) | (inc ? INF : INF - 1);
        }
    }
    uint64_t rbits = sig & mask;
    if (rbits)
        *flags |= FF_NX;
    sig = (sig + inc) >> RB;
    if (rbits == half && inc == half && rm != RM_RMM)
        sig &= ~(uint64_t)1; /* RNE tie: back to even */
    /* Adding (not OR-ing) lets a carry out of the significand, or a subnormal
     * rounding up to the smallest normal, bump the exponent field. */
    return ((uint64_t)sign << SB) + ((uint64_t)(exp - 1) << FB) + sig;
}

/* As round_pack, for any nonzero sig < 2^63 (shifted up to bit 62 first). */
INLINE uint64_t norm_round_pack(bool sign, int exp, uint64_t sig, int rm, uint32_t *flags, FMT)
{
    int s = __builtin_clzll(sig) - 1;
    return round_pack(sign, exp - s, sig << s, rm, flags, FB, EMAX);
}

/* As norm_round_pack for a 128-bit sig (value = sig * 2^(exp - BIAS - 126)). */
INLINE uint64_t norm_round_pack128(bool sign, int exp, u128 sig, int rm, uint32_t *flags, FMT)
{
    int s = clz128(sig) - 1;
    sig <<= s;
    uint64_t sig64 = (uint64_t)(sig >> 64) | ((uint64_t)sig != 0);
    return round_pack(sign, exp - s, sig64, rm, flags, FB, EMAX);
}

/* A NaN result: canonical, with NV if an operand was signalling. */
INLINE uint64_t nan_result(bool snan, uint32_t *flags, FMT)
{
    if (snan)
        *flags |= FF_NV;
    return CNAN;
}

/* --------------------------------------------------------------- add, sub */

INLINE uint64_t g_add(uint64_t a, uint64_t b, int rm, uint32_t *flags, FMT)
{
    int ea = EXP(a), eb = EXP(b);
    bool sa = SIGN(a), sb = SIGN(b);
    if (ea == EMAX || eb == EMAX) {
        if (is_nan(a, FB, EMAX) || is_nan(b, FB, EMAX))
            return nan_result(is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX), flags, FB, EMAX);
        if (ea == eb && sa != sb)
            return nan_result(true, flags, FB, EMAX); /* inf - inf */
        return ea == EMAX ? a : b;
    }
    uint64_t ma = a & FRAC, mb = b & FRAC;
    /* A subnormal is its fraction at exponent 1 without a hidden bit; zeros
     * and subnormals then need no special case in the alignment below. */
    if (ea)
        ma |= HIDDEN;
    else
        ea = 1;
    if (eb)
        mb |= HIDDEN;
    else
        eb = 1;
    ma <<= 61 - FB; /* leading 1 at bit 61: bit 62 takes a carry */
    mb <<= 61 - FB;
    if (ea < eb || (ea == eb && ma < mb)) { /* a is the larger magnitude */
        uint64_t t = ma; ma = mb; mb = t;
        int te = ea; ea = eb; eb = te;
        bool ts = sa; sa = sb; sb = ts;
    }
    /* Jamming the smaller operand is exact enough even for a difference: a
     * shift of 2 or more loses at most one leading bit to cancellation, and a
     * shift of 0 or 1 loses no bit at all. */
    mb = shr_jam64(mb, ea - eb);
    uint64_t sig;
    if (sa == sb) {
        sig = ma + mb;
        if (!sig)
            return (uint64_t)sa << SB;
    } else {
        sig = ma - mb;
        if (!sig) /* exact cancellation: +0, or -0 when rounding down */
            return (uint64_t)(rm == RM_RDN) << SB;
    }
    return norm_round_pack(sa, ea + 1, sig, rm, flags, FB, EMAX);
}

/* -------------------------------------------------------------------- mul */

INLINE uint64_t g_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags, FMT)
{
    int ea = EXP(a), eb = EXP(b);
    bool s = SIGN(a ^ b);
    bool zero = !(a & ABS) || !(b & ABS);
    if (ea == EMAX || eb == EMAX) {
        if (is_nan(a, FB, EMAX) || is_nan(b, FB, EMAX))
            return nan_result(is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX), flags, FB, EMAX);
        if (zero)
            return nan_result(true, flags, FB, EMAX); /* inf * 0 */
        return ((uint64_t)s << SB) | INF;
    }
    if (zero)
        return (uint64_t)s << SB;
    uint64_t ma = unpack(a, &ea, FB, EMAX), mb = unpack(b, &eb, FB, EMAX);
    /* Leading 1s at bits 62 and 63: the product's is at 125 or 126. */
    u128 p = (u128)(ma << (62 - FB)) * (mb << (63 - FB));
    uint64_t sig = (uint64_t)(p >> 64) | ((uint64_t)p != 0);
    int e = ea + eb - BIAS + 1;
    if (!(sig >> 62)) { /* product of significands below 2 */
        sig <<= 1;
        e--;
    }
    return round_pack(s, e, sig, rm, flags, FB, EMAX);
}

/* -------------------------------------------------------------------- div */

INLINE uint64_t g_div(uint64_t a, uint64_t b, int rm, uint32_t *flags, FMT)
{
    int ea = EXP(a), eb = EXP(b);
    bool s = SIGN(a ^ b);
    bool za = !(a & ABS), zb = !(b & ABS);
    if (ea == EMAX || eb == EMAX) {
        if (is_nan(a, FB, EMAX) || is_nan(b, FB, EMAX))
            return nan_result(is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX), flags, FB, EMAX);
        if (ea == eb)
            return nan_result(true, flags, FB, EMAX); /* inf / inf */
        return ((uint64_t)s << SB) | (ea == EMAX ? INF : 0);
    }
    if (zb) {
        if (za)
            return nan_result(true, flags, FB, EMAX); /* 0 / 0 */
        *flags |= FF_DZ;
        return ((uint64_t)s << SB) | INF;
    }
    if (za)
        return (uint64_t)s << SB;
    uint64_t ma = unpack(a, &ea, FB, EMAX), mb = unpack(b, &eb, FB, EMAX);
    if (ma < mb) { /* keep the quotient of significands in [1, 2) */
        ma <<= 1;
        ea--;
    }
    uint64_t sig;
    if (FB == 23) {
        /* 40 quotient bits (24 + guard bits) from a 64-bit division; the
         * remainder decides the sticky bit. */
        uint64_t n = ma << 39;
        uint64_t q = n / mb;
        sig = (q << 23) | (n - q * mb != 0);
    } else {
        u128 n = (u128)ma << 62; /* n >> 64 < mb: one 128/64 division */
        uint64_t q = (uint64_t)(n / mb);
        sig = q | ((uint64_t)n - q * mb != 0);
    }
    return round_pack(s, ea - eb + BIAS, sig, rm, flags, FB, EMAX);
}

/* ------------------------------------------------------------------- sqrt */

/* 2^16 / sqrt(1 + (i + 1/2) / 16): 1/sqrt over [1, 4) to about 6 bits. */
static const uint16_t rsqrt_tab[48] = {
    0xfc17, 0xf4c8, 0xee13, 0xe7e4, 0xe22a, 0xdcd7, 0xd7e1, 0xd33c,
    0xcee1, 0xcac8, 0xc6eb, 0xc345, 0xbfd0, 0xbc89, 0xb96b, 0xb673,
    0xb39f, 0xb0ec, 0xae56, 0xabdd, 0xa97e, 0xa738, 0xa508, 0xa2ee,
    0xa0e8, 0x9ef5, 0x9d13, 0x9b42, 0x9981, 0x97cf, 0x962b, 0x9494,
    0x930a, 0x918c, 0x9019, 0x8eb1, 0x8d53, 0x8c00, 0x8ab5, 0x8974,
    0x883b, 0x870b, 0x85e2, 0x84c1, 0x83a7, 0x8293, 0x8187, 0x8081,
};

/*
 * y ~= 2^32 / sqrt(x / 2^60) for x in [2^60, 2^62), good to about 2^-31: the
 * table, then three Newton steps y' = y (3 - x y^2) / 2 (each about doubles
 * the correct bits) in fixed point, with multiplications only. From the
 * first step on y stays below 1/sqrt(x), so y < 2^32 and y*y fits 64 bits.
 * Only an estimate: the callers correct the root exactly.
 */
INLINE uint64_t rsqrt_q32(uint64_t x)
{
    uint64_t y = (uint64_t)rsqrt_tab[(x - ((uint64_t)1 << 60)) >> 56] << 16;
    for (int i = 0; i < 3; i++) {
        uint64_t y2 = y * y;                             /* y^2, Q64 */
        uint64_t xy2 = (uint64_t)(((u128)x * y2) >> 62); /* x y^2, Q62, ~1 */
        y = (uint64_t)(((u128)y * (((uint64_t)3 << 62) - xy2)) >> 63);
    }
    return y;
}

/* floor(sqrt(x)) and whether it is inexact, for x in [2^60, 2^62). */
INLINE uint64_t isqrt64(uint64_t x, bool *inexact)
{
    uint64_t r = (uint64_t)(((u128)x * rsqrt_q32(x)) >> 62);
    int64_t rem = (int64_t)(x - r * r); /* |x - r^2| is small: fits */
    while (rem < 0) {
        rem += (int64_t)(2 * r - 1);
        r--;
    }
    while (rem > (int64_t)(2 * r)) {
        rem -= (int64_t)(2 * r + 1);
        r++;
    }
    *inexact = rem != 0;
    return r;
}

/* floor(sqrt(x)) and whether it is inexact, for x in [2^124, 2^126). */
INLINE uint64_t isqrt128(u128 x, bool *inexact)
{
    uint64_t hi = (uint64_t)(x >> 64);
    /* ~31-bit estimate, then one Newton step r = (r + x/r) / 2 for ~62 bits;
     * r >= 2^62 > hi keeps the 128/64 division from overflowing. */
    uint64_t r = (uint64_t)(((u128)hi * rsqrt_q32(hi)) >> 30);
    if (r < ((uint64_t)1 << 62))
        r = (uint64_t)1 << 62;
    uint64_t q = (uint64_t)(x / r);
    r = (uint64_t)(((u128)r + q) >> 1);
    i128 rem = (i128)(x - (u128)r * r);
    while (rem < 0) {
        rem += (i128)(2 * (u128)r - 1);
        r--;
    }
    while (rem > (i128)(2 * (u128)r)) {
        rem -= (i128)(2 * (u128)r + 1);
        r++;
    }
    *inexact = rem != 0;
    return r;
}

INLINE uint64_t g_sqrt(uint64_t a, int rm, uint32_t *flags, FMT)
{
    int ea = EXP(a);
    if (is_nan(a, FB, EMAX))
        return nan_result(is_snan(a, FB, EMAX), flags, FB, EMAX);
    if (!(a & ABS))
        return a; /* sqrt(-0) = -0 */
    if (SIGN(a))
        return nan_result(true, flags, FB, EMAX);
    if (ea == EMAX)
        return a;
    uint64_t m = unpack(a, &ea, FB, EMAX);
    int e = ea - BIAS;
    if (e & 1) { /* make the exponent even so it halves exactly */
        m <<= 1;
        e--;
    }
    bool inexact;
    uint64_t sig;
    if (FB == 23) {
        uint64_t r = isqrt64(m << 37, &inexact); /* 31-bit root */
        sig = (r << 32) | inexact;
    } else {
        uint64_t r = isqrt128((u128)m << 72, &inexact); /* 63-bit root */
        sig = r | inexact;
    }
    return round_pack(false, e / 2 + BIAS, sig, rm, flags, FB, EMAX);
}

/* -------------------------------------------------------- fused mul-add */

INLINE uint64_t g_fma(uint64_t a, uint64_t b, uint64_t c, bool neg_prod, bool neg_c, int rm,
                      uint32_t *flags, FMT)
{
    int ea = EXP(a), eb = EXP(b), ec = EXP(c);
    bool sp = SIGN(a ^ b) ^ neg_prod, sc = SIGN(c) ^ neg_c;
    bool za = !(a & ABS), zb = !(b & ABS), zc = !(c & ABS);
    if (ea == EMAX || eb == EMAX || ec == EMAX) {
        bool na = is_nan(a, FB, EMAX), nb = is_nan(b, FB, EMAX), nc = is_nan(c, FB, EMAX);
        if (is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX) || is_snan(c, FB, EMAX))
            *flags |= FF_NV;
        /* inf * 0 is invalid even when c is a quiet NaN: the RISC-V F
         * chapter requires it (as IEEE 754 7.2 allows) and QEMU does it. */
        if ((ea == EMAX && !na && zb) || (eb == EMAX && !nb && za))
            return nan_result(true, flags, FB, EMAX);
        if (na || nb || nc)
            return CNAN;
        if (ea == EMAX || eb == EMAX) { /* product infinite */
            if (ec == EMAX && sc != sp)
                return nan_result(true, flags, FB, EMAX); /* inf - inf */
            return ((uint64_t)sp << SB) | INF;
        }
        return ((uint64_t)sc << SB) | INF;
    }
    if (za || zb) { /* exact zero product */
        if (zc) /* 0 + 0: as for add, opposite signs give +0 (-0 in RDN) */
            return (uint64_t)(sp == sc ? sp : rm == RM_RDN) << SB;
        return c ^ ((uint64_t)neg_c << SB);
    }
    uint64_t ma = unpack(a, &ea, FB, EMAX), mb = unpack(b, &eb, FB, EMAX);
    /* The exact product in 128 bits, leading 1 normalised to bit 125 so that
     * a sum with the addend (also at 125) cannot pass bit 126. */
    u128 p = (u128)(ma << (62 - FB)) * (mb << (62 - FB));
    int ep = ea + eb - BIAS + 2;
    if (!(p >> 125)) {
        p <<= 1;
        ep--;
    }
    if (zc)
        return norm_round_pack128(sp, ep, p, rm, flags, FB, EMAX);
    uint64_t mc = unpack(c, &ec, FB, EMAX);
    u128 q = (u128)mc << (125 - FB);
    ec += 1;
    /* Align to the larger exponent, jamming the smaller operand (as in add:
     * a real shift loses at most one leading bit to cancellation). */
    int e;
    if (ep >= ec) {
        q = shr_jam128(q, ep - ec);
        e = ep;
    } else {
        p = shr_jam128(p, ec - ep);
        e = ec;
    }
    bool sign;
    u128 s;
    if (sp == sc) {
        s = p + q;
        sign = sp;
    } else if (p >= q) {
        s = p - q;
        sign = sp;
        if (!s) /* exact cancellation */
            return (uint64_t)(rm == RM_RDN) << SB;
    } else {
        s = q - p;
        sign = sc;
    }
    return norm_round_pack128(sign, e, s, rm, flags, FB, EMAX);
}

/* --------------------------------------------------- min, max, compares */

/* a < b for non-NaN values, with -0 ordered below +0. */
INLINE bool less_signed_zero(uint64_t a, uint64_t b, FMT)
{
    (void)EMAX;
    bool sa = SIGN(a);
    if (sa != SIGN(b))
        return sa;
    return a != b && ((a < b) ^ sa);
}

INLINE uint64_t g_minmax(uint64_t a, uint64_t b, bool max, uint32_t *flags, FMT)
{
    bool na = is_nan(a, FB, EMAX), nb = is_nan(b, FB, EMAX);
    if (is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX))
        *flags |= FF_NV;
    if (na && nb)
        return CNAN;
    if (na)
        return b;
    if (nb)
        return a;
    return less_signed_zero(a, b, FB, EMAX) ^ max ? a : b;
}

/* a < b (or a <= b) for non-NaN values, +0 == -0. */
INLINE bool less(uint64_t a, uint64_t b, bool or_equal, FMT)
{
    (void)EMAX;
    bool sa = SIGN(a);
    bool zeros = !((a | b) & ABS);
    if (sa != SIGN(b))
        return or_equal ? sa || zeros : sa && !zeros;
    if (a == b)
        return or_equal;
    return (a < b) ^ sa;
}

INLINE bool g_eq(uint64_t a, uint64_t b, uint32_t *flags, FMT)
{
    if (is_nan(a, FB, EMAX) || is_nan(b, FB, EMAX)) {
        if (is_snan(a, FB, EMAX) || is_snan(b, FB, EMAX))
            *flags |= FF_NV;
        return false;
    }
    return a == b || !((a | b) & ABS);
}

INLINE bool g_cmp(uint64_t a, uint64_t b, bool or_equal, uint32_t *flags, FMT)
{
    if (is_nan(a, FB, EMAX) || is_nan(b, FB, EMAX)) {
        *flags |= FF_NV; /* flt/fle are signalling comparisons */
        return false;
    }
    return less(a, b, or_equal, FB, EMAX);
}

INLINE uint32_t g_classify(uint64_t a, FMT)
{
    int e = EXP(a);
    bool s = SIGN(a);
    uint64_t m = a & FRAC;
    if (e == EMAX) {
        if (!m)
            return s ? 1u << 0 : 1u << 7;
        return m & QUIET ? 1u << 9 : 1u << 8;
    }
    if (e == 0) {
        if (!m)
            return s ? 1u << 3 : 1u << 4;
        return s ? 1u << 2 : 1u << 5;
    }
    return s ? 1u << 1 : 1u << 6;
}

/* ------------------------------------------------------ float <-> integer */

/*
 * Float to integer, saturating as RISC-V specifies. bits is 32 or 64; 32-bit
 * results come back sign-extended.
 */
INLINE uint64_t g_to_int(uint64_t a, int rm, uint32_t *flags, bool is_signed, int bits, FMT)
{
    const uint64_t umax = ~(uint64_t)0 >> (64 - bits);
    const uint64_t smax = umax >> 1;
    bool sign = SIGN(a);
    uint64_t mag = 0;
    bool inexact = false, big = false;
    if (is_nan(a, FB, EMAX)) {
        sign = false; /* NaN converts like +inf */
        big = true;
    } else {
        int e = EXP(a);
        uint64_t m = a & FRAC;
        if (e)
            m |= HIDDEN;
        else
            e = 1;
        int sh = e - BIAS - FB; /* |a| = m * 2^sh */
        if (sh >= 0) {
            big = e - BIAS >= 64; /* also catches inf */
            mag = big ? 0 : m << sh;
        } else {
            /* Integer part and the fraction as a 0.64 fixed-point number;
             * beyond 63 places only "nonzero, below 1/2" matters. */
            int k = -sh;
            uint64_t ip = k < 64 ? m >> k : 0;
            uint64_t fr = k < 64 ? m << (64 - k) : m != 0;
            bool up;
            switch (rm) {
            case RM_RTZ: up = false; break;
            case RM_RDN: up = sign && fr; break;
            case RM_RUP: up = !sign && fr; break;
            case RM_RMM: up = fr >= BIT63; break;
            default: up = fr > BIT63 || (fr == BIT63 && (ip & 1)); break;
            }
            inexact = fr != 0;
            mag = ip + up;
        }
    }
    uint64_t r;
    uint64_t lim = sign ? (is_signed ? smax + 1 : 0) : (is_signed ? smax : umax);
    if (big || mag > lim) {
        *flags |= FF_NV; /* instead of NX */
        r = sign ? (is_signed ? ~smax : 0) : lim;
    } else {
        if (inexact)
            *flags |= FF_NX;
        r = sign ? 0 - mag : mag;
    }
    return bits == 32 ? (uint64_t)(int64_t)(int32_t)(uint32_t)r : r;
}

INLINE uint64_t g_from_int(bool sign, uint64_t mag, int rm, uint32_t *flags, FMT)
{
    if (!mag)
        return 0;
    int e = BIAS + 62;
    if (mag >> 63) {
        mag = (mag >> 1) | (mag & 1);
        e++;
    }
    return norm_round_pack(sign, e, mag, rm, flags, FB, EMAX);
}

/* ------------------------------------------------------------- interface */

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    return (uint32_t)g_add(a, b, rm, flags, F32);
}

uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    return (uint32_t)g_add(a, b ^ UINT32_C(0x80000000), rm, flags, F32);
}

uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    return (uint32_t)g_mul(a, b, rm, flags, F32);
}

uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    return (uint32_t)g_div(a, b, rm, flags, F32);
}

uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *flags)
{
    return (uint32_t)g_sqrt(a, rm, flags, F32);
}

uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, bool neg_prod, bool neg_c, int rm,
                 uint32_t *flags)
{
    return (uint32_t)g_fma(a, b, c, neg_prod, neg_c, rm, flags, F32);
}

uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *flags)
{
    return (uint32_t)g_minmax(a, b, false, flags, F32);
}

uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *flags)
{
    return (uint32_t)g_minmax(a, b, true, flags, F32);
}

bool f32_eq(uint32_t a, uint32_t b, uint32_t *flags) { return g_eq(a, b, flags, F32); }
bool f32_lt(uint32_t a, uint32_t b, uint32_t *flags) { return g_cmp(a, b, false, flags, F32); }
bool f32_le(uint32_t a, uint32_t b, uint32_t *flags) { return g_cmp(a, b, true, flags, F32); }
uint32_t f32_classify(uint32_t a) { return g_classify(a, F32); }

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    return g_add(a, b, rm, flags, F64);
}

uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    return g_add(a, b ^ BIT63, rm, flags, F64);
}

uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    return g_mul(a, b, rm, flags, F64);
}

uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    return g_div(a, b, rm, flags, F64);
}

uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *flags) { return g_sqrt(a, rm, flags, F64); }

uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, bool neg_prod, bool neg_c, int rm,
                 uint32_t *flags)
{
    return g_fma(a, b, c, neg_prod, neg_c, rm, flags, F64);
}

uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *flags)
{
    return g_minmax(a, b, false, flags, F64);
}

uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *flags)
{
    return g_minmax(a, b, true, flags, F64);
}

bool f64_eq(uint64_t a, uint64_t b, uint32_t *flags) { return g_eq(a, b, flags, F64); }
bool f64_lt(uint64_t a, uint64_t b, uint32_t *flags) { return g_cmp(a, b, false, flags, F64); }
bool f64_le(uint64_t a, uint64_t b, uint32_t *flags) { return g_cmp(a, b, true, flags, F64); }
uint32_t f64_classify(uint64_t a) { return g_classify(a, F64); }

uint64_t f32_to_i32(uint32_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, true, 32, F32);
}

uint64_t f32_to_u32(uint32_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, false, 32, F32);
}

uint64_t f32_to_i64(uint32_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, true, 64, F32);
}

uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, false, 64, F32);
}

uint64_t f64_to_i32(uint64_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, true, 32, F64);
}

uint64_t f64_to_u32(uint64_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, false, 32, F64);
}

uint64_t f64_to_i64(uint64_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, true, 64, F64);
}

uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *flags)
{
    return g_to_int(a, rm, flags, false, 64, F64);
}

uint32_t i32_to_f32(int32_t a, int rm, uint32_t *flags)
{
    return (uint32_t)g_from_int(a < 0, a < 0 ? 0 - (uint64_t)a : (uint64_t)a, rm, flags, F32);
}

uint32_t u32_to_f32(uint32_t a, int rm, uint32_t *flags)
{
    return (uint32_t)g_from_int(false, a, rm, flags, F32);
}

uint32_t i64_to_f32(int64_t a, int rm, uint32_t *flags)
{
    return (uint32_t)g_from_int(a < 0, a < 0 ? 0 - (uint64_t)a : (uint64_t)a, rm, flags, F32);
}

uint32_t u64_to_f32(uint64_t a, int rm, uint32_t *flags)
{
    return (uint32_t)g_from_int(false, a, rm, flags, F32);
}

uint64_t i32_to_f64(int32_t a, int rm, uint32_t *flags)
{
    return g_from_int(a < 0, a < 0 ? 0 - (uint64_t)a : (uint64_t)a, rm, flags, F64);
}

uint64_t u32_to_f64(uint32_t a, int rm, uint32_t *flags)
{
    return g_from_int(false, a, rm, flags, F64);
}

uint64_t i64_to_f64(int64_t a, int rm, uint32_t *flags)
{
    return g_from_int(a < 0, a < 0 ? 0 - (uint64_t)a : (uint64_t)a, rm, flags, F64);
}

uint64_t u64_to_f64(uint64_t a, int rm, uint32_t *flags)
{
    return g_from_int(false, a, rm, flags, F64);
}

/* Widening is exact: only NaNs (canonicalised) and subnormals need care. */
uint64_t f32_to_f64(uint32_t a, uint32_t *flags)
{
    int e = (a >> 23) & 0xff;
    uint64_t s = (uint64_t)(a >> 31) << 63;
    if (e == 0xff) {
        if (a & 0x7fffff)
            return (uint64_t)nan_result(!(a & 0x400000), flags, F64);
        return s | ((uint64_t)0x7ff << 52);
    }
    if (!(a & 0x7fffffff))
        return s;
    uint64_t m = unpack(a, &e, F32);
    return s | ((uint64_t)(e - 127 + 1023) << 52) | ((m & 0x7fffff) << 29);
}

uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *flags)
{
    int e = (int)(a >> 52) & 0x7ff;
    bool s = a >> 63;
    if (e == 0x7ff) {
        if (a & (BIT63 - 1) & ~((uint64_t)0x7ff << 52))
            return (uint32_t)nan_result(!(a & ((uint64_t)1 << 51)), flags, F32);
        return ((uint32_t)s << 31) | 0x7f800000;
    }
    if (!(a & (BIT63 - 1)))
        return (uint32_t)s << 31;
    uint64_t m = unpack(a, &e, F64);
    /* Leading 1 to bit 62, then rebias: 39 round bits for binary32. */
    return (uint32_t)round_pack(s, e - 1023 + 127, m << 10, rm, flags, F32);
}
