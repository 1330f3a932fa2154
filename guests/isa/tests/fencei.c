/* Zifencei: code written with ordinary stores runs after fence.i, also when
 * the same address is rewritten many times, with 16- and 32-bit
 * instructions, and when an instruction is patched in the middle of code
 * that already ran. */
#include "isa.h"

static uint32_t code[64] __attribute__((aligned(64)));

#define ADDI_A0(imm) (0x00050513u | ((uint32_t)(imm) & 0xfff) << 20) /* addi a0, a0, imm */
#define RET 0x00008067u                                              /* jalr x0, 0(ra) */

static uint64_t call(uint64_t a0) {
    register uint64_t r __asm__("a0") = a0;
    __asm__ volatile("jalr ra, %1" : "+r"(r) : "r"(code) : "ra", "memory");
    return r;
}

static void write_code(const uint32_t *insns, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        code[i] = insns[i];
    __asm__ volatile("fence.i" ::: "memory");
}

void test_main(void) {
    const uint32_t one[] = {ADDI_A0(1), RET};
    write_code(one, 2);
    CHECK_EQ(call(41), 42);
    const uint32_t two[] = {ADDI_A0(2), RET};
    write_code(two, 2);
    CHECK_EQ(call(40), 42);
    /* the same address rewritten over and over */
    for (int i = -100; i < 100; i += 7) {
        const uint32_t v[] = {ADDI_A0(i), RET};
        write_code(v, 2);
        CHECK_EQ(call(1000), 1000 + i);
    }
    /* compressed code: c.addi a0, 5; c.addi a0, -1; c.jr ra */
    const uint32_t rvc[] = {0x157d0515u, 0x00008082u};
    write_code(rvc, 2);
    CHECK_EQ(call(10), 14);
    /* a long block that ran before, patched in the middle */
    uint32_t block[33];
    for (int i = 0; i < 32; i++)
        block[i] = ADDI_A0(1);
    block[32] = RET;
    write_code(block, 33);
    CHECK_EQ(call(0), 32);
    CHECK_EQ(call(0), 32);
    code[17] = ADDI_A0(100);
    __asm__ volatile("fence.i" ::: "memory");
    CHECK_EQ(call(0), 131);
    /* a 16-bit store over the low half of an instruction */
    ((volatile uint16_t *)code)[2 * 31] = 0x0001; /* c.nop, then the old upper half */
    ((volatile uint16_t *)code)[2 * 31 + 1] = 0x0001; /* c.nop */
    __asm__ volatile("fence.i" ::: "memory");
    CHECK_EQ(call(0), 130);
}
