/* RV64I register and immediate arithmetic, logic, shifts, compares, LUI/AUIPC. */
#include "isa.h"
#include "ops.h"

#define M1 0xffffffffffffffffULL
#define MIN64 0x8000000000000000ULL
#define MAX64 0x7fffffffffffffffULL

static void add_sub(void) {
    CHECK_EQ(RR("add", 1, 1), 2);
    CHECK_EQ(RR("add", MAX64, 1), MIN64);
    CHECK_EQ(RR("add", M1, 1), 0);
    CHECK_EQ(RR("add", 0xffffffffULL, 1), 0x100000000ULL);
    CHECK_EQ(RR("sub", 0, 1), M1);
    CHECK_EQ(RR("sub", MIN64, 1), MAX64);
    CHECK_EQ(RR("sub", 5, 7), (uint64_t)-2);
    CHECK_EQ(RI("addi", 0, -2048), 0xfffffffffffff800ULL);
    CHECK_EQ(RI("addi", 1, 2047), 0x800);
    CHECK_EQ(RI("addi", M1, 1), 0);
    /* W forms: 32-bit result, sign-extended */
    CHECK_EQ(RR("addw", 0x7fffffff, 1), 0xffffffff80000000ULL);
    CHECK_EQ(RR("addw", 0xffffffffULL, 1), 0);
    CHECK_EQ(RR("addw", 0x123456789ULL, 0), 0x23456789);
    CHECK_EQ(RR("addw", 0x80000000ULL, 0), 0xffffffff80000000ULL);
    CHECK_EQ(RR("subw", 0, 1), M1);
    CHECK_EQ(RR("subw", 0x80000000ULL, 1), 0x7fffffff);
    CHECK_EQ(RR("subw", 0x100000000ULL, 1), M1);
    CHECK_EQ(RI("addiw", 0x7fffffff, 1), 0xffffffff80000000ULL);
    CHECK_EQ(RI("addiw", 0x12f0000000ULL, 0), 0xfffffffff0000000ULL);
    CHECK_EQ(RI("addiw", 0, -1), M1);
    CHECK_EQ(RI("addiw", 0xffffffff00000005ULL, -2048), 0xfffffffffffff805ULL);
}

static void shifts(void) {
    CHECK_EQ(RR("sll", 1, 63), MIN64);
    CHECK_EQ(RR("sll", 1, 64), 1); /* only shamt[5:0] counts */
    CHECK_EQ(RR("sll", 1, 65), 2);
    CHECK_EQ(RR("sll", 0xff, 4), 0xff0);
    CHECK_EQ(RR("srl", MIN64, 63), 1);
    CHECK_EQ(RR("srl", M1, 1), MAX64);
    CHECK_EQ(RR("srl", 0x1234, 0xffffffffffffff40ULL), 0x1234);
    CHECK_EQ(RR("sra", MIN64, 63), M1);
    CHECK_EQ(RR("sra", (uint64_t)-16, 2), (uint64_t)-4);
    CHECK_EQ(RR("sra", 0x7000000000000000ULL, 60), 7);
    CHECK_EQ(RI("slli", 3, 62), 0xc000000000000000ULL);
    CHECK_EQ(RI("srli", MIN64, 63), 1);
    CHECK_EQ(RI("srai", MIN64, 63), M1);
    CHECK_EQ(RI("srai", 0x4000000000000000ULL, 62), 1);
    CHECK_EQ(RI("slli", 0x5a, 0), 0x5a);
    CHECK_EQ(RR("sllw", 1, 31), 0xffffffff80000000ULL);
    CHECK_EQ(RR("sllw", 1, 32), 1); /* only shamt[4:0] counts */
    CHECK_EQ(RR("sllw", 0xffffffff00000001ULL, 0), 1);
    CHECK_EQ(RR("srlw", 0x80000000ULL, 31), 1);
    CHECK_EQ(RR("srlw", 0x80000000ULL, 0), 0xffffffff80000000ULL);
    CHECK_EQ(RR("srlw", M1, 4), 0x0fffffff);
    CHECK_EQ(RR("srlw", 0x1234567880000000ULL, 32), 0xffffffff80000000ULL);
    CHECK_EQ(RR("sraw", 0x80000000ULL, 31), M1);
    CHECK_EQ(RR("sraw", 0x80000000ULL, 4), 0xfffffffff8000000ULL);
    CHECK_EQ(RR("sraw", 0x7fffffff, 30), 1);
    CHECK_EQ(RR("sraw", 0xabcdef0000000010ULL, 4), 1);
    CHECK_EQ(RI("slliw", 1, 31), 0xffffffff80000000ULL);
    CHECK_EQ(RI("slliw", 0x3, 30), 0xffffffffc0000000ULL);
    CHECK_EQ(RI("srliw", 0x80000000ULL, 31), 1);
    CHECK_EQ(RI("srliw", 0xffffffffULL, 0), M1);
    CHECK_EQ(RI("srliw", 0xf0000000ULL, 4), 0x0f000000);
    CHECK_EQ(RI("sraiw", 0x80000000ULL, 31), M1);
    CHECK_EQ(RI("sraiw", 0x0000000180000000ULL, 1), 0xffffffffc0000000ULL);
}

static void compares(void) {
    CHECK_EQ(RR("slt", M1, 0), 1);
    CHECK_EQ(RR("slt", 0, M1), 0);
    CHECK_EQ(RR("slt", 1, 1), 0);
    CHECK_EQ(RR("slt", MIN64, MAX64), 1);
    CHECK_EQ(RR("sltu", M1, 0), 0);
    CHECK_EQ(RR("sltu", 0, M1), 1);
    CHECK_EQ(RR("sltu", MAX64, MIN64), 1);
    CHECK_EQ(RI("slti", M1, 0), 1);
    CHECK_EQ(RI("slti", 0, -1), 0);
    CHECK_EQ(RI("slti", (uint64_t)-2049, -2048), 1);
    CHECK_EQ(RI("sltiu", 5, -1), 1); /* the immediate is sign-extended, then unsigned */
    CHECK_EQ(RI("sltiu", 0, 1), 1);
    CHECK_EQ(RI("sltiu", 1, 1), 0);
    CHECK_EQ(RI("sltiu", M1, -1), 0);
}

static void logic(void) {
    CHECK_EQ(RR("and", 0xff00ff00ff00ff00ULL, 0x0ff00ff00ff00ff0ULL), 0x0f000f000f000f00ULL);
    CHECK_EQ(RR("or", 0xff00ff00ff00ff00ULL, 0x0ff00ff00ff00ff0ULL), 0xfff0fff0fff0fff0ULL);
    CHECK_EQ(RR("xor", 0xff00ff00ff00ff00ULL, 0x0ff00ff00ff00ff0ULL), 0xf0f0f0f0f0f0f0f0ULL);
    CHECK_EQ(RI("andi", 0xffff0000ffff00ffULL, -16), 0xffff0000ffff00f0ULL);
    CHECK_EQ(RI("andi", 0xffff0000ffff0fffULL, 0x7ff), 0x7ff);
    CHECK_EQ(RI("ori", 0, -2048), 0xfffffffffffff800ULL);
    CHECK_EQ(RI("ori", 0x1000, 0x123), 0x1123);
    CHECK_EQ(RI("xori", 0x0123456789abcdefULL, -1), 0xfedcba9876543210ULL);
    CHECK_EQ(RI("xori", 0xf0, 0x0ff), 0x0f);
}

static void upper(void) {
    CHECK_EQ(U("lui", 0x80000), 0xffffffff80000000ULL);
    CHECK_EQ(U("lui", 0x7ffff), 0x7ffff000);
    CHECK_EQ(U("lui", 0xfffff), 0xfffffffffffff000ULL);
    CHECK_EQ(U("lui", 0), 0);
    uint64_t got, here;
    __asm__ volatile("1: auipc %0, 1\n\tlla %1, 1b" : "=r"(got), "=r"(here));
    CHECK_EQ(got, here + 0x1000);
    __asm__ volatile("1: auipc %0, 0xfffff\n\tlla %1, 1b" : "=r"(got), "=r"(here));
    CHECK_EQ(got, here - 0x1000);
    __asm__ volatile("1: auipc %0, 0x80000\n\tlla %1, 1b" : "=r"(got), "=r"(here));
    CHECK_EQ(got, here - 0x80000000ULL);
}

static void registers(void) {
    uint64_t r;
    /* x0 ignores writes */
    __asm__ volatile("addi x0, x0, 5\n\tadd x0, %1, %1\n\tmv %0, x0" : "=r"(r) : "r"(7ULL));
    CHECK_EQ(r, 0);
    __asm__ volatile("lui x0, 0x12345\n\tmv %0, zero" : "=r"(r));
    CHECK_EQ(r, 0);
    /* rd = rs1 = rs2 */
    r = 21;
    __asm__ volatile("add %0, %0, %0" : "+r"(r));
    CHECK_EQ(r, 42);
    r = 0x55;
    __asm__ volatile("xor %0, %0, %0" : "+r"(r));
    CHECK_EQ(r, 0);
    r = 3;
    __asm__ volatile("sll %0, %0, %0" : "+r"(r));
    CHECK_EQ(r, 24);
}

void test_main(void) {
    add_sub();
    shifts();
    compares();
    logic();
    upper();
    registers();
}
