/* mstatus.FS: with FS = Off every FP instruction and FP CSR access is an
 * illegal instruction (in M, S and U); changing FP state sets FS = Dirty
 * and SD; sstatus shows FS and SD. */
#include "isa.h"

#define EXPECT_ILLEGAL(insn)                                \
    do {                                                    \
        m_expect();                                         \
        __asm__ volatile(insn ::: "t0", "ft0", "memory");   \
        CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);      \
    } while (0)

static uint64_t scratch[2];

static void fs_off_traps(void) {
    csr_clear(mstatus, MSTATUS_FS);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, 0);
    EXPECT_ILLEGAL("fadd.d ft0, ft0, ft0");
    EXPECT_ILLEGAL("fadd.s ft0, ft0, ft0");
    EXPECT_ILLEGAL("fmadd.d ft0, ft0, ft0, ft0");
    EXPECT_ILLEGAL("fmv.x.d t0, ft0");
    EXPECT_ILLEGAL("fmv.w.x ft0, zero");
    EXPECT_ILLEGAL("fcvt.d.l ft0, zero");
    EXPECT_ILLEGAL("fclass.d t0, ft0");
    EXPECT_ILLEGAL("feq.s t0, ft0, ft0");
    EXPECT_ILLEGAL("fsgnj.d ft0, ft0, ft0");
    EXPECT_ILLEGAL("la t0, scratch\n\tfld ft0, 0(t0)");
    EXPECT_ILLEGAL("la t0, scratch\n\tflw ft0, 0(t0)");
    EXPECT_ILLEGAL("la t0, scratch\n\tfsd ft0, 0(t0)");
    EXPECT_ILLEGAL("la t0, scratch\n\tfsw ft0, 0(t0)");
    EXPECT_ILLEGAL("mv t0, sp\n\tc.fldsp ft0, 0(sp)");
    EXPECT_ILLEGAL("c.fsdsp ft0, 0(sp)");
    EXPECT_ILLEGAL("csrr t0, fcsr");
    EXPECT_ILLEGAL("csrr t0, frm");
    EXPECT_ILLEGAL("csrr t0, fflags");
    EXPECT_ILLEGAL("csrw fcsr, zero");
    EXPECT_ILLEGAL("fsflags t0, zero");
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, 0);
}

static uint64_t lower_fp(uint64_t arg) {
    (void)arg;
    m_expect();
    __asm__ volatile("fadd.d ft0, ft0, ft0" ::: "ft0");
    return m_trap.taken ? 16 + m_trap.cause : 0;
}

static void dirty(void) {
    /* Initial -> Dirty when an FP register is written */
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_INITIAL);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, MSTATUS_FS_INITIAL);
    CHECK_EQ(csr_read(mstatus) >> 63, 0);
    __asm__ volatile("fmv.d.x ft0, zero" ::: "ft0");
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, MSTATUS_FS_DIRTY);
    CHECK_EQ(csr_read(mstatus) >> 63, 1); /* SD */
    CHECK_EQ(csr_read(sstatus) & MSTATUS_FS, MSTATUS_FS_DIRTY);
    CHECK_EQ(csr_read(sstatus) >> 63, 1);
    /* Clean -> Dirty when fcsr is written */
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    CHECK_EQ(csr_read(mstatus) >> 63, 0);
    csr_write(fflags, 0);
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, MSTATUS_FS_DIRTY);
    /* Clean -> Dirty when an FP load writes a register */
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    __asm__ volatile("fld ft0, %0" ::"m"(scratch[0]) : "ft0");
    CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, MSTATUS_FS_DIRTY);
    /* Clean -> Dirty when an arithmetic op only sets fflags */
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    __asm__ volatile("feq.d t0, ft0, ft0" ::: "t0");
    uint64_t fs = csr_read(mstatus) & MSTATUS_FS;
    CHECK(fs == MSTATUS_FS_CLEAN || fs == MSTATUS_FS_DIRTY); /* may stay Clean: no state changed */
}

static void lower_modes(void) {
    csr_clear(mstatus, MSTATUS_FS);
    CHECK_EQ(call_in_mode(PRV_S, lower_fp, 0), 16 + CAUSE_ILLEGAL_INSTRUCTION);
    CHECK_EQ(call_in_mode(PRV_U, lower_fp, 0), 16 + CAUSE_ILLEGAL_INSTRUCTION);
    /* S can switch FP off for itself through sstatus */
    csr_set(mstatus, MSTATUS_FS_INITIAL);
    CHECK_EQ(call_in_mode(PRV_S, lower_fp, 0), 0);
    CHECK_EQ(call_in_mode(PRV_U, lower_fp, 0), 0);
}

void test_main(void) {
    fs_off_traps();
    dirty();
    lower_modes();
    csr_set(mstatus, MSTATUS_FS_INITIAL);
}
