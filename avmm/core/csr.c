/*
 * CSRs, traps and interrupts (privileged architecture 1.12, M/S/U without H).
 *
 * PMP CSRs are stored as written (WARL) and not enforced.
 */
#include "core.h"

enum {
    CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
    CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
    CSR_HPM3 = 0xc03, CSR_HPM31 = 0xc1f,
    CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
    CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
    CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_STIMECMP = 0x14d, CSR_SATP = 0x180,
    CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
    CSR_MCONFIGPTR = 0xf15,
    CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
    CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
    CSR_MCOUNTINHIBIT = 0x320, CSR_MHPMEVENT3 = 0x323, CSR_MHPMEVENT31 = 0x33f,
    CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
    CSR_MIP = 0x344,
    CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG15 = 0x3af, CSR_PMPADDR0 = 0x3b0, CSR_PMPADDR63 = 0x3ef,
    CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02, CSR_MHPM3 = 0xb03, CSR_MHPM31 = 0xb1f,
};

#define MSTATUS_WMASK                                                                        \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |   \
     MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |      \
     MSTATUS_TSR)
#define SSTATUS_MASK                                                                         \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR |     \
     MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WMASK                                                                        \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
/* address translation depends on these: changing them flushes the fast cache */
#define MSTATUS_XLATE (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR)
#define MEDELEG_MASK 0xb3ffull /* 0-9, 12, 13, 15: ecall from M is not delegable */

const csr_name_t csr_names[] = {
    {"fflags", CSR_FFLAGS}, {"frm", CSR_FRM}, {"fcsr", CSR_FCSR},
    {"cycle", CSR_CYCLE}, {"time", CSR_TIME}, {"instret", CSR_INSTRET},
    {"hpmcounter3", 0xc03}, {"hpmcounter4", 0xc04}, {"hpmcounter5", 0xc05},
    {"hpmcounter6", 0xc06}, {"hpmcounter7", 0xc07}, {"hpmcounter8", 0xc08},
    {"hpmcounter9", 0xc09}, {"hpmcounter10", 0xc0a}, {"hpmcounter11", 0xc0b},
    {"hpmcounter12", 0xc0c}, {"hpmcounter13", 0xc0d}, {"hpmcounter14", 0xc0e},
    {"hpmcounter15", 0xc0f}, {"hpmcounter16", 0xc10}, {"hpmcounter17", 0xc11},
    {"hpmcounter18", 0xc12}, {"hpmcounter19", 0xc13}, {"hpmcounter20", 0xc14},
    {"hpmcounter21", 0xc15}, {"hpmcounter22", 0xc16}, {"hpmcounter23", 0xc17},
    {"hpmcounter24", 0xc18}, {"hpmcounter25", 0xc19}, {"hpmcounter26", 0xc1a},
    {"hpmcounter27", 0xc1b}, {"hpmcounter28", 0xc1c}, {"hpmcounter29", 0xc1d},
    {"hpmcounter30", 0xc1e}, {"hpmcounter31", 0xc1f},
    {"sstatus", CSR_SSTATUS}, {"sie", CSR_SIE}, {"stvec", CSR_STVEC},
    {"scounteren", CSR_SCOUNTEREN}, {"senvcfg", CSR_SENVCFG}, {"sscratch", CSR_SSCRATCH},
    {"sepc", CSR_SEPC}, {"scause", CSR_SCAUSE}, {"stval", CSR_STVAL}, {"sip", CSR_SIP},
    {"stimecmp", CSR_STIMECMP}, {"satp", CSR_SATP},
    {"mvendorid", CSR_MVENDORID}, {"marchid", CSR_MARCHID}, {"mimpid", CSR_MIMPID},
    {"mhartid", CSR_MHARTID}, {"mconfigptr", CSR_MCONFIGPTR},
    {"mstatus", CSR_MSTATUS}, {"misa", CSR_MISA}, {"medeleg", CSR_MEDELEG},
    {"mideleg", CSR_MIDELEG}, {"mie", CSR_MIE}, {"mtvec", CSR_MTVEC},
    {"mcounteren", CSR_MCOUNTEREN}, {"menvcfg", CSR_MENVCFG},
    {"mcountinhibit", CSR_MCOUNTINHIBIT},
    {"mhpmevent3", 0x323}, {"mhpmevent4", 0x324}, {"mhpmevent5", 0x325},
    {"mhpmevent6", 0x326}, {"mhpmevent7", 0x327}, {"mhpmevent8", 0x328},
    {"mhpmevent9", 0x329}, {"mhpmevent10", 0x32a}, {"mhpmevent11", 0x32b},
    {"mhpmevent12", 0x32c}, {"mhpmevent13", 0x32d}, {"mhpmevent14", 0x32e},
    {"mhpmevent15", 0x32f}, {"mhpmevent16", 0x330}, {"mhpmevent17", 0x331},
    {"mhpmevent18", 0x332}, {"mhpmevent19", 0x333}, {"mhpmevent20", 0x334},
    {"mhpmevent21", 0x335}, {"mhpmevent22", 0x336}, {"mhpmevent23", 0x337},
    {"mhpmevent24", 0x338}, {"mhpmevent25", 0x339}, {"mhpmevent26", 0x33a},
    {"mhpmevent27", 0x33b}, {"mhpmevent28", 0x33c}, {"mhpmevent29", 0x33d},
    {"mhpmevent30", 0x33e}, {"mhpmevent31", 0x33f},
    {"mscratch", CSR_MSCRATCH}, {"mepc", CSR_MEPC}, {"mcause", CSR_MCAUSE},
    {"mtval", CSR_MTVAL}, {"mip", CSR_MIP},
    {"pmpcfg0", 0x3a0}, {"pmpcfg2", 0x3a2}, {"pmpcfg4", 0x3a4}, {"pmpcfg6", 0x3a6},
    {"pmpcfg8", 0x3a8}, {"pmpcfg10", 0x3aa}, {"pmpcfg12", 0x3ac}, {"pmpcfg14", 0x3ae},
    {"pmpaddr0", 0x3b0}, {"pmpaddr1", 0x3b1}, {"pmpaddr2", 0x3b2}, {"pmpaddr3", 0x3b3},
    {"pmpaddr4", 0x3b4}, {"pmpaddr5", 0x3b5}, {"pmpaddr6", 0x3b6}, {"pmpaddr7", 0x3b7},
    {"pmpaddr8", 0x3b8}, {"pmpaddr9", 0x3b9}, {"pmpaddr10", 0x3ba}, {"pmpaddr11", 0x3bb},
    {"pmpaddr12", 0x3bc}, {"pmpaddr13", 0x3bd}, {"pmpaddr14", 0x3be}, {"pmpaddr15", 0x3bf},
    {"pmpaddr16", 0x3c0}, {"pmpaddr17", 0x3c1}, {"pmpaddr18", 0x3c2}, {"pmpaddr19", 0x3c3},
    {"pmpaddr20", 0x3c4}, {"pmpaddr21", 0x3c5}, {"pmpaddr22", 0x3c6}, {"pmpaddr23", 0x3c7},
    {"pmpaddr24", 0x3c8}, {"pmpaddr25", 0x3c9}, {"pmpaddr26", 0x3ca}, {"pmpaddr27", 0x3cb},
    {"pmpaddr28", 0x3cc}, {"pmpaddr29", 0x3cd}, {"pmpaddr30", 0x3ce}, {"pmpaddr31", 0x3cf},
    {"pmpaddr32", 0x3d0}, {"pmpaddr33", 0x3d1}, {"pmpaddr34", 0x3d2}, {"pmpaddr35", 0x3d3},
    {"pmpaddr36", 0x3d4}, {"pmpaddr37", 0x3d5}, {"pmpaddr38", 0x3d6}, {"pmpaddr39", 0x3d7},
    {"pmpaddr40", 0x3d8}, {"pmpaddr41", 0x3d9}, {"pmpaddr42", 0x3da}, {"pmpaddr43", 0x3db},
    {"pmpaddr44", 0x3dc}, {"pmpaddr45", 0x3dd}, {"pmpaddr46", 0x3de}, {"pmpaddr47", 0x3df},
    {"pmpaddr48", 0x3e0}, {"pmpaddr49", 0x3e1}, {"pmpaddr50", 0x3e2}, {"pmpaddr51", 0x3e3},
    {"pmpaddr52", 0x3e4}, {"pmpaddr53", 0x3e5}, {"pmpaddr54", 0x3e6}, {"pmpaddr55", 0x3e7},
    {"pmpaddr56", 0x3e8}, {"pmpaddr57", 0x3e9}, {"pmpaddr58", 0x3ea}, {"pmpaddr59", 0x3eb},
    {"pmpaddr60", 0x3ec}, {"pmpaddr61", 0x3ed}, {"pmpaddr62", 0x3ee}, {"pmpaddr63", 0x3ef},
    {"mcycle", CSR_MCYCLE}, {"minstret", CSR_MINSTRET},
    {"mhpmcounter3", 0xb03}, {"mhpmcounter4", 0xb04}, {"mhpmcounter5", 0xb05},
    {"mhpmcounter6", 0xb06}, {"mhpmcounter7", 0xb07}, {"mhpmcounter8", 0xb08},
    {"mhpmcounter9", 0xb09}, {"mhpmcounter10", 0xb0a}, {"mhpmcounter11", 0xb0b},
    {"mhpmcounter12", 0xb0c}, {"mhpmcounter13", 0xb0d}, {"mhpmcounter14", 0xb0e},
    {"mhpmcounter15", 0xb0f}, {"mhpmcounter16", 0xb10}, {"mhpmcounter17", 0xb11},
    {"mhpmcounter18", 0xb12}, {"mhpmcounter19", 0xb13}, {"mhpmcounter20", 0xb14},
    {"mhpmcounter21", 0xb15}, {"mhpmcounter22", 0xb16}, {"mhpmcounter23", 0xb17},
    {"mhpmcounter24", 0xb18}, {"mhpmcounter25", 0xb19}, {"mhpmcounter26", 0xb1a},
    {"mhpmcounter27", 0xb1b}, {"mhpmcounter28", 0xb1c}, {"mhpmcounter29", 0xb1d},
    {"mhpmcounter30", 0xb1e}, {"mhpmcounter31", 0xb1f},
};
const int csr_names_count = (int)(sizeof(csr_names) / sizeof(csr_names[0]));

/* ------------------------------------------------------------ mip */

static inline bool stce_active(hart_t *h)
{
    return h->m->sstc && (h->menvcfg & MENVCFG_STCE);
}

void hart_update_timers(hart_t *h)
{
    uint64_t t = machine_time(h->m), b = 0;
    if (t >= h->mtimecmp && h->mtimecmp != DISARMED)
        b |= MIP_MTIP;
    if (t >= h->stimecmp && h->stimecmp != DISARMED)
        b |= MIP_STIP;
    h->timer_bits = b;
}

static inline uint64_t compose_mip(hart_t *h)
{
    uint64_t sw = h->mip_sw & (MIP_SSIP | MIP_STIP | MIP_SEIP);
    if (stce_active(h))
        sw &= ~MIP_STIP; /* STIP is the comparator's alone under Sstc */
    return sw | (h->lines & (MIP_MEIP | MIP_SEIP | MIP_MSIP)) | h->timer_bits;
}

uint64_t hart_mip(hart_t *h)
{
    hart_update_timers(h);
    return compose_mip(h);
}

bool hart_wakeup_pending(hart_t *h)
{
    return (hart_mip(h) & h->mie) != 0;
}

int hart_pending_irq(hart_t *h)
{
    uint64_t p = compose_mip(h) & h->mie;
    if (likely(!p))
        return -1;
    bool m_en = h->priv < PRIV_M || (h->mstatus & MSTATUS_MIE);
    bool s_en = h->priv < PRIV_S || (h->priv == PRIV_S && (h->mstatus & MSTATUS_SIE));
    uint64_t sel = m_en ? (p & ~h->mideleg) : 0;
    if (!sel && s_en)
        sel = p & h->mideleg;
    if (!sel)
        return -1;
    static const int order[] = {IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER,
                                IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER};
    for (int i = 0; i < 6; i++)
        if (sel & (1ull << order[i]))
            return order[i];
    return -1;
}

/* ------------------------------------------------------------ traps */

bool trap_goes_to_m(hart_t *h, uint64_t cause)
{
    return h->priv == PRIV_M || cause >= 64 || !((h->medeleg >> cause) & 1);
}

void hart_take_trap(hart_t *h, uint64_t cause, uint64_t tval, bool irq)
{
    uint64_t deleg = irq ? h->mideleg : h->medeleg;
    bool to_s = h->priv <= PRIV_S && cause < 64 && ((deleg >> cause) & 1);
    uint64_t xcause = cause | (irq ? 1ull << 63 : 0);
    uint64_t s = h->mstatus;
    if (irq)
        h->st.interrupts[cause & 15]++;
    if (to_s) {
        h->scause = xcause;
        h->sepc = h->pc & ~1ull;
        h->stval = tval;
        s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
        s &= ~MSTATUS_SIE;
        s = (s & ~MSTATUS_SPP) | (h->priv == PRIV_S ? MSTATUS_SPP : 0);
        h->mstatus = s;
        h->priv = PRIV_S;
        uint64_t base = h->stvec & ~3ull;
        h->pc = ((h->stvec & 1) && irq) ? base + 4 * cause : base;
    } else {
        h->mcause = xcause;
        h->mepc = h->pc & ~1ull;
        h->mtval = tval;
        s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
        s &= ~MSTATUS_MIE;
        s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
        h->mstatus = s;
        if (h->priv != PRIV_M)
            h->fw_call = true; /* a trap from M to M stays inside the call it is in */
        h->priv = PRIV_M;
        uint64_t base = h->mtvec & ~3ull;
        h->pc = ((h->mtvec & 1) && irq) ? base + 4 * cause : base;
    }
}

/* MEM_OK or MEM_EXC (illegal instruction; the caller sets tval) */
int exec_mret(hart_t *h)
{
    if (h->priv != PRIV_M)
        return MEM_EXC;
    uint64_t s = h->mstatus;
    int mpp = (int)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
    s |= MSTATUS_MPIE;
    s &= ~MSTATUS_MPP; /* MPP = U, the least-privileged mode */
    if (mpp != PRIV_M)
        s &= ~MSTATUS_MPRV;
    h->mstatus = s;
    if (mpp != PRIV_M)
        h->fw_call = false;
    h->priv = mpp;
    h->pc = h->mepc;
    return MEM_OK;
}

int exec_sret(hart_t *h)
{
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TSR)))
        return MEM_EXC;
    uint64_t s = h->mstatus;
    int spp = (s & MSTATUS_SPP) ? PRIV_S : PRIV_U;
    s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
    s |= MSTATUS_SPIE;
    s &= ~MSTATUS_SPP;
    s &= ~MSTATUS_MPRV; /* the new mode is below M */
    h->mstatus = s;
    h->priv = spp;
    h->pc = h->sepc;
    return MEM_OK;
}

/* ------------------------------------------------------------ CSR access */

uint64_t mstatus_read(hart_t *h)
{
    uint64_t s = h->mstatus;
    if ((s & MSTATUS_FS) == MSTATUS_FS)
        s |= MSTATUS_SD;
    return s;
}

static bool counter_ok(hart_t *h, int idx)
{
    if (h->priv == PRIV_M)
        return true;
    if (!((h->mcounteren >> idx) & 1))
        return false;
    if (h->priv == PRIV_U && !((h->scounteren >> idx) & 1))
        return false;
    return true;
}

bool csr_exists(hart_t *h, int csr)
{
    uint64_t v;
    /* a host read has no privilege checks: it fails only for unknown CSRs */
    return csr_read(h, csr, &v, false) == MEM_OK;
}

/* guest: apply privilege and enable checks. Returns MEM_OK or MEM_EXC. */
int csr_read(hart_t *h, int csr, uint64_t *val, bool guest)
{
    if (guest && h->priv < ((csr >> 8) & 3))
        return MEM_EXC;
    if (csr >= CSR_HPM3 && csr <= CSR_HPM31) {
        if (guest && !counter_ok(h, csr - CSR_CYCLE))
            return MEM_EXC;
        *val = 0;
        return MEM_OK;
    }
    if ((csr >= CSR_MHPM3 && csr <= CSR_MHPM31) ||
        (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
        *val = 0;
        return MEM_OK;
    }
    if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
        *val = h->pmpaddr[csr - CSR_PMPADDR0];
        return MEM_OK;
    }
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
        if (csr & 1)
            return MEM_EXC; /* odd pmpcfg registers exist on RV32 only */
        uint64_t v = 0;
        const uint8_t *c = &h->pmpcfg[(csr - CSR_PMPCFG0) * 4];
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)c[i] << (8 * i);
        *val = v;
        return MEM_OK;
    }
    switch (csr) {
    case CSR_FFLAGS:
    case CSR_FRM:
    case CSR_FCSR:
        if (guest && !fp_enabled(h))
            return MEM_EXC;
        *val = csr == CSR_FFLAGS ? h->fflags : csr == CSR_FRM ? h->frm
                                                              : (h->frm << 5) | h->fflags;
        return MEM_OK;
    case CSR_CYCLE:
        if (guest && !counter_ok(h, 0))
            return MEM_EXC;
        *val = h->mcycle;
        return MEM_OK;
    case CSR_TIME:
        if (guest && !counter_ok(h, 1))
            return MEM_EXC;
        *val = machine_time(h->m);
        return MEM_OK;
    case CSR_INSTRET:
        if (guest && !counter_ok(h, 2))
            return MEM_EXC;
        *val = h->minstret;
        return MEM_OK;
    case CSR_SSTATUS:
        *val = mstatus_read(h) & SSTATUS_MASK;
        return MEM_OK;
    case CSR_SIE:
        *val = h->mie & h->mideleg;
        return MEM_OK;
    case CSR_STVEC:
        *val = h->stvec;
        return MEM_OK;
    case CSR_SCOUNTEREN:
        *val = h->scounteren;
        return MEM_OK;
    case CSR_SENVCFG:
        *val = h->senvcfg;
        return MEM_OK;
    case CSR_SSCRATCH:
        *val = h->sscratch;
        return MEM_OK;
    case CSR_SEPC:
        *val = h->sepc;
        return MEM_OK;
    case CSR_SCAUSE:
        *val = h->scause;
        return MEM_OK;
    case CSR_STVAL:
        *val = h->stval;
        return MEM_OK;
    case CSR_SIP:
        *val = hart_mip(h) & h->mideleg;
        return MEM_OK;
    case CSR_STIMECMP:
        if (guest) {
            if (!h->m->sstc)
                return MEM_EXC;
            if (h->priv < PRIV_M &&
                (!(h->menvcfg & MENVCFG_STCE) || !(h->mcounteren & 2)))
                return MEM_EXC;
        }
        *val = h->stimecmp;
        return MEM_OK;
    case CSR_SATP:
        if (guest && h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM))
            return MEM_EXC;
        *val = h->satp;
        return MEM_OK;
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR:
        *val = 0;
        return MEM_OK;
    case CSR_MHARTID:
        *val = (uint64_t)h->hartid;
        return MEM_OK;
    case CSR_MSTATUS:
        *val = mstatus_read(h);
        return MEM_OK;
    case CSR_MISA:
        *val = h->misa;
        return MEM_OK;
    case CSR_MEDELEG:
        *val = h->medeleg;
        return MEM_OK;
    case CSR_MIDELEG:
        *val = h->mideleg;
        return MEM_OK;
    case CSR_MIE:
        *val = h->mie;
        return MEM_OK;
    case CSR_MTVEC:
        *val = h->mtvec;
        return MEM_OK;
    case CSR_MCOUNTEREN:
        *val = h->mcounteren;
        return MEM_OK;
    case CSR_MENVCFG:
        *val = h->menvcfg;
        return MEM_OK;
    case CSR_MCOUNTINHIBIT:
        *val = h->mcountinhibit;
        return MEM_OK;
    case CSR_MSCRATCH:
        *val = h->mscratch;
        return MEM_OK;
    case CSR_MEPC:
        *val = h->mepc;
        return MEM_OK;
    case CSR_MCAUSE:
        *val = h->mcause;
        return MEM_OK;
    case CSR_MTVAL:
        *val = h->mtval;
        return MEM_OK;
    case CSR_MIP:
        *val = hart_mip(h);
        return MEM_OK;
    case CSR_MCYCLE:
        *val = h->mcycle;
        return MEM_OK;
    case CSR_MINSTRET:
        *val = h->minstret;
        return MEM_OK;
    default:
        return MEM_EXC;
    }
}

static uint64_t legal_mstatus(hart_t *h, uint64_t v)
{
    uint64_t old = h->mstatus;
    uint64_t n = (old & ~MSTATUS_WMASK) | (v & MSTATUS_WMASK);
    if (((n & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2) /* reserved: keep the old MPP */
        n = (n & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
    return n;
}

static int set_mstatus(hart_t *h, uint64_t n, int *effects)
{
    uint64_t old = h->mstatus;
    h->mstatus = n;
    *effects |= CSR_CHECK;
    if ((old ^ n) & MSTATUS_XLATE)
        *effects |= CSR_FLUSH;
    return MEM_OK;
}

/* guest: apply privilege/read-only checks. Returns MEM_OK or MEM_EXC.
 * *effects gets CSR_FLUSH (translation context changed) / CSR_CHECK (interrupts). */
int csr_write(hart_t *h, int csr, uint64_t v, bool guest, int *effects)
{
    uint64_t dummy;
    if (guest) {
        if (((csr >> 10) & 3) == 3)
            return MEM_EXC;
        /* existence and privilege checks are the read checks */
        if (csr_read(h, csr, &dummy, true) != MEM_OK)
            return MEM_EXC;
    }
    if ((csr >= CSR_HPM3 && csr <= CSR_HPM31) || (csr >= CSR_MHPM3 && csr <= CSR_MHPM31) ||
        (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
        return MEM_OK; /* read 0, writes ignored */
    if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
        h->pmpaddr[csr - CSR_PMPADDR0] = v & ((1ull << 54) - 1);
        return MEM_OK;
    }
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
        if (csr & 1)
            return MEM_EXC;
        uint8_t *c = &h->pmpcfg[(csr - CSR_PMPCFG0) * 4];
        for (int i = 0; i < 8; i++)
            c[i] = (uint8_t)(v >> (8 * i));
        return MEM_OK;
    }
    switch (csr) {
    case CSR_FFLAGS:
        h->fflags = v & 0x1f;
        fp_dirty(h);
        return MEM_OK;
    case CSR_FRM:
        h->frm = v & 7;
        fp_dirty(h);
        return MEM_OK;
    case CSR_FCSR:
        h->fflags = v & 0x1f;
        h->frm = (v >> 5) & 7;
        fp_dirty(h);
        return MEM_OK;
    case CSR_CYCLE:
    case CSR_TIME:
    case CSR_INSTRET:
        if (guest)
            return MEM_EXC;
        return MEM_OK; /* host: read-only shadows, ignored */
    case CSR_SSTATUS:
        return set_mstatus(h, (h->mstatus & ~SSTATUS_WMASK) | (v & SSTATUS_WMASK), effects);
    case CSR_SIE:
        h->mie = (h->mie & ~h->mideleg) | (v & h->mideleg);
        *effects |= CSR_CHECK;
        return MEM_OK;
    case CSR_STVEC:
        if ((v & 3) < 2)
            h->stvec = v;
        return MEM_OK;
    case CSR_SCOUNTEREN:
        h->scounteren = (uint32_t)v;
        return MEM_OK;
    case CSR_SENVCFG:
        h->senvcfg = v & MENVCFG_FIOM;
        return MEM_OK;
    case CSR_SSCRATCH:
        h->sscratch = v;
        return MEM_OK;
    case CSR_SEPC:
        h->sepc = v & ~1ull;
        return MEM_OK;
    case CSR_SCAUSE:
        h->scause = v;
        return MEM_OK;
    case CSR_STVAL:
        h->stval = v;
        return MEM_OK;
    case CSR_SIP: {
        uint64_t mask = MIP_SSIP & h->mideleg;
        h->mip_sw = (h->mip_sw & ~mask) | (v & mask);
        *effects |= CSR_CHECK;
        return MEM_OK;
    }
    case CSR_STIMECMP:
        h->stimecmp = v;
        *effects |= CSR_CHECK;
        return MEM_OK;
    case CSR_SATP: {
        uint64_t mode = v >> SATP_MODE_SHIFT;
        if (mode != 0 && mode != 8 && mode != 9)
            return MEM_OK; /* unsupported mode: the write is ignored */
        h->satp = v & ((0xfull << SATP_MODE_SHIFT) | (SATP_ASID_MASK << SATP_ASID_SHIFT) |
                       SATP_PPN_MASK);
        *effects |= CSR_FLUSH | CSR_CHECK;
        return MEM_OK;
    }
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MHARTID:
    case CSR_MCONFIGPTR:
        return guest ? MEM_EXC : MEM_OK;
    case CSR_MSTATUS:
        return set_mstatus(h, legal_mstatus(h, v), effects);
    case CSR_MISA:
        return MEM_OK; /* WARL: the ISA is fixed */
    case CSR_MEDELEG:
        h->medeleg = v & MEDELEG_MASK;
        return MEM_OK;
    case CSR_MIDELEG:
        h->mideleg = v & MIP_S_MASK;
        *effects |= CSR_CHECK;
        return MEM_OK;
    case CSR_MIE:
        h->mie = v & MIP_ALL;
        *effects |= CSR_CHECK;
        return MEM_OK;
    case CSR_MTVEC:
        if ((v & 3) < 2)
            h->mtvec = v;
        return MEM_OK;
    case CSR_MCOUNTEREN:
        h->mcounteren = (uint32_t)v;
        return MEM_OK;
    case CSR_MENVCFG:
        h->menvcfg = v & (MENVCFG_FIOM | (h->m->sstc ? MENVCFG_STCE : 0));
        *effects |= CSR_CHECK;
        return MEM_OK;
    case CSR_MCOUNTINHIBIT:
        h->mcountinhibit = (uint32_t)v & ~2u;
        return MEM_OK;
    case CSR_MSCRATCH:
        h->mscratch = v;
        return MEM_OK;
    case CSR_MEPC:
        h->mepc = v & ~1ull;
        return MEM_OK;
    case CSR_MCAUSE:
        h->mcause = v;
        return MEM_OK;
    case CSR_MTVAL:
        h->mtval = v;
        return MEM_OK;
    case CSR_MIP: {
        uint64_t mask = MIP_SSIP | MIP_SEIP | (stce_active(h) ? 0 : MIP_STIP);
        h->mip_sw = (h->mip_sw & ~mask) | (v & mask);
        *effects |= CSR_CHECK;
        return MEM_OK;
    }
    /* A guest write takes effect after the writing instruction retires, so the
     * next instruction reads the value written: pre-compensate its increment. */
    case CSR_MCYCLE:
        h->mcycle = v - (guest && !(h->mcountinhibit & 1));
        return MEM_OK;
    case CSR_MINSTRET:
        h->minstret = v - (guest && !(h->mcountinhibit & 4));
        return MEM_OK;
    default:
        return MEM_EXC;
    }
}
