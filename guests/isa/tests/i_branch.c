/* RV64I branches (taken / not taken, signed vs unsigned, both directions,
 * far offsets) and JAL / JALR (links, target alignment, rd = rs1). */
#include "isa.h"

#define M1 0xffffffffffffffffULL
#define MIN64 0x8000000000000000ULL
#define MAX64 0x7fffffffffffffffULL

/* 1 when the branch is taken */
#define BR(op, a, b)                                                \
    ({                                                              \
        uint64_t t_;                                                \
        __asm__ volatile("li %0, 1\n\t" op " %1, %2, 1f\n\t"        \
                         "li %0, 0\n"                               \
                         "1:"                                       \
                         : "=&r"(t_)                                \
                         : "r"((uint64_t)(a)), "r"((uint64_t)(b))); \
        t_;                                                         \
    })

static void branches(void) {
    CHECK_EQ(BR("beq", 5, 5), 1);
    CHECK_EQ(BR("beq", 5, 6), 0);
    CHECK_EQ(BR("beq", 0, MIN64), 0);
    CHECK_EQ(BR("bne", 5, 6), 1);
    CHECK_EQ(BR("bne", M1, M1), 0);
    CHECK_EQ(BR("blt", M1, 0), 1);
    CHECK_EQ(BR("blt", 0, M1), 0);
    CHECK_EQ(BR("blt", MIN64, MAX64), 1);
    CHECK_EQ(BR("blt", 3, 3), 0);
    CHECK_EQ(BR("bge", 3, 3), 1);
    CHECK_EQ(BR("bge", 0, M1), 1);
    CHECK_EQ(BR("bge", MIN64, 0), 0);
    CHECK_EQ(BR("bltu", 0, M1), 1);
    CHECK_EQ(BR("bltu", M1, 0), 0);
    CHECK_EQ(BR("bltu", MAX64, MIN64), 1);
    CHECK_EQ(BR("bltu", 7, 7), 0);
    CHECK_EQ(BR("bgeu", M1, 0), 1);
    CHECK_EQ(BR("bgeu", 7, 7), 1);
    CHECK_EQ(BR("bgeu", 0, 1), 0);
    uint64_t t;
    __asm__ volatile("li %0, 1\n\tbeq zero, zero, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK_EQ(t, 1);
    __asm__ volatile("li %0, 1\n\tbne zero, zero, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK_EQ(t, 0);
}

static void far_and_backward(void) {
    uint64_t n;
    /* backward branch, taken 99 times */
    __asm__ volatile("li %0, 0\n\tli t0, 100\n1:\n\taddi %0, %0, 1\n\tblt %0, t0, 1b"
                     : "=&r"(n)::"t0");
    CHECK_EQ(n, 100);
    /* forward and backward branches near the +-4 KiB limit */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %0, 0\n\t"
                     "beq zero, zero, 2f\n"     /* forward: offset 4092 */
                     "1:\taddi %0, %0, 1\n\t"
                     "j 3f\n\t"
                     ".skip 4080\n"
                     "2:\taddi %0, %0, 10\n\t"
                     "beq zero, zero, 1b\n"     /* backward: offset -4092 */
                     "3:\n\t"
                     ".option pop"
                     : "=&r"(n));
    CHECK_EQ(n, 11);
    /* JAL over 512 KiB of padding, and back */
    __asm__ volatile("li %0, 0\n\t"
                     "jal zero, 2f\n"
                     "1:\taddi %0, %0, 1\n\t"
                     "j 3f\n\t"
                     ".skip 0x80000\n"
                     "2:\taddi %0, %0, 10\n\t"
                     "jal zero, 1b\n"
                     "3:"
                     : "=&r"(n));
    CHECK_EQ(n, 11);
}

static void jumps(void) {
    uint64_t link, expect;
    /* jal links pc + 4 */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "jal %0, 1f\n"
                     "2:\tnop\n"
                     "1:\tlla %1, 2b\n\t"
                     ".option pop"
                     : "=&r"(link), "=&r"(expect));
    CHECK_EQ(link, expect);
    /* jalr: target = (rs1 + imm) & ~1, link = pc + 4 */
    uint64_t target, hit;
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %2, 0\n\t"
                     "lla %3, 1f\n\t"
                     "addi %3, %3, -3\n\t" /* odd base: bit 0 of the sum is dropped */
                     "jalr %0, 4(%3)\n"
                     "2:\tj 3f\n"
                     "1:\tnop\n\t"
                     "li %2, 1\n"
                     "3:\tlla %1, 2b\n\t"
                     ".option pop"
                     : "=&r"(link), "=&r"(expect), "=&r"(hit), "=&r"(target));
    CHECK_EQ(hit, 1);
    CHECK_EQ(link, expect);
    /* jalr with rd = rs1: the target uses the old value */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %1, 0\n\t"
                     "lla %0, 1f\n\t"
                     "jalr %0, 0(%0)\n"
                     "2:\tj 3f\n"
                     "1:\tli %1, 1\n"
                     "3:\tlla %2, 2b\n\t"
                     ".option pop"
                     : "=&r"(link), "=&r"(hit), "=&r"(expect));
    CHECK_EQ(hit, 1);
    CHECK_EQ(link, expect);
    /* negative jalr offset */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %1, 0\n\t"
                     "lla %0, 1f\n\t"
                     "addi %0, %0, 16\n\t"
                     "jalr zero, -16(%0)\n\t"
                     "j 3f\n"
                     "1:\tli %1, 1\n"
                     "3:\n\t"
                     ".option pop"
                     : "=&r"(target), "=&r"(hit));
    CHECK_EQ(hit, 1);
    /* call / ret through a function pointer */
    uint64_t r;
    __asm__ volatile("lla t0, 1f\n\t"
                     "jalr ra, t0\n\t"
                     "j 2f\n"
                     "1:\tli %0, 77\n\t"
                     "ret\n"
                     "2:"
                     : "=&r"(r)::"t0", "ra");
    CHECK_EQ(r, 77);
}

void test_main(void) {
    branches();
    far_and_backward();
    jumps();
}
