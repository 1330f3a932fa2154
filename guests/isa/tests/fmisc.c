/* RV64F/D instructions without rounding: fmin/fmax (signed zeros, quiet
 * and signaling NaNs), compares (quiet feq, signaling flt/fle), fclass,
 * sign injection, moves (fmv.x.w sign extension, fmv.w.x boxing, payloads
 * kept), loads and stores (flw boxes, fsw/fsd/fld move bits unchanged),
 * NaN boxing of operands, fcsr / frm / fflags, reserved rounding modes. */
#include "fp.h"

#define S_ONE 0x3f800000
#define S_M_ONE 0xbf800000
#define S_TWO 0x40000000
#define S_CNAN 0x7fc00000
#define S_SNAN 0x7f800001
#define S_QNAN 0x7fc00abc
#define S_INF 0x7f800000
#define S_M_INF 0xff800000
#define S_NZERO 0x80000000
#define D_ONE 0x3ff0000000000000ULL
#define D_TWO 0x4000000000000000ULL
#define D_CNAN 0x7ff8000000000000ULL
#define D_SNAN 0x7ff0000000000001ULL
#define D_NZERO 0x8000000000000000ULL
#define UNBOXED 0x000000003f800000ULL

/* f <- f, f without rounding */
#define F2(insn, a, b)                                                                      \
    ({                                                                                      \
        uint64_t r_;                                                                        \
        __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.d.x ft1, %2\n\t" insn " ft2, ft0, ft1\n\t" \
                         "fmv.x.d %0, ft2"                                                  \
                         : "=r"(r_)                                                         \
                         : "r"((uint64_t)(a)), "r"((uint64_t)(b))                           \
                         : "ft0", "ft1", "ft2");                                            \
        r_;                                                                                 \
    })
/* x <- f, f */
#define X2(insn, a, b)                                                               \
    ({                                                                               \
        uint64_t r_;                                                                 \
        __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.d.x ft1, %2\n\t" insn " %0, ft0, ft1" \
                         : "=r"(r_)                                                  \
                         : "r"((uint64_t)(a)), "r"((uint64_t)(b))                    \
                         : "ft0", "ft1");                                            \
        r_;                                                                          \
    })
/* x <- f */
#define X1(insn, a)                                                                 \
    ({                                                                              \
        uint64_t r_;                                                                \
        __asm__ volatile("fmv.d.x ft0, %1\n\t" insn " %0, ft0" : "=r"(r_)           \
                         : "r"((uint64_t)(a)) : "ft0");                             \
        r_;                                                                         \
    })

/* result and exactly these fflags */
#define CHECK_RF(expr, want, flags)          \
    do {                                     \
        fflags_clear();                      \
        uint64_t v_ = (expr);                \
        unsigned f_ = fflags_get();          \
        CHECK_EQ(v_, (want));                \
        CHECK_EQ(f_, (flags));               \
    } while (0)

static void min_max(void) {
    CHECK_RF(F2("fmin.s", S(S_NZERO), S(0)), S(S_NZERO), 0);
    CHECK_RF(F2("fmin.s", S(0), S(S_NZERO)), S(S_NZERO), 0);
    CHECK_RF(F2("fmax.s", S(S_NZERO), S(0)), S(0), 0);
    CHECK_RF(F2("fmax.s", S(0), S(S_NZERO)), S(0), 0);
    CHECK_RF(F2("fmin.s", S(S_ONE), S(S_M_ONE)), S(S_M_ONE), 0);
    CHECK_RF(F2("fmax.s", S(S_ONE), S(S_TWO)), S(S_TWO), 0);
    CHECK_RF(F2("fmin.s", S(S_QNAN), S(S_ONE)), S(S_ONE), 0);   /* quiet NaN: the other */
    CHECK_RF(F2("fmax.s", S(S_M_INF), S(S_QNAN)), S(S_M_INF), 0);
    CHECK_RF(F2("fmin.s", S(S_SNAN), S(S_ONE)), S(S_ONE), NV);  /* signaling: NV too */
    CHECK_RF(F2("fmax.s", S(S_ONE), S(S_SNAN)), S(S_ONE), NV);
    CHECK_RF(F2("fmin.s", S(S_QNAN), S(S_QNAN)), S(S_CNAN), 0); /* both NaN: canonical */
    CHECK_RF(F2("fmax.s", S(S_SNAN), S(S_QNAN)), S(S_CNAN), NV);
    CHECK_RF(F2("fmin.s", UNBOXED, S(S_TWO)), S(S_TWO), 0);     /* unboxed = canonical NaN */
    CHECK_RF(F2("fmin.d", D_NZERO, 0), D_NZERO, 0);
    CHECK_RF(F2("fmax.d", D_NZERO, 0), 0, 0);
    CHECK_RF(F2("fmax.d", 0, D_NZERO), 0, 0);
    CHECK_RF(F2("fmin.d", D_SNAN, D_ONE), D_ONE, NV);
    CHECK_RF(F2("fmax.d", D_CNAN, D_CNAN), D_CNAN, 0);
    CHECK_RF(F2("fmax.d", 0xfff0000000000000ULL, D_CNAN), 0xfff0000000000000ULL, 0);
}

static void compares(void) {
    CHECK_RF(X2("feq.s", S(S_ONE), S(S_ONE)), 1, 0);
    CHECK_RF(X2("feq.s", S(0), S(S_NZERO)), 1, 0);
    CHECK_RF(X2("flt.s", S(S_NZERO), S(0)), 0, 0);
    CHECK_RF(X2("fle.s", S(S_NZERO), S(0)), 1, 0);
    CHECK_RF(X2("flt.s", S(S_M_INF), S(S_M_ONE)), 1, 0);
    CHECK_RF(X2("fle.s", S(S_TWO), S(S_ONE)), 0, 0);
    /* feq is quiet: NV only for signaling NaNs; flt / fle signal for any NaN */
    CHECK_RF(X2("feq.s", S(S_QNAN), S(S_QNAN)), 0, 0);
    CHECK_RF(X2("feq.s", S(S_SNAN), S(S_ONE)), 0, NV);
    CHECK_RF(X2("flt.s", S(S_QNAN), S(S_ONE)), 0, NV);
    CHECK_RF(X2("fle.s", S(S_ONE), S(S_QNAN)), 0, NV);
    CHECK_RF(X2("feq.s", UNBOXED, UNBOXED), 0, 0);
    CHECK_RF(X2("flt.s", UNBOXED, S(S_ONE)), 0, NV);
    CHECK_RF(X2("feq.d", D_ONE, D_ONE), 1, 0);
    CHECK_RF(X2("flt.d", D_ONE, D_TWO), 1, 0);
    CHECK_RF(X2("fle.d", D_NZERO, 0), 1, 0);
    CHECK_RF(X2("feq.d", D_CNAN, D_ONE), 0, 0);
    CHECK_RF(X2("feq.d", D_SNAN, D_ONE), 0, NV);
    CHECK_RF(X2("fle.d", D_CNAN, D_CNAN), 0, NV);
}

static void classify(void) {
    static const struct {
        uint32_t s;
        uint64_t d;
        unsigned bit;
    } cases[] = {
        {0xff800000, 0xfff0000000000000ULL, 0},  /* -inf */
        {0xbf800000, 0xbff0000000000000ULL, 1},  /* -normal */
        {0x80000001, 0x8000000000000001ULL, 2},  /* -subnormal */
        {0x80000000, 0x8000000000000000ULL, 3},  /* -0 */
        {0x00000000, 0x0000000000000000ULL, 4},  /* +0 */
        {0x007fffff, 0x000fffffffffffffULL, 5},  /* +subnormal */
        {0x7f7fffff, 0x7fefffffffffffffULL, 6},  /* +normal */
        {0x7f800000, 0x7ff0000000000000ULL, 7},  /* +inf */
        {0x7fbfffff, 0x7ff7ffffffffffffULL, 8},  /* signaling NaN */
        {0xffc00000, 0xfff8000000000000ULL, 9},  /* quiet NaN */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_RF(X1("fclass.s", S(cases[i].s)), 1u << cases[i].bit, 0);
        CHECK_RF(X1("fclass.d", cases[i].d), 1u << cases[i].bit, 0);
    }
    CHECK_RF(X1("fclass.s", UNBOXED), 1u << 9, 0);
}

static void sign_injection(void) {
    CHECK_RF(F2("fsgnj.s", S(S_ONE), S(S_M_INF)), S(S_M_ONE), 0);
    CHECK_RF(F2("fsgnjn.s", S(S_ONE), S(S_M_INF)), S(S_ONE), 0);
    CHECK_RF(F2("fsgnjx.s", S(S_M_ONE), S(S_M_INF)), S(S_ONE), 0);
    CHECK_RF(F2("fsgnjx.s", S(S_ONE), S(S_M_INF)), S(S_M_ONE), 0);
    /* NaN payloads pass through, no flags even for signaling NaNs */
    CHECK_RF(F2("fsgnjn.s", S(S_SNAN), S(S_SNAN)), S(0xff800001), 0);
    CHECK_RF(F2("fsgnj.s", S(S_QNAN), S(S_M_ONE)), S(0xffc00abc), 0);
    /* an unboxed operand counts as the canonical NaN */
    CHECK_RF(F2("fsgnj.s", UNBOXED, S(S_M_ONE)), S(0xffc00000), 0);
    CHECK_RF(F2("fsgnj.s", S(S_ONE), UNBOXED), S(S_ONE), 0); /* canonical NaN is positive */
    CHECK_RF(F2("fsgnj.d", D_ONE, 0x8000000000000000ULL), 0xbff0000000000000ULL, 0);
    CHECK_RF(F2("fsgnjn.d", D_SNAN, 0), D_SNAN | D_NZERO, 0);
    CHECK_RF(F2("fsgnjx.d", 0xbff0000000000000ULL, 0xbff0000000000000ULL), D_ONE, 0);
    /* fsgnj.d does not look at boxing */
    CHECK_RF(F2("fsgnj.d", UNBOXED, 0), UNBOXED, 0);
}

static void moves(void) {
    uint64_t r;
    /* fmv.x.w sign-extends the low 32 bits, boxed or not */
    CHECK_EQ(X1("fmv.x.w", S(0x80000000)), 0xffffffff80000000ULL);
    CHECK_EQ(X1("fmv.x.w", 0x123456787f800001ULL), 0x7f800001);
    CHECK_EQ(X1("fmv.x.d", 0x7ff0000000000001ULL), 0x7ff0000000000001ULL);
    /* fmv.w.x boxes and keeps the bits */
    __asm__ volatile("fmv.w.x ft0, %1\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(0xabcdef0f7f800001ULL) : "ft0");
    CHECK_EQ(r, 0xffffffff7f800001ULL);
    /* moves do not touch fflags */
    fflags_clear();
    __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(D_SNAN) : "ft0");
    CHECK_EQ(r, D_SNAN);
    CHECK_EQ(fflags_get(), 0);
}

static void loads_stores(void) {
    static volatile uint64_t mem[2];
    uint64_t r;
    mem[0] = 0x1122334455667788ULL;
    /* flw boxes; fld keeps a signaling NaN as is */
    __asm__ volatile("flw ft0, 4(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(mem) : "ft0", "memory");
    CHECK_EQ(r, 0xffffffff11223344ULL);
    mem[1] = D_SNAN;
    fflags_clear();
    __asm__ volatile("fld ft0, 8(%0)\n\tfsd ft0, 0(%0)" ::"r"(mem) : "ft0", "memory");
    CHECK_EQ(mem[0], D_SNAN);
    CHECK_EQ(fflags_get(), 0);
    /* fsw stores the low 32 bits even of an unboxed register */
    mem[0] = 0;
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 4(%0)" ::"r"(mem), "r"(0xaaaaaaaa7f800001ULL)
                     : "ft0", "memory");
    CHECK_EQ(mem[0], 0x7f80000100000000ULL);
}

static void fcsr(void) {
    csr_write(fcsr, 0xfff);
    CHECK_EQ(csr_read(fcsr), 0xff); /* bits 31:8 read zero */
    CHECK_EQ(csr_read(frm), 7);
    CHECK_EQ(csr_read(fflags), 0x1f);
    csr_write(frm, 0x2b); /* only 3 bits */
    CHECK_EQ(csr_read(frm), 3);
    CHECK_EQ(csr_read(fcsr), (3 << 5) | 0x1f);
    csr_write(fflags, 0x25);
    CHECK_EQ(csr_read(fcsr), (3 << 5) | 0x05);
    uint64_t old;
    __asm__ volatile("csrrsi %0, fflags, 0x10" : "=r"(old));
    CHECK_EQ(old, 0x05);
    CHECK_EQ(csr_read(fflags), 0x15);
    __asm__ volatile("fsrm %0, %1" : "=r"(old) : "r"(1ULL));
    CHECK_EQ(old, 3);
    CHECK_EQ(csr_read(frm), 1);
    csr_write(fcsr, 0);
}

#define EXPECT_ILLEGAL(insn)                                   \
    do {                                                       \
        m_expect();                                            \
        __asm__ volatile(insn ::: "ft0", "ft1", "ft3", "memory"); \
        CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);         \
    } while (0)
#define EXPECT_OK(insn)                                        \
    do {                                                       \
        m_expect();                                            \
        __asm__ volatile(insn ::: "t0", "ft0", "ft1", "ft3", "memory"); \
        CHECK_NO_TRAP(m_trap);                                 \
    } while (0)

static void reserved_rounding(void) {
    /* fadd.s / fadd.d with rm = 5 and 6 in the instruction */
    EXPECT_ILLEGAL(".insn r 0x53, 5, 0x00, ft3, ft0, ft1");
    EXPECT_ILLEGAL(".insn r 0x53, 6, 0x00, ft3, ft0, ft1");
    EXPECT_ILLEGAL(".insn r 0x53, 5, 0x01, ft3, ft0, ft1");
    /* dyn with frm = 5, 6, 7 */
    for (unsigned rm = 5; rm <= 7; rm++) {
        csr_write(frm, rm);
        EXPECT_ILLEGAL("fadd.s ft3, ft0, ft1, dyn");
        EXPECT_ILLEGAL("fmul.d ft3, ft0, ft1, dyn");
        EXPECT_ILLEGAL("fcvt.w.d t0, ft0, dyn");
        /* instructions without rounding do not care */
        EXPECT_OK("fsgnj.d ft3, ft0, ft1");
        EXPECT_OK("fmin.s ft3, ft0, ft1");
        EXPECT_OK("feq.d t0, ft0, ft1");
        EXPECT_OK("fclass.s t0, ft0");
        EXPECT_OK("fmv.x.d t0, ft0");
    }
    csr_write(frm, 0);
    EXPECT_OK("fadd.s ft3, ft0, ft1, dyn");
}

void test_main(void) {
    min_max();
    compares();
    classify();
    sign_injection();
    moves();
    loads_stores();
    fcsr();
    reserved_rounding();
}
