/* Sdtrig (debug spec 1.0): tselect enumerates the triggers (an index past the
 * last keeps the old value), tinfo names types 2 and 6, tdata1 reads back what
 * a supported configuration wrote (dmode and action 1 are not writable here);
 * mcontrol / mcontrol6 address matches on execute, load and store raise a
 * breakpoint exception before the instruction (mepc/sepc at it, tval the
 * address) in the modes their m/s/u bits name, on equal, >= and < matches.
 * Re-entry: in M a trigger fires only with tcontrol.MTE, a breakpoint trap into
 * M moves MTE to MPTE and mret moves it back; in S with breakpoints delegated
 * it fires only with sstatus.SIE. The trigger CSRs are M-mode CSRs. */
#include "isa.h"

#define TYPE(t) ((uint64_t)(t) << 60)
#define MC_LOAD BIT(0)
#define MC_STORE BIT(1)
#define MC_EXEC BIT(2)
#define MC_U BIT(3)
#define MC_S BIT(4)
#define MC_M BIT(6)
#define MC_MATCH(m) ((uint64_t)(m) << 7)
#define MTE BIT(3)
#define MPTE BIT(7)

/* an instruction to put an execute trigger on */
__asm__(".text\n.balign 4\n.globl trig_nop\ntrig_nop:\n\tnop\n\tret\n");
extern char trig_nop[];
static void run_nop(void) { ((void (*)(void))trig_nop)(); }
static uint64_t run_nop_in(uint64_t arg) {
    (void)arg;
    run_nop();
    return 0;
}

/* avmm writes the matching address to tval; QEMU 7.2 writes 0 (also allowed) */
#ifdef QEMU_DEVIATIONS
#define CHECK_TVAL(info, addr) CHECK((info).tval == (addr) || (info).tval == 0)
#else
#define CHECK_TVAL(info, addr) CHECK_EQ((info).tval, (addr))
#endif

static volatile uint64_t data[4] = {11, 22, 33, 44};

static void arm(unsigned index, uint64_t tdata1, uint64_t tdata2) {
    csr_write(tselect, index);
    csr_write(tdata1, 0);
    csr_write(tdata2, tdata2);
    csr_write(tdata1, tdata1);
}

static void disarm_all(void) {
    for (unsigned i = 0; i < 2; i++) {
        csr_write(tselect, i);
        csr_write(tdata1, 0);
    }
}

static void enumeration(void) {
    unsigned n = 0;
    for (unsigned i = 0; i < 64; i++) {
        csr_write(tselect, i);
        if (csr_read(tselect) != i)
            break;
        n++;
    }
    CHECK(n >= 2); /* how many is the implementation's choice (avmm: 4) */
    csr_write(tselect, 1);
    csr_write(tselect, n);
    CHECK_EQ(csr_read(tselect), 1); /* no trigger n: unchanged */
    csr_write(tselect, ~0ull);
    CHECK_EQ(csr_read(tselect), 1);
    uint64_t info = csr_read(tinfo);
    CHECK_EQ(info & (BIT(2) | BIT(6)), BIT(2) | BIT(6));
#ifndef QEMU_DEVIATIONS /* QEMU 7.2 implements the 0.13 draft: tinfo.version 0 */
    CHECK_EQ(info >> 24 & 0xff, 1); /* version 1.0 */
#endif
    /* the exact values rv64mi-p-breakpoint writes and reads back */
    for (uint64_t bits = MC_EXEC; bits; bits = bits == MC_EXEC ? MC_LOAD : bits == MC_LOAD ? MC_STORE : 0) {
        csr_write(tdata1, TYPE(2) | MC_M | bits);
        CHECK_EQ(csr_read(tdata1), TYPE(2) | MC_M | bits);
    }
#ifndef QEMU_DEVIATIONS /* QEMU 7.2 has match 0 only (WARL: avmm has 0-3) */
    csr_write(tdata1, TYPE(6) | MC_S | MC_U | MC_LOAD | MC_MATCH(2));
    CHECK_EQ(csr_read(tdata1), TYPE(6) | MC_S | MC_U | MC_LOAD | MC_MATCH(2));
#endif
    /* dmode (bit 59) is for Debug Mode and action 1 needs it: both read 0 */
    csr_write(tdata1, TYPE(6) | BIT(59) | (1ull << 12) | MC_M | MC_EXEC);
    CHECK_EQ(csr_read(tdata1), TYPE(6) | MC_M | MC_EXEC);
    /* writing 0 disables the trigger: it reads as disabled (15) or none (0) */
    csr_write(tdata1, 0);
#ifndef QEMU_DEVIATIONS /* QEMU 7.2 (0.13 draft) keeps type 2 */
    uint64_t type = csr_read(tdata1) >> 60;
    CHECK(type == 15 || type == 0);
#endif
    csr_write(tdata2, 0x1234);
    CHECK_EQ(csr_read(tdata2), 0x1234);
}

static void m_mode(void) {
    arm(0, TYPE(2) | MC_M | MC_EXEC, (uint64_t)trig_nop);
#ifndef QEMU_DEVIATIONS /* QEMU 7.2 has no tcontrol: M-mode triggers always fire */
    /* without tcontrol.MTE an M-mode trigger stays quiet */
    csr_write(tcontrol, 0);
    m_expect();
    run_nop();
    CHECK_NO_TRAP(m_trap);
    csr_write(tcontrol, MTE);
#endif
    /* with it: a breakpoint before the instruction, tval = its address */
    m_expect();
    run_nop();
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(m_trap.epc, (uint64_t)trig_nop);
    CHECK_TVAL(m_trap, (uint64_t)trig_nop);
#ifndef QEMU_DEVIATIONS
    CHECK_EQ(csr_read(tcontrol), MTE | MPTE); /* MPTE = MTE on the trap, MTE = MPTE by mret */
#endif
    disarm_all();

    /* a load: the destination keeps its value */
    arm(1, TYPE(6) | MC_M | MC_LOAD, (uint64_t)&data[1]);
    uint64_t v = 99;
    m_expect();
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(&data[1]) : "memory");
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_TVAL(m_trap, (uint64_t)&data[1]);
    CHECK_EQ(v, 99);
    /* a store to the word is not a load; a load of a neighbour does not match */
    m_expect();
    data[1] = 23;
    v = data[0] + data[2];
    CHECK_NO_TRAP(m_trap);
    CHECK_EQ(v, 11 + 33);
    /* a store: memory keeps its value; a store that covers the address matches */
    arm(1, TYPE(2) | MC_M | MC_STORE, (uint64_t)&data[2] + 4);
    m_expect();
    data[2] = 77;
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_TVAL(m_trap, (uint64_t)&data[2]);
    CHECK_EQ(data[2], 33);
    /* two triggers at once: the first one still fires */
    arm(0, TYPE(6) | MC_M | MC_LOAD, (uint64_t)&data[3]);
    m_expect();
    v = data[3];
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    m_expect();
    data[2] = 78;
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    disarm_all();

    disarm_all();
#ifndef QEMU_DEVIATIONS
    csr_write(tcontrol, 0);
#endif
}

static uint64_t s_load(uint64_t arg) {
    return *(volatile uint64_t *)arg;
}

static uint64_t s_store(uint64_t arg) {
    *(volatile uint64_t *)arg = 5;
    return 0;
}

static uint64_t s_read_tselect(uint64_t arg) {
    (void)arg;
    return csr_read(tselect);
}

static uint64_t s_nop_with_sie(uint64_t arg) {
    if (arg)
        csr_set(sstatus, MSTATUS_SIE);
    s_expect();
    run_nop();
    csr_clear(sstatus, MSTATUS_SIE);
    return 0;
}

static void lower_modes(void) {
    /* an S-mode trigger fires in S (to M without delegation), not in M or U */
    arm(0, TYPE(6) | MC_S | MC_EXEC, (uint64_t)trig_nop);
    m_expect();
    run_nop();
    call_in_mode(PRV_U, run_nop_in, 0);
    CHECK_NO_TRAP(m_trap);
    m_expect();
    call_in_mode(PRV_S, run_nop_in, 0);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(m_trap.epc, (uint64_t)trig_nop);
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    /* a U-mode one in U only */
    arm(0, TYPE(2) | MC_U | MC_EXEC, (uint64_t)trig_nop);
    m_expect();
    call_in_mode(PRV_S, run_nop_in, 0);
    CHECK_NO_TRAP(m_trap);
    call_in_mode(PRV_U, run_nop_in, 0);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(m_trap.prev_priv, PRV_U);
    /* loads and stores in S and U */
    arm(1, TYPE(6) | MC_S | MC_U | MC_LOAD | MC_STORE, (uint64_t)&data[0]);
    m_expect();
    call_in_mode(PRV_S, s_load, (uint64_t)&data[0]);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_TVAL(m_trap, (uint64_t)&data[0]);
    m_expect();
    call_in_mode(PRV_U, s_store, (uint64_t)&data[0]);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(data[0], 11);
    m_expect();
    CHECK_EQ(call_in_mode(PRV_U, s_load, (uint64_t)&data[1]), 23);
    CHECK_NO_TRAP(m_trap);
    disarm_all();

#ifndef QEMU_DEVIATIONS
    /* match 2 (>=) and 3 (<), in U where nothing else loads */
    arm(0, TYPE(6) | MC_U | MC_LOAD | MC_MATCH(2), (uint64_t)&data[2]);
    m_expect();
    call_in_mode(PRV_U, s_load, (uint64_t)&data[1]);
    CHECK_NO_TRAP(m_trap);
    call_in_mode(PRV_U, s_load, (uint64_t)&data[3]);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    CHECK_TVAL(m_trap, (uint64_t)&data[3]);
    arm(0, TYPE(6) | MC_U | MC_LOAD | MC_MATCH(3), (uint64_t)&data[1]);
    m_expect();
    call_in_mode(PRV_U, s_load, (uint64_t)&data[2]);
    CHECK_NO_TRAP(m_trap);
    call_in_mode(PRV_U, s_load, (uint64_t)&data[0]);
    CHECK_TRAP(m_trap, CAUSE_BREAKPOINT);
    disarm_all();
#endif

    /* delegated to S: in S only with sstatus.SIE (no re-entry into its handler) */
    s_trap_init();
    csr_write(medeleg, BIT(CAUSE_BREAKPOINT));
    arm(0, TYPE(6) | MC_S | MC_EXEC, (uint64_t)trig_nop);
#ifndef QEMU_DEVIATIONS /* QEMU 7.2 (0.13 draft) has no re-entry rule for S */
    call_in_mode(PRV_S, s_nop_with_sie, 0);
    CHECK_NO_TRAP(s_trap);
#endif
    call_in_mode(PRV_S, s_nop_with_sie, 1);
    CHECK_TRAP(s_trap, CAUSE_BREAKPOINT);
    CHECK_EQ(s_trap.epc, (uint64_t)trig_nop);
    CHECK_TVAL(s_trap, (uint64_t)trig_nop);
    csr_write(medeleg, 0);
    disarm_all();

    /* the trigger CSRs belong to M-mode; scontext is S-mode's */
    m_expect();
    call_in_mode(PRV_S, s_read_tselect, 0);
    CHECK_TRAP(m_trap, CAUSE_ILLEGAL_INSTRUCTION);
}

void test_main(void) {
    enumeration();
    disarm_all();
    m_mode();
    lower_modes();
}
