/* Zicntr: cycle, time and instret readable in M; instret counts retired
 * instructions; time follows the CLINT's mtime; mcounteren gates S and U,
 * scounteren gates U, bit by bit. Reads `time`, so on QEMU it runs on the
 * virt board (spike has no time CSR). */
#include "isa.h"

#define CY BIT(0)
#define TM BIT(1)
#define IR BIT(2)

static void machine_mode(void) {
    uint64_t c0 = csr_read(cycle), i0 = csr_read(instret), t0 = csr_read(time);
    for (int i = 0; i < 1000; i++)
        __asm__ volatile("nop");
    uint64_t c1 = csr_read(cycle), i1 = csr_read(instret), t1 = csr_read(time);
    CHECK(c1 > c0);
    CHECK(i1 - i0 >= 1000);
    CHECK(t1 >= t0);
    /* mcycle / minstret are the same counters */
    uint64_t m = csr_read(minstret), u = csr_read(instret);
    CHECK(u > m && u - m < 10);
    /* instret counts instructions exactly: a csrr and 100 nops */
    uint64_t a, b;
    __asm__ volatile("csrr %0, instret\n\t"
                     ".rept 100\n\tnop\n\t.endr\n\t"
                     "csrr %1, instret"
                     : "=r"(a), "=r"(b));
    CHECK_EQ(b - a, 101);
    /* time is the CLINT's mtime */
    uint64_t ta = csr_read(time), mt = clint_mtime(), tb = csr_read(time);
    CHECK(ta <= mt && mt <= tb);
    /* minstret is writable from M */
    csr_write(minstret, 1000000);
    CHECK(csr_read(minstret) - 1000000 < 10);
}

/* Which of cycle, time, instret trap when read in the current mode:
 * bit 0, 1, 2 as in mcounteren. */
static uint64_t probe(uint64_t arg) {
    (void)arg;
    uint64_t traps = 0;
    m_expect();
    __asm__ volatile("csrr t0, cycle" ::: "t0");
    traps |= m_trap.taken ? CY : 0;
    m_expect();
    __asm__ volatile("csrr t0, time" ::: "t0");
    traps |= m_trap.taken ? TM : 0;
    m_expect();
    __asm__ volatile("csrr t0, instret" ::: "t0");
    traps |= m_trap.taken ? IR : 0;
    return traps;
}

static void gating(void) {
    static const uint64_t masks[] = {0, CY, TM, IR, CY | IR, CY | TM | IR};
    for (unsigned i = 0; i < sizeof masks / sizeof *masks; i++) {
        for (unsigned j = 0; j < sizeof masks / sizeof *masks; j++) {
            uint64_t m = masks[i], s = masks[j];
            csr_write(mcounteren, m);
            csr_write(scounteren, s);
            CHECK_EQ(csr_read(mcounteren) & 7, m);
            CHECK_EQ(csr_read(scounteren) & 7, s);
            /* S needs mcounteren; U needs mcounteren and scounteren */
            CHECK_EQ(call_in_mode(PRV_S, probe, 0), ~m & 7);
            CHECK_EQ(m_trap.cause == CAUSE_ILLEGAL_INSTRUCTION || (~m & IR) == 0, 1);
            CHECK_EQ(call_in_mode(PRV_U, probe, 0), ~(m & s) & 7);
        }
    }
    /* M-mode reads are never gated */
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
    CHECK_EQ(probe(0), 0);
}

void test_main(void) {
    machine_mode();
    gating();
}
