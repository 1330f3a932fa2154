/* RV64M: multiplication (all high-part forms), division and remainder
 * including division by zero and signed overflow, and the W forms. */
#include "isa.h"
#include "ops.h"

#define M1 0xffffffffffffffffULL
#define MIN64 0x8000000000000000ULL
#define MAX64 0x7fffffffffffffffULL

static void mul(void) {
    CHECK_EQ(RR("mul", 3, 7), 21);
    CHECK_EQ(RR("mul", M1, M1), 1);
    CHECK_EQ(RR("mul", MIN64, M1), MIN64);
    CHECK_EQ(RR("mul", 0x100000001ULL, 0x100000001ULL), 0x200000001ULL);
    CHECK_EQ(RR("mulh", M1, M1), 0);
    CHECK_EQ(RR("mulh", MIN64, MIN64), 0x4000000000000000ULL);
    CHECK_EQ(RR("mulh", MIN64, 1), M1);
    CHECK_EQ(RR("mulh", MAX64, MAX64), 0x3fffffffffffffffULL);
    CHECK_EQ(RR("mulhu", M1, M1), 0xfffffffffffffffeULL);
    CHECK_EQ(RR("mulhu", MIN64, 2), 1);
    CHECK_EQ(RR("mulhu", 0x123456789ULL, 1), 0);
    CHECK_EQ(RR("mulhsu", M1, M1), M1); /* -1 * (2^64 - 1) */
    CHECK_EQ(RR("mulhsu", M1, 1), M1);
    CHECK_EQ(RR("mulhsu", 2, M1), 1);
    CHECK_EQ(RR("mulhsu", MIN64, M1), 0x8000000000000000ULL);
    CHECK_EQ(RR("mulw", 0x7fffffff, 2), 0xfffffffffffffffeULL);
    CHECK_EQ(RR("mulw", 0x100000001ULL, 0x100000001ULL), 1);
    CHECK_EQ(RR("mulw", 0x10000, 0x10000), 0);
    CHECK_EQ(RR("mulw", 0xffffffff, 0xffffffff), 1);
    CHECK_EQ(RR("mulw", 0x8000, 0x10000), 0xffffffff80000000ULL);
}

static void div(void) {
    CHECK_EQ(RR("div", 20, 6), 3);
    CHECK_EQ(RR("div", (uint64_t)-7, 2), (uint64_t)-3); /* rounds toward zero */
    CHECK_EQ(RR("div", 7, (uint64_t)-2), (uint64_t)-3);
    CHECK_EQ(RR("rem", (uint64_t)-7, 2), M1); /* sign of the dividend */
    CHECK_EQ(RR("rem", 7, (uint64_t)-2), 1);
    CHECK_EQ(RR("divu", (uint64_t)-7, 2), 0x7ffffffffffffffcULL);
    CHECK_EQ(RR("remu", M1, 10), 5);
    /* by zero: quotient all ones, remainder the dividend */
    CHECK_EQ(RR("div", 42, 0), M1);
    CHECK_EQ(RR("div", MIN64, 0), M1);
    CHECK_EQ(RR("divu", 42, 0), M1);
    CHECK_EQ(RR("rem", (uint64_t)-42, 0), (uint64_t)-42);
    CHECK_EQ(RR("remu", 42, 0), 42);
    /* overflow */
    CHECK_EQ(RR("div", MIN64, M1), MIN64);
    CHECK_EQ(RR("rem", MIN64, M1), 0);
    CHECK_EQ(RR("divu", MIN64, M1), 0);
    CHECK_EQ(RR("remu", MIN64, M1), MIN64);
}

static void div_w(void) {
    CHECK_EQ(RR("divw", 0xfffffffffffffff9ULL, 2), (uint64_t)-3);
    CHECK_EQ(RR("divw", 0x1234567800000010ULL, 0xffffffff00000004ULL), 4); /* upper halves ignored */
    CHECK_EQ(RR("divuw", 0xfffffff9ULL, 2), 0x7ffffffcULL);
    CHECK_EQ(RR("divuw", 0xffffffffULL, 1), M1); /* 32-bit result sign-extended */
    CHECK_EQ(RR("remw", (uint64_t)-7, 2), M1);
    CHECK_EQ(RR("remuw", 0x100000005ULL, 3), 2);
    CHECK_EQ(RR("remuw", 0xfffffff5ULL, 0x10), 5);
    CHECK_EQ(RR("remuw", 0xffffffffULL, 0xf0000000ULL), 0x0fffffff);
    CHECK_EQ(RR("remuw", 0x80000005ULL, 0xf0000000ULL), 0xffffffff80000005ULL);
    /* by zero */
    CHECK_EQ(RR("divw", 5, 0x100000000ULL), M1);
    CHECK_EQ(RR("divuw", 5, 0), M1);
    CHECK_EQ(RR("remw", 0x180000000ULL, 0), 0xffffffff80000000ULL);
    CHECK_EQ(RR("remuw", 0x17fffffffULL, 0), 0x7fffffff);
    /* overflow */
    CHECK_EQ(RR("divw", 0x80000000ULL, 0xffffffffULL), 0xffffffff80000000ULL);
    CHECK_EQ(RR("remw", 0x80000000ULL, M1), 0);
}

void test_main(void) {
    mul();
    div();
    div_w();
}
