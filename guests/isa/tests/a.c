/* RV64A: every AMO in W and D width (memory result, old value in rd,
 * sign extension of W results), LR/SC success and failure, SC without a
 * reservation. */
#include "isa.h"

#define M1 0xffffffffffffffffULL

static volatile uint64_t mem_d;
static volatile uint32_t mem_w[2];

#define AMO_D(op, init, operand, want_mem) AMO_RAW_D(op ".d", init, operand, want_mem)
#define AMO_RAW_D(mnemonic, init, operand, want_mem)                                  \
    do {                                                                              \
        uint64_t old_;                                                                \
        mem_d = (init);                                                               \
        __asm__ volatile(mnemonic " %0, %2, %1"                                       \
                         : "=r"(old_), "+A"(mem_d)                                    \
                         : "r"((uint64_t)(operand))                                   \
                         : "memory");                                                 \
        CHECK_EQ(old_, (uint64_t)(init));                                             \
        CHECK_EQ(mem_d, (uint64_t)(want_mem));                                        \
    } while (0)

#define AMO_W(op, init, operand, want_mem)                                            \
    do {                                                                              \
        uint64_t old_;                                                                \
        mem_w[0] = (uint32_t)(init);                                                  \
        mem_w[1] = 0x5a5a5a5a;                                                        \
        __asm__ volatile(op ".w %0, %2, %1"                                           \
                         : "=r"(old_), "+A"(mem_w[0])                                 \
                         : "r"((uint64_t)(operand))                                   \
                         : "memory");                                                 \
        CHECK_EQ(old_, (uint64_t)(int64_t)(int32_t)(uint32_t)(init));                 \
        CHECK_EQ(mem_w[0], (uint32_t)(want_mem));                                     \
        CHECK_EQ(mem_w[1], 0x5a5a5a5a);                                               \
    } while (0)

static void amo_d(void) {
    AMO_D("amoswap", 0x1111, 0x2222, 0x2222);
    AMO_D("amoadd", M1, 2, 1);
    AMO_D("amoadd", 0x7fffffffffffffffULL, 1, 0x8000000000000000ULL);
    AMO_D("amoxor", 0xff00ff00, 0x0ff00ff0, 0xf0f0f0f0);
    AMO_D("amoand", 0xff00ff00, 0x0ff00ff0, 0x0f000f00);
    AMO_D("amoor", 0xff00ff00, 0x0ff00ff0, 0xfff0fff0);
    AMO_D("amomin", M1, 1, M1);
    AMO_D("amomin", 5, 0x8000000000000000ULL, 0x8000000000000000ULL);
    AMO_D("amomax", M1, 1, 1);
    AMO_D("amomax", 0x8000000000000000ULL, 0x7fffffffffffffffULL, 0x7fffffffffffffffULL);
    AMO_D("amominu", M1, 1, 1);
    AMO_D("amominu", 3, 7, 3);
    AMO_D("amomaxu", M1, 1, M1);
    AMO_D("amomaxu", 0x7fffffffffffffffULL, 0x8000000000000000ULL, 0x8000000000000000ULL);
    /* ordering bits do not change the result */
    AMO_RAW_D("amoadd.d.aq", 1, 2, 3);
    AMO_RAW_D("amoadd.d.rl", 1, 2, 3);
    AMO_RAW_D("amoadd.d.aqrl", 1, 2, 3);
}

static void amo_w(void) {
    AMO_W("amoswap", 0x80000000, 0x12345678, 0x12345678);
    AMO_W("amoswap", 0x12345678, 0xffffffff00000001ULL, 1); /* upper operand bits ignored */
    AMO_W("amoadd", 0x7fffffff, 1, 0x80000000);
    AMO_W("amoadd", 0xffffffff, 0x100000001ULL, 0);
    AMO_W("amoxor", 0xff00ff00, 0x0ff00ff0, 0xf0f0f0f0);
    AMO_W("amoand", 0xff00ff00, 0x0ff00ff0, 0x0f000f00);
    AMO_W("amoor", 0xff00ff00, 0x0ff00ff0, 0xfff0fff0);
    /* 32-bit signed / unsigned comparisons */
    AMO_W("amomin", 0xffffffff, 1, 0xffffffff);
    AMO_W("amomin", 1, 0x00000000ffffffffULL, 0xffffffff); /* operand is -1 as 32 bits */
    AMO_W("amomax", 0xffffffff, 1, 1);
    AMO_W("amomax", 0x80000000, 0x7fffffff, 0x7fffffff);
    AMO_W("amominu", 0xffffffff, 1, 1);
    AMO_W("amominu", 5, 0x1ffffffffULL, 5);
    AMO_W("amomaxu", 0xffffffff, 1, 0xffffffff);
    AMO_W("amomaxu", 0x7fffffff, 0x80000000, 0x80000000);
    AMO_W("amomaxu", 2, 0xffffffff00000001ULL, 2);
}

static void lr_sc(void) {
    uint64_t v, rc;
    /* LR.D / SC.D success */
    mem_d = 100;
    __asm__ volatile("lr.d %0, %2\n\t"
                     "addi %0, %0, 1\n\t"
                     "sc.d %1, %0, %2"
                     : "=&r"(v), "=&r"(rc), "+A"(mem_d)::"memory");
    CHECK_EQ(rc, 0);
    CHECK_EQ(mem_d, 101);
    /* SC right after a successful SC has no reservation */
    __asm__ volatile("sc.d %0, %1, %2" : "=&r"(rc) : "r"(555ULL), "A"(mem_d) : "memory");
    CHECK(rc != 0);
    CHECK_EQ(mem_d, 101);
    /* LR.W sign-extends, SC.W writes 32 bits */
    mem_w[0] = 0x80000001;
    mem_w[1] = 0x5a5a5a5a;
    __asm__ volatile("lr.w %0, %2\n\t"
                     "sc.w %1, %3, %2"
                     : "=&r"(v), "=&r"(rc), "+A"(mem_w[0])
                     : "r"(0x1122334455667788ULL)
                     : "memory");
    CHECK_EQ(v, 0xffffffff80000001ULL);
    CHECK_EQ(rc, 0);
    CHECK_EQ(mem_w[0], 0x55667788);
    CHECK_EQ(mem_w[1], 0x5a5a5a5a);
    __asm__ volatile("sc.w %0, %1, %2" : "=&r"(rc) : "r"(1ULL), "A"(mem_w[0]) : "memory");
    CHECK(rc != 0);
    CHECK_EQ(mem_w[0], 0x55667788);
    /* an SC after another SC cleared the reservation fails, even to a
     * different address */
    uint64_t rc2;
    __asm__ volatile("lr.d %0, %3\n\t"
                     "sc.d %1, %0, %3\n\t"
                     "sc.w %2, zero, %4"
                     : "=&r"(v), "=&r"(rc), "=&r"(rc2)
                     : "A"(mem_d), "A"(mem_w[0])
                     : "memory");
    CHECK_EQ(rc, 0);
    CHECK(rc2 != 0);
    CHECK_EQ(mem_w[0], 0x55667788);
    /* the classic retry loop: fetch-and-add 1000 times */
    mem_d = 0;
    for (int i = 0; i < 1000; i++) {
        __asm__ volatile("1: lr.d.aq %0, %1\n\t"
                         "addi %0, %0, 3\n\t"
                         "sc.d.rl t0, %0, %1\n\t"
                         "bnez t0, 1b"
                         : "=&r"(v), "+A"(mem_d)::"t0", "memory");
    }
    CHECK_EQ(mem_d, 3000);
}

void test_main(void) {
    amo_d();
    amo_w();
    lr_sc();
}
