/* Zicsr: the six CSR instructions (old value in rd, set/clear/write, x0 and
 * uimm = 0 forms do not write), read-only CSRs trap on writes, CSRs that do
 * not exist trap, privilege of the CSR number, sstatus / sie as views of
 * mstatus / mie. */
#include "isa.h"

#define M1 0xffffffffffffffffULL

/* On sscratch: the runtime keeps its trap stack in mscratch. */
static void six_forms(void) {
    uint64_t old;
    csr_write(sscratch, 0x1234);
    __asm__ volatile("csrrw %0, sscratch, %1" : "=r"(old) : "r"(0xf0f0f0f0f0f0f0f0ULL));
    CHECK_EQ(old, 0x1234);
    CHECK_EQ(csr_read(sscratch), 0xf0f0f0f0f0f0f0f0ULL);
    __asm__ volatile("csrrs %0, sscratch, %1" : "=r"(old) : "r"(0x0f00000000000001ULL));
    CHECK_EQ(old, 0xf0f0f0f0f0f0f0f0ULL);
    CHECK_EQ(csr_read(sscratch), 0xfff0f0f0f0f0f0f1ULL);
    __asm__ volatile("csrrc %0, sscratch, %1" : "=r"(old) : "r"(0xff00000000000000ULL));
    CHECK_EQ(old, 0xfff0f0f0f0f0f0f1ULL);
    CHECK_EQ(csr_read(sscratch), 0x00f0f0f0f0f0f0f1ULL);
    __asm__ volatile("csrrwi %0, sscratch, 31" : "=r"(old));
    CHECK_EQ(old, 0x00f0f0f0f0f0f0f1ULL);
    CHECK_EQ(csr_read(sscratch), 31); /* uimm is zero-extended */
    __asm__ volatile("csrrci %0, sscratch, 0x15" : "=r"(old));
    CHECK_EQ(old, 31);
    CHECK_EQ(csr_read(sscratch), 0x0a);
    __asm__ volatile("csrrsi %0, sscratch, 0x11" : "=r"(old));
    CHECK_EQ(old, 0x0a);
    CHECK_EQ(csr_read(sscratch), 0x1b);
    /* rd = rs1: a swap */
    uint64_t v = 0x77;
    __asm__ volatile("csrrw %0, sscratch, %0" : "+r"(v));
    CHECK_EQ(v, 0x1b);
    CHECK_EQ(csr_read(sscratch), 0x77);
    /* rd = x0 writes without reading; rs1 = x0 / uimm = 0 read without writing */
    __asm__ volatile("csrrw zero, sscratch, %0" ::"r"(M1));
    CHECK_EQ(csr_read(sscratch), M1);
    __asm__ volatile("csrrs %0, sscratch, zero" : "=r"(old));
    CHECK_EQ(old, M1);
    __asm__ volatile("csrrc %0, sscratch, zero" : "=r"(old));
    __asm__ volatile("csrrsi %0, sscratch, 0" : "=r"(old));
    __asm__ volatile("csrrci %0, sscratch, 0" : "=r"(old));
    CHECK_EQ(csr_read(sscratch), M1);
}

#define EXPECT_ILLEGAL(insn)                                  \
    do {                                                      \
        m_expect();                                           \
        __asm__ volatile(insn ::: "t0", "memory");            \
        CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);        \
    } while (0)
#define EXPECT_OK(insn)                                       \
    do {                                                      \
        m_expect();                                           \
        __asm__ volatile(insn ::: "t0", "memory");            \
        CHECK_NO_TRAP(m_trap);                                \
    } while (0)

static void read_only(void) {
    uint64_t hart = csr_read(mhartid);
    CHECK_EQ(hart, 0);
    /* reading is fine, with any of the non-writing forms */
    EXPECT_OK("csrr t0, mhartid");
    EXPECT_OK("csrrs t0, mvendorid, zero");
    EXPECT_OK("csrrc t0, marchid, zero");
    EXPECT_OK("csrrsi t0, mimpid, 0");
    EXPECT_OK("csrrci t0, mhartid, 0");
    EXPECT_OK("csrr t0, cycle");
    EXPECT_OK("csrr t0, instret");
    /* every form that writes traps, and leaves the CSR alone */
    EXPECT_ILLEGAL("csrw mhartid, zero");
    EXPECT_ILLEGAL("li t0, 1\n\tcsrw mhartid, t0");
    EXPECT_ILLEGAL("csrrwi t0, mvendorid, 0");
    EXPECT_ILLEGAL("csrrsi t0, marchid, 1");
    EXPECT_ILLEGAL("csrrci t0, mimpid, 1");
    EXPECT_ILLEGAL("li t0, 1\n\tcsrs mhartid, t0");
    EXPECT_ILLEGAL("li t0, 1\n\tcsrc mhartid, t0");
    EXPECT_ILLEGAL("csrw cycle, zero");
    EXPECT_ILLEGAL("csrwi instret, 5");
    CHECK_EQ(csr_read(mhartid), hart);
#ifndef QEMU_DEVIATIONS
    /* A CSRRS/CSRRC whose rs1 is not x0 writes even when the register
     * holds 0, so it traps on a read-only CSR. (QEMU 7.2 only looks at
     * the value: it lets these through.) */
    EXPECT_ILLEGAL("li t0, 0\n\tcsrs mhartid, t0");
    EXPECT_ILLEGAL("li t0, 0\n\tcsrc mvendorid, t0");
#endif
}

static void missing(void) {
    /* hypervisor, vector and RV32-only CSRs do not exist on this hart */
    EXPECT_ILLEGAL("csrr t0, 0x600");  /* hstatus */
    EXPECT_ILLEGAL("csrw 0x600, zero");
    EXPECT_ILLEGAL("csrr t0, 0x008");  /* vstart */
    EXPECT_ILLEGAL("csrr t0, 0xc20");  /* vl */
    EXPECT_ILLEGAL("csrr t0, 0xc80");  /* cycleh */
    EXPECT_ILLEGAL("csrr t0, 0xb80");  /* mcycleh */
    EXPECT_ILLEGAL("csrr t0, 0x800");  /* custom, unimplemented */
    EXPECT_ILLEGAL("csrr t0, 0x14d");  /* stimecmp: no Sstc */
    EXPECT_ILLEGAL("csrw 0x14d, zero");
    EXPECT_ILLEGAL("csrr t0, 0x5ff");
    /* mtval of an illegal CSR access is 0 or the instruction */
    uint32_t insn;
    __asm__ volatile("lla %0, 1f\n\tlwu %0, 0(%0)" : "=r"(insn));
    m_expect();
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "1:\tcsrr t0, 0x600\n\t"
                     ".option pop" ::: "t0");
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
    CHECK(m_trap.tval == 0 || m_trap.tval == insn);
}

static uint64_t s_read_mstatus(uint64_t arg) {
    (void)arg;
    m_expect();
    __asm__ volatile("csrr t0, mstatus" ::: "t0");
    uint64_t r1 = m_trap.taken;
    m_expect();
    __asm__ volatile("csrw mscratch, zero");
    uint64_t r2 = m_trap.taken;
    m_expect();
    __asm__ volatile("csrr t0, sscratch" ::: "t0"); /* S CSR: fine */
    uint64_t r3 = m_trap.taken;
    return r1 | r2 << 1 | r3 << 2;
}

static uint64_t u_read_s_csrs(uint64_t arg) {
    (void)arg;
    m_expect();
    __asm__ volatile("csrr t0, sstatus" ::: "t0");
    uint64_t r1 = m_trap.taken;
    m_expect();
    __asm__ volatile("csrw sscratch, zero");
    uint64_t r2 = m_trap.taken;
    m_expect();
    __asm__ volatile("csrr t0, mscratch" ::: "t0");
    uint64_t r3 = m_trap.taken;
    return r1 | r2 << 1 | r3 << 2;
}

static void privilege(void) {
    CHECK_EQ(call_in_mode(PRV_S, s_read_mstatus, 0), 0x3); /* M CSRs trap from S */
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    CHECK_EQ(call_in_mode(PRV_U, u_read_s_csrs, 0), 0x7); /* S and M CSRs trap from U */
    CHECK_EQ(m_trap.prev_priv, PRV_U);
}

static void no_sstc(void) {
#ifndef QEMU_DEVIATIONS
    /* without Sstc, menvcfg.STCE is read-only zero (QEMU 7.2 with sstc=false
     * still lets it be set) */
    csr_set(0x30a, BIT(63));
    CHECK_EQ(csr_read(0x30a) >> 63, 0);
#endif
}

static void views(void) {
    /* sstatus shows the S fields of mstatus, not the M ones */
    csr_clear(mstatus, MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE);
    csr_set(sstatus, MSTATUS_SIE);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_SIE, MSTATUS_SIE);
    csr_set(mstatus, MSTATUS_MPIE);
    CHECK_EQ(csr_read(sstatus) & (MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MIE), 0);
    csr_set(sstatus, MSTATUS_MPIE); /* not an sstatus field: ignored */
    csr_clear(mstatus, MSTATUS_MPIE);
    csr_set(sstatus, MSTATUS_MPIE);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_MPIE, 0);
    csr_clear(sstatus, MSTATUS_SIE);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_SIE, 0);
    /* sie shows mie bits of delegated interrupts only */
    csr_write(mideleg, MIP_SSIP | MIP_STIP | MIP_SEIP);
    csr_write(mie, MIP_SSIP | MIP_MSIP | MIP_MTIP);
    CHECK_EQ(csr_read(sie), MIP_SSIP);
    csr_write(sie, MIP_STIP | MIP_MTIP);
    CHECK_EQ(csr_read(mie), MIP_STIP | MIP_MSIP | MIP_MTIP);
    csr_write(mie, 0);
    csr_write(mideleg, 0);
}

void test_main(void) {
    six_forms();
    read_only();
    missing();
    privilege();
    no_sstc();
    views();
}
