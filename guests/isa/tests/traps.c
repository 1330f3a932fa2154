/* Synchronous traps into M-mode: illegal instructions, privileged
 * instructions from lower modes, ecall from M/S/U, ebreak, misaligned AMO /
 * LR / SC, instruction and load/store access faults; mcause, mepc, mtval
 * and the mstatus trap stack (MPP, MPIE, MIE). */
#include "isa.h"

/* Physical addresses are 56 bits wide: nothing answers above. */
#define NO_MEMORY 0x0100000000000000ULL

static uint64_t amo_buf[4] __attribute__((aligned(16)));

#define EXPECT_ILLEGAL(insn)                           \
    do {                                               \
        m_expect();                                    \
        __asm__ volatile(insn ::: "t0", "memory");     \
        CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION); \
    } while (0)

static void illegal(void) {
    extern char il_custom[], il_vector[], il_half[], il_zero[];
    m_expect();
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "il_custom:\t.4byte 0x0000000b\n\t" /* custom-0 opcode */
                     ".option pop");
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.epc, (uint64_t)il_custom);
    CHECK(m_trap.tval == 0 || m_trap.tval == 0x0000000b);
    CHECK_EQ(m_trap.prev_priv, PRV_M);
    m_expect();
    __asm__ volatile("il_vector:\t.4byte 0x02000057"); /* vadd.vv: no V extension */
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.epc, (uint64_t)il_vector);
    CHECK(m_trap.tval == 0 || m_trap.tval == 0x02000057);
    m_expect();
    __asm__ volatile("il_half:\t.4byte 0x04000053"); /* fadd.h: no Zfh */
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.epc, (uint64_t)il_half);
    m_expect();
    __asm__ volatile("il_zero:\t.2byte 0");
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(m_trap.epc, (uint64_t)il_zero);
    CHECK_EQ(m_trap.tval, 0);
}

static uint64_t u_privileged(uint64_t arg) {
    (void)arg;
    uint64_t n = 0;
    EXPECT_ILLEGAL("mret");
    n += m_trap.prev_priv == PRV_U;
    EXPECT_ILLEGAL("sret");
    EXPECT_ILLEGAL("sfence.vma");
    EXPECT_ILLEGAL("csrr t0, sstatus");
    return n + 10;
}

static uint64_t s_privileged(uint64_t arg) {
    (void)arg;
    EXPECT_ILLEGAL("mret");
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    return 20;
}

static uint64_t s_sret_tsr(uint64_t arg) {
    (void)arg;
    EXPECT_ILLEGAL("sret"); /* mstatus.TSR */
    return 30;
}

static void privileged(void) {
    CHECK_EQ(call_in_mode(PRV_U, u_privileged, 0), 11);
    CHECK_EQ(call_in_mode(PRV_S, s_privileged, 0), 20);
    csr_set(mstatus, MSTATUS_TSR);
    CHECK_EQ(call_in_mode(PRV_S, s_sret_tsr, 0), 30);
    csr_clear(mstatus, MSTATUS_TSR);
}

/* ecall with a7 = 0, recording where it was */
static uint64_t do_ecall(uint64_t arg) {
    (void)arg;
    uint64_t at;
    m_expect();
    __asm__ volatile("lla %0, 1f\n\t"
                     "li a7, 0\n"
                     "1:\tecall"
                     : "=&r"(at)::"a7", "memory");
    return at;
}

static void ecalls(void) {
    /* from M: MPP = M, MPIE = the MIE before the trap, MIE = 0 inside */
    csr_set(mstatus, MSTATUS_MIE);
    uint64_t at = do_ecall(0);
    CHECK_TRAP(m_trap, CAUSE_MACHINE_ECALL);
    CHECK_EQ(m_trap.epc, at);
    CHECK_EQ(m_trap.tval, 0);
    CHECK_EQ(m_trap.prev_priv, PRV_M);
    CHECK_EQ(m_trap.status & (MSTATUS_MIE | MSTATUS_MPIE), MSTATUS_MPIE);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_MIE, MSTATUS_MIE); /* mret restored it */
    csr_clear(mstatus, MSTATUS_MIE);
    at = do_ecall(0);
    CHECK_EQ(m_trap.status & (MSTATUS_MIE | MSTATUS_MPIE), 0);
    /* from S and U */
    at = call_in_mode(PRV_S, do_ecall, 0);
    CHECK_TRAP(m_trap, CAUSE_SUPERVISOR_ECALL);
    CHECK_EQ(m_trap.epc, at);
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    at = call_in_mode(PRV_U, do_ecall, 0);
    CHECK_TRAP(m_trap, CAUSE_USER_ECALL);
    CHECK_EQ(m_trap.epc, at);
    CHECK_EQ(m_trap.tval, 0);
    CHECK_EQ(m_trap.prev_priv, PRV_U);
}

static void breakpoints(void) {
    extern char bp_here[];
    m_expect();
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "bp_here:\tebreak\n\t"
                     ".option pop");
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(m_trap.epc, (uint64_t)bp_here);
    CHECK(m_trap.tval == 0 || m_trap.tval == (uint64_t)bp_here);
}

#ifdef QEMU_DEVIATIONS
/* QEMU 7.2 reports a misaligned AMO as a load address-misaligned fault;
 * an AMO raises store/AMO exceptions (cause 6, or 7 if not emulated). */
#define AMO_MISALIGNED(cause) ((cause) == CAUSE_MISALIGNED_LOAD)
#define AMO_ACCESS_FAULT CAUSE_LOAD_ACCESS /* likewise for access faults */
#else
#define AMO_ACCESS_FAULT CAUSE_STORE_ACCESS
#define AMO_MISALIGNED(cause) ((cause) == CAUSE_MISALIGNED_STORE || (cause) == CAUSE_STORE_ACCESS)
#endif

static void misaligned_atomics(void) {
    uint8_t *base = (uint8_t *)amo_buf;
    amo_buf[0] = amo_buf[1] = 0x1111111111111111ULL;
    uint64_t old;
    m_expect();
    __asm__ volatile("amoadd.w %0, %1, (%2)" : "=r"(old) : "r"(1ULL), "r"(base + 1) : "memory");
    CHECK_EQ(m_trap.taken, 1);
    CHECK(AMO_MISALIGNED(m_trap.cause));
    CHECK_EQ(m_trap.tval, (uint64_t)(base + 1));
    m_expect();
    __asm__ volatile("amoswap.d %0, %1, (%2)" : "=r"(old) : "r"(0ULL), "r"(base + 4) : "memory");
    CHECK_EQ(m_trap.taken, 1);
    CHECK(AMO_MISALIGNED(m_trap.cause));
    CHECK_EQ(m_trap.tval, (uint64_t)(base + 4));
    m_expect();
    __asm__ volatile("lr.w %0, (%1)" : "=r"(old) : "r"(base + 2) : "memory");
    CHECK_EQ(m_trap.taken, 1);
    CHECK(m_trap.cause == CAUSE_MISALIGNED_LOAD || m_trap.cause == CAUSE_LOAD_ACCESS);
    CHECK_EQ(m_trap.tval, (uint64_t)(base + 2));
#ifndef QEMU_DEVIATIONS
    /* A misaligned SC faults whether or not it holds a reservation. (QEMU
     * 7.2 checks the reservation first and fails the SC without a trap.) */
    m_expect();
    __asm__ volatile("sc.d %0, %1, (%2)" : "=r"(old) : "r"(0ULL), "r"(base + 12) : "memory");
    CHECK_EQ(m_trap.taken, 1);
    CHECK(m_trap.cause == CAUSE_MISALIGNED_STORE || m_trap.cause == CAUSE_STORE_ACCESS);
    CHECK_EQ(m_trap.tval, (uint64_t)(base + 12));
#endif
    /* none of them wrote */
    CHECK_EQ(amo_buf[0], 0x1111111111111111ULL);
    CHECK_EQ(amo_buf[1], 0x1111111111111111ULL);
}

static void fetch_fault(uint64_t target) {
    m_expect();
    __asm__ volatile("lla t0, 1f\n\t"
                     "sd t0, 0(%0)\n\t"
                     "jr %1\n"
                     "1:"
                     ::"r"(&m_resume), "r"(target)
                     : "t0", "memory");
    CHECK_TRAP(m_trap, CAUSE_FETCH_ACCESS);
    CHECK_EQ(m_trap.epc, target);
    CHECK_EQ(m_trap.tval, target);
}

static void access_faults(void) {
    uint64_t v = 0;
    m_expect();
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(NO_MEMORY) : "memory");
    CHECK_TRAP(m_trap, CAUSE_LOAD_ACCESS);
    CHECK_EQ(m_trap.tval, NO_MEMORY);
    m_expect();
    __asm__ volatile("sw %0, 0x10(%1)" ::"r"(v), "r"(NO_MEMORY) : "memory");
    CHECK_TRAP(m_trap, CAUSE_STORE_ACCESS);
    CHECK_EQ(m_trap.tval, NO_MEMORY + 0x10);
    m_expect();
    __asm__ volatile("amoor.d %0, %0, (%1)" : "+r"(v) : "r"(NO_MEMORY + 8) : "memory");
    CHECK_TRAP(m_trap, AMO_ACCESS_FAULT);
    CHECK_EQ(m_trap.tval, NO_MEMORY + 8);
    fetch_fault(0);              /* nothing at 0 */
    fetch_fault(NO_MEMORY);
    fetch_fault(0x02000000);     /* the CLINT is not executable memory */
}

void test_main(void) {
    illegal();
    privileged();
    ecalls();
    breakpoints();
    misaligned_atomics();
    access_faults();
}
