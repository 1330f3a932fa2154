/*
 * The RV64GC hart core: types and internal interfaces shared by the core's
 * C files. Nothing here depends on Python.h, so the core links into plain C
 * programs (tests/core/fuzz_core.c) as well as into the avmm._core binding.
 *
 * Threading rule: a machine, its harts and the TLBs handed to them are used
 * from one thread at a time. Guest RAM may be written concurrently by device
 * threads (like DMA on real hardware), nothing else.
 */
#ifndef AVMM_CORE_H
#define AVMM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------ limits */
#define MAX_HARTS 64
#define MAX_SLOTS 32
#define MAX_BREAKPOINTS 64
#define MAX_WATCHPOINTS 16
#define NTRIG 4 /* Sdtrig triggers the guest sees (tselect 0..NTRIG-1) */
#define PLIC_MAX_SRC 1024
#define PLIC_MAX_CTX (2 * MAX_HARTS)
#define PAGE_SIZE 4096u
#define PAGE_MASK (~(uint64_t)0xfff)
#define PA_BITS 56 /* physical addresses at or above 2**56 do not exist */

/* ------------------------------------------------------------ exits */
enum {
    EXIT_BUDGET = 0,
    EXIT_MMIO_READ,
    EXIT_MMIO_WRITE,
    EXIT_ECALL,
    EXIT_WFI,
    EXIT_PAUSE,
    EXIT_DEBUG,
    EXIT_HTIF,
    EXIT_IPI,
    EXIT_INTERNAL_ERROR,
    EXIT_COUNT
};
extern const char *const exit_names[EXIT_COUNT];

enum {
    DEBUG_NONE = 0,
    DEBUG_BREAKPOINT = 1,
    DEBUG_STEP = 2,
    DEBUG_EBREAK = 3,
    DEBUG_WATCHPOINT = 4, /* h->debug_addr, h->debug_write say which access */
    DEBUG_TRACE = 5,      /* the trace buffer is full: drain it and run again */
};
/* what a hart traces into its buffer (trace.c) */
enum { TRACE_TRAPS = 1, TRACE_INSNS = 2 };
enum { TR_INSN = 0, TR_TRAP = 1, TR_IRQ = 2 };
typedef struct trace_rec {
    uint64_t pc, a, b; /* insn: raw bits; trap: cause, tval; irq: cause */
    uint8_t kind, from, to;
} trace_rec_t;
/* kinds of a VMM watchpoint (bit mask) */
enum { WATCH_LOAD = 1, WATCH_STORE = 2 };
enum { PRIV_U = 0, PRIV_S = 1, PRIV_M = 3 };
enum { CLOCK_HOST = 0, CLOCK_VIRTUAL = 1 };
enum { ACC_LOAD = 0, ACC_STORE = 1, ACC_FETCH = 2 };

/* results of memory and CSR helpers */
enum {
    MEM_OK = 0,
    MEM_EXC = 1,     /* exception: h->exc_cause / h->exc_tval are set */
    MEM_EXIT = 2,    /* the slice ends: h->exit_reason is set */
    MEM_RECHECK = 3, /* done; interrupt state may have changed */
};

/* ------------------------------------------------------------ trap causes */
enum {
    CAUSE_MISALIGNED_FETCH = 0,
    CAUSE_FETCH_ACCESS = 1,
    CAUSE_ILLEGAL = 2,
    CAUSE_BREAKPOINT = 3,
    CAUSE_MISALIGNED_LOAD = 4,
    CAUSE_LOAD_ACCESS = 5,
    CAUSE_MISALIGNED_STORE = 6,
    CAUSE_STORE_ACCESS = 7,
    CAUSE_ECALL_U = 8,
    CAUSE_ECALL_S = 9,
    CAUSE_ECALL_M = 11,
    CAUSE_FETCH_PAGE = 12,
    CAUSE_LOAD_PAGE = 13,
    CAUSE_STORE_PAGE = 15,
};
#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11

#define MIP_SSIP (1ull << IRQ_S_SOFT)
#define MIP_MSIP (1ull << IRQ_M_SOFT)
#define MIP_STIP (1ull << IRQ_S_TIMER)
#define MIP_MTIP (1ull << IRQ_M_TIMER)
#define MIP_SEIP (1ull << IRQ_S_EXT)
#define MIP_MEIP (1ull << IRQ_M_EXT)
#define MIP_ALL (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MIP_S_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)

/* ------------------------------------------------------------ mstatus */
#define MSTATUS_SIE (1ull << 1)
#define MSTATUS_MIE (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP (1ull << 8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3ull << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3ull << 13)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)
#define MSTATUS_TVM (1ull << 20)
#define MSTATUS_TW (1ull << 21)
#define MSTATUS_TSR (1ull << 22)
#define MSTATUS_UXL (3ull << 32)
#define MSTATUS_SXL (3ull << 34)
#define MSTATUS_SD (1ull << 63)
#define FS_OFF 0
#define FS_DIRTY 3

#define SATP_MODE_SHIFT 60
#define SATP_ASID_SHIFT 44
#define SATP_ASID_MASK 0xffffull
#define SATP_PPN_MASK ((1ull << 44) - 1)

#define MENVCFG_FIOM 1ull
#define MENVCFG_STCE (1ull << 63)

#define DISARMED UINT64_MAX

/* ------------------------------------------------------------ structures */
typedef struct machine machine_t;
typedef struct hart hart_t;

typedef struct ram_slot {
    uint64_t base, size;
    uint8_t *host;   /* size bytes, between two PROT_NONE guard pages */
    void *map;       /* the whole mapping, guards included */
    size_t maplen;
    uint8_t *dirty;  /* bitmap: one bit per 4 KiB page */
    bool dirty_logging;
    int index;
    /* translator (jit.c): per page, the first translated block + 1 (0: none) and
     * how often guest stores dropped its blocks in a row (see jit_smc); allocated
     * on first use */
    uint32_t *jit_pages;
    uint32_t *jit_smc;
    /* per page: a copy of its bytes as its first block was made (jit_reset),
     * allocated with jit_pages, a copy on first use */
    uint8_t **jit_snap;
    /* pages written by the host since the translator last looked (any thread, atomic) */
    uint64_t *jit_hostw;
} ram_slot_t;

/* A modelled host CPU's TLB. Entries are tagged (VMID, ASID or global, VPN at
 * the entry's level, level) and hold the leaf PTE's permission bits and the
 * physical page. A superpage is one entry, indexed by its own VPN, so a lookup
 * probes each level once. */
typedef struct tlb_entry {
    uint64_t vpn;  /* va >> (12 + 9 * level) */
    uint64_t ppn;  /* physical page number of the start of the (super)page */
    uint32_t vmid;
    uint32_t gen;  /* live only while it equals its VMID bucket's gen (mmu.c) */
    uint16_t asid;
    uint8_t level; /* 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB */
    uint8_t perm;  /* PTE bits V R W X U G A D; 0 = invalid entry */
} tlb_entry_t;

#define TLB_WAYS 4
#define TLB_VBUCKETS 256 /* VMID buckets (vmid % TLB_VBUCKETS) of flush generations */
typedef struct tlb_vbucket {
    uint32_t gen;   /* entries of this bucket are live while their gen equals it */
    uint32_t owner; /* the VMID of the entries filled since gen was set... */
    bool used;      /* ...if any */
    bool mixed;     /* entries of several VMIDs filled since gen was set */
} tlb_vbucket_t;
typedef struct tlb {
    uint32_t entries, nsets;
    tlb_entry_t *e;  /* nsets * TLB_WAYS */
    uint8_t *victim; /* round-robin replacement pointer per set */
    tlb_vbucket_t vb[TLB_VBUCKETS];
    uint32_t next_gen; /* the last generation handed out */
    uint64_t hits, misses, flush_all, flush_vmid, flush_asid, flush_page;
    /* fast caches filled through this TLB stay valid while gen is unchanged
     * (every flush bumps it); serial names this TLB among all ever made */
    uint64_t serial, gen;
} tlb_t;

typedef struct plic {
    uint64_t base;
    uint32_t ndev;
    uint8_t prio[PLIC_MAX_SRC];
    uint32_t line[PLIC_MAX_SRC / 32];
    uint32_t pending[PLIC_MAX_SRC / 32];
    uint32_t claimed[PLIC_MAX_SRC / 32];
    uint32_t enable[PLIC_MAX_CTX][PLIC_MAX_SRC / 32];
    uint32_t threshold[PLIC_MAX_CTX];
} plic_t;

/* Per-hart fast cache of host addends, one direct-mapped array per access
 * type, indexed by virtual page number. Valid within one translation context;
 * kept across slices while nothing that can invalidate it happened (see
 * fc_slice_start). A tag is the page-aligned virtual address. A
 * lookup compares it with va & (PAGE_MASK | (size - 1)), which never has bits
 * 3..11 set, so the invalid tag 0x800 can never match. */
#define FC_BITS 8
#define FC_SIZE (1u << FC_BITS)
#define FC_MASK (FC_SIZE - 1)
#define FC_INVALID 0x800ull
#define FC_LOG 64
typedef struct fc_entry {
    uint64_t tag;
    uintptr_t add; /* host pointer = vaddr + addend */
} fc_entry_t;

/* A decoded instruction (see interp.c): tagged by its raw bits (a 16-bit
 * compressed instruction zero-extended), 16 bytes. */
typedef struct dinsn {
    uint32_t raw;
    uint8_t op, rd, rs1, rs2; /* rd = 32: a write to x0, goes to the sink */
    int32_t imm;
    uint8_t len;
} dinsn_t;
#define DC_BITS 17
#define DC_MASK ((1u << DC_BITS) - 1)

/* kinds of a pending MMIO load (how the value goes into the register) */
enum {
    LK_I8, LK_I16, LK_I32, LK_I64, LK_U8, LK_U16, LK_U32, LK_F32, LK_F64,
};

typedef struct hart_stats {
    uint64_t instret;
    uint64_t exits[EXIT_COUNT];
    uint64_t exceptions[16];
    uint64_t interrupts[16];
    uint64_t fc_hits, tlb_lookups, page_walks, sfence;
    uint64_t mmio_read, mmio_write;
    uint64_t fast_mmio[2]; /* accesses served by the in-core CLINT, PLIC (no exit) */
    uint64_t ipis;         /* in-core CLINT msip writes that set this hart's MSIP */
    uint64_t wfi_yields;   /* slices ended by WFIs that could not sleep (see wfi_window) */
    uint64_t jit_insns;    /* retired by translated code */
} hart_stats_t;
enum { FAST_CLINT, FAST_PLIC };

struct hart {
    uint64_t x[33]; /* x[32] is the sink for writes to x0 */
    uint64_t f[32];
    fc_entry_t fc[3][FC_SIZE]; /* fetch, load, store */
    /* installed entries since the last flush, so a flush only clears those */
    uint16_t fc_log[FC_LOG];
    unsigned fc_nlog; /* > FC_LOG: overflowed, the next flush clears everything */
    /* what the fast cache was filled under, as of the end of the last slice
     * (fc_slice_end); the next slice keeps it only if all still hold */
    bool fc_kept;
    uint32_t fc_vmid;
    int fc_priv;
    uint64_t fc_tlb_serial, fc_tlb_gen, fc_epoch, fc_store_epoch;
    uint64_t fc_satp, fc_mstatus;

    uint64_t pc;
    int priv;
    bool fw_call; /* in M-mode by a trap from S/U that no mret has returned from yet */
    machine_t *m;
    int hartid;
    tlb_t *tlb; /* the pCPU TLB of the running slice, else NULL */

    /* CSRs */
    uint64_t mstatus; /* SD is computed on read */
    uint64_t misa;
    uint64_t medeleg, mideleg, mie, mip_sw;
    uint64_t mtvec, stvec, mscratch, sscratch, mepc, sepc, mcause, scause, mtval, stval;
    uint32_t mcounteren, scounteren, mcountinhibit;
    uint64_t menvcfg, senvcfg, satp;
    uint64_t mcycle, minstret;
    uint8_t pmpcfg[64];
    uint64_t pmpaddr[64];
    uint32_t fflags, frm;

    /* interrupt sources */
    uint64_t mtimecmp, stimecmp;
    uint64_t lines;      /* external levels: MEIP, SEIP, MSIP */
    uint64_t timer_bits; /* MTIP / STIP from the comparators, refreshed at checks */

    /* LR/SC reservation: the bytes an LR read (physical) */
    bool resv_valid;
    uint64_t resv_addr; /* physical */
    uint32_t resv_size;
    uint64_t resv_va; /* an SC elsewhere fails without touching memory */

    /* exit details */
    int exit_reason;
    uint64_t mmio_addr, mmio_value;
    int mmio_size;
    bool mmio_pending; /* an MMIO load waits for complete_mmio_read */
    int mmio_rd, mmio_kind;
    uint64_t mmio_next_pc;
    uint64_t htif_value;
    int debug_cause;
    char error[256];

    /* guest debug */
    bool single_step, debug_ebreak;
    int nbps;
    uint64_t bps[MAX_BREAKPOINTS];
    bool bp_resume; /* don't stop at the breakpoint at bp_resume_pc once */
    uint64_t bp_resume_pc;
    int nwps;
    struct {
        uint64_t addr, len;
        unsigned kind; /* WATCH_LOAD | WATCH_STORE */
    } wps[MAX_WATCHPOINTS];
    bool wp_resume; /* the access a watchpoint stopped goes ahead once (nothing retired since) */
    uint64_t wp_resume_at; /* st.instret at that stop */
    uint64_t debug_addr; /* DEBUG_WATCHPOINT: the watchpoint's address */
    bool debug_write;    /* DEBUG_WATCHPOINT: the access was a store */

    /* Sdtrig (trigger.c): the guest's triggers */
    unsigned tselect;
    uint64_t tdata1[NTRIG], tdata2[NTRIG];
    uint64_t tcontrol, mcontext, scontext;
    /* anything armed that the slow paths must check (guest triggers or watchpoints) */
    bool watch_fetch, watch_data;

    /* traces (trace.c): off unless trace_flags */
    unsigned trace_flags;
    uint64_t trace_lo, trace_hi; /* instructions: pc in [lo, hi] */
    trace_rec_t *trace_buf;
    uint32_t trace_cap, trace_len;
    uint64_t trace_lost; /* trap records dropped on a full buffer */

    /* exception being raised */
    uint64_t exc_cause, exc_tval;

    /* slice bookkeeping */
    uint64_t synced;      /* retired instructions of this slice already accounted */
    uint32_t pauses;      /* pause hints in this slice */
    uint32_t wfi_spins;   /* WFIs in this slice that found an interrupt pending */

    hart_stats_t st;
};

struct machine {
    ram_slot_t *slots[MAX_SLOTS];
    int nslots;
    hart_t *harts[MAX_HARTS];
    int nharts;

    bool sbi_in_vmm, pause_exit, ipi_exit, sstc;
    uint32_t pause_window;
    /* WFI-exiting: the wfi_window-th WFI of a slice that cannot sleep (an
     * interrupt is pending but masked or meant for another mode) ends the slice
     * with EXIT_WFI, so a hart waiting in such a loop yields its pCPU; 0 = off */
    uint32_t wfi_window;
    uint32_t vmid;
    tlb_t **btlbs; /* Machine.broadcast_tlbs */
    int nbtlbs;

    int clock_mode;
    uint64_t timebase, ips;
    uint64_t time_offset;   /* wraps: guest time = offset + raw */
    uint64_t host_origin_ns;
    /* held (a debugger stopped every hart): guest time reads held_time and goes on
     * from it when released, as QEMU stops its virtual clock while a VM is stopped */
    bool clock_held;
    uint64_t held_time;
    uint64_t instret;       /* all harts, kept current at sync points */

    bool clint_on;
    uint64_t clint_base;
    plic_t *plic; /* NULL: PLIC accesses are MMIO exits */
    uint64_t kicks;

    bool htif_on;
    uint64_t tohost, fromhost;

    int nresv; /* harts holding a valid reservation */

    /* bumped by host-side events that invalidate the harts' fast caches between
     * slices (fc_slice_start): fc_epoch all entries (RAM slots added, VMID
     * changed), fc_store_epoch store entries only (a reservation taken, dirty
     * logging switched on or a dirty log cleared, the HTIF tohost moved) */
    uint64_t fc_epoch, fc_store_epoch;

    dinsn_t *dc; /* decoded-instruction cache shared by the harts, 1 << DC_BITS */

    /* translator (jit.c): the cache shared by the harts, created on first use */
    struct jit *jit;
    bool jit_on;             /* translate (Machine.jit) */
    int jit_hostw_pending;   /* some slot's jit_hostw has bits (atomic) */
};

/* Guest debug is on (VMM breakpoints or watchpoints, single step, ebreak exits,
 * armed Sdtrig triggers): the hart must run in the interpreter, whose slow paths
 * check them. */
static inline bool hart_debug_active(hart_t *h)
{
    return h->single_step || h->debug_ebreak || h->nbps || h->watch_fetch || h->watch_data ||
           (h->trace_flags & TRACE_INSNS);
}

/* ------------------------------------------------------------ machine.c */
machine_t *machine_new(uint64_t timebase);
void machine_free(machine_t *m);
ram_slot_t *ram_slot_new(uint64_t base, uint64_t size); /* NULL on mmap failure */
void ram_slot_free(ram_slot_t *s);
const char *machine_add_slot(machine_t *m, ram_slot_t *s); /* NULL or an error */
hart_t *machine_new_hart(machine_t *m);                     /* NULL when full */
void hart_reset(hart_t *h, uint64_t pc, int priv);

/* RAM slot holding [pa, pa+len), or NULL */
static inline ram_slot_t *ram_find(machine_t *m, uint64_t pa, uint64_t len)
{
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *s = m->slots[i];
        if (pa - s->base < s->size && len <= s->size - (pa - s->base))
            return s;
    }
    return NULL;
}
static inline uint8_t *ram_ptr(machine_t *m, uint64_t pa, uint64_t len)
{
    ram_slot_t *s = ram_find(m, pa, len);
    return s ? s->host + (pa - s->base) : NULL;
}
static inline bool page_clean_logged(ram_slot_t *s, uint64_t pa)
{
    uint64_t pg = (pa - s->base) >> 12;
    return s->dirty_logging && !(s->dirty[pg >> 3] & (1u << (pg & 7)));
}
void ram_mark_dirty(ram_slot_t *s, uint64_t off, uint64_t len);
/* host writes (DMA, write_phys): dirty pages and break reservations */
void machine_host_wrote(machine_t *m, uint64_t pa, uint64_t len);
/* a guest store by `by` (NULL = host) to [pa, pa+len): break others' reservations */
void break_reservations(machine_t *m, hart_t *by, uint64_t pa, uint64_t len);
bool page_has_foreign_resv(machine_t *m, hart_t *h, uint64_t pa);
void hart_clear_resv(hart_t *h);

uint64_t machine_time(machine_t *m); /* guest time now (m->instret must be current) */
void machine_set_time(machine_t *m, uint64_t t);
void machine_hold_clock(machine_t *m, bool hold);
void machine_set_clock(machine_t *m, int mode, uint64_t ips);
uint64_t host_ns(void);
/* instructions (machine-wide) that must retire before guest time reaches t; 0 when
 * it already has or when t is unreachable in virtual time; UINT64_MAX = never */
uint64_t machine_insns_until(machine_t *m, uint64_t t);

static inline void hart_account(hart_t *h, uint64_t d)
{
    h->st.instret += d;
    h->m->instret += d;
    if (!(h->mcountinhibit & 1))
        h->mcycle += d;
    if (!(h->mcountinhibit & 4))
        h->minstret += d;
}
/* account retired instructions of the running slice (retired = total so far) */
static inline void hart_sync(hart_t *h, uint64_t retired)
{
    uint64_t d = retired - h->synced;
    if (d) {
        h->synced = retired;
        hart_account(h, d);
    }
}

/* ------------------------------------------------------------ csr.c */
uint64_t hart_mip(hart_t *h); /* effective mip (timer bits from the clock now) */
void hart_update_timers(hart_t *h);
/* the interrupt to take now (cause number), or -1 */
int hart_pending_irq(hart_t *h);
bool hart_wakeup_pending(hart_t *h);
void hart_take_trap(hart_t *h, uint64_t cause, uint64_t tval, bool irq);
/* would this exception be taken in M-mode? */
bool trap_goes_to_m(hart_t *h, uint64_t cause);
/* guest CSR access; returns MEM_OK, MEM_EXC (illegal) or MEM_RECHECK */
enum { CSR_FLUSH = 1, CSR_CHECK = 2 };
int csr_read(hart_t *h, int csr, uint64_t *val, bool guest);
int csr_write(hart_t *h, int csr, uint64_t val, bool guest, int *effects);
bool csr_exists(hart_t *h, int csr);
uint64_t mstatus_read(hart_t *h);
int exec_mret(hart_t *h);
int exec_sret(hart_t *h);

typedef struct csr_name {
    const char *name;
    int num;
} csr_name_t;
extern const csr_name_t csr_names[];
extern const int csr_names_count;

/* ------------------------------------------------------------ mmu.c */
tlb_t *tlb_new(uint32_t entries);
void tlb_free(tlb_t *t);
void tlb_flush_all(tlb_t *t);
void tlb_flush_vmid(tlb_t *t, uint32_t vmid);
void tlb_flush_asid(tlb_t *t, uint32_t vmid, uint16_t asid);
void tlb_flush_page(tlb_t *t, uint32_t vmid, uint64_t va, int asid /* -1: any */);
uint32_t tlb_valid_entries(tlb_t *t);

static inline void fc_flush(hart_t *h)
{
    if (h->fc_nlog <= FC_LOG) {
        for (unsigned k = 0; k < h->fc_nlog; k++)
            (&h->fc[0][0])[h->fc_log[k]].tag = FC_INVALID;
    } else {
        for (unsigned a = 0; a < 3; a++)
            for (unsigned i = 0; i < FC_SIZE; i++)
                h->fc[a][i].tag = FC_INVALID;
    }
    h->fc_nlog = 0;
}
/* drop the store entries only */
static inline void fc_flush_stores(hart_t *h)
{
    if (h->fc_nlog <= FC_LOG) {
        unsigned k2 = 0;
        for (unsigned k = 0; k < h->fc_nlog; k++) {
            uint16_t e = h->fc_log[k];
            if (e / FC_SIZE == ACC_STORE)
                (&h->fc[0][0])[e].tag = FC_INVALID;
            else
                h->fc_log[k2++] = e;
        }
        h->fc_nlog = k2;
    } else {
        for (unsigned i = 0; i < FC_SIZE; i++)
            h->fc[ACC_STORE][i].tag = FC_INVALID;
    }
}
/* mstatus bits the fast cache depends on (effective privilege, permissions) */
#define FC_MSTATUS_BITS (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR)
/* At slice start: keep the fast cache of the last slice only if it was filled
 * through the same TLB, unflushed since, under the same VMID, privilege, satp
 * and mstatus bits, with no machine-wide invalidation since, and the hart is not
 * under guest debug; keep all but the store entries if only store entries were
 * invalidated. Host-side changes to a hart (reset, state restore, CSR writes,
 * privilege, breakpoints, watchpoints, traces) flush its cache directly. */
static inline void fc_slice_start(hart_t *h, tlb_t *t)
{
    machine_t *m = h->m;
    if (!h->fc_kept || !t || t->serial != h->fc_tlb_serial || t->gen != h->fc_tlb_gen ||
        m->vmid != h->fc_vmid || m->fc_epoch != h->fc_epoch || h->priv != h->fc_priv ||
        h->satp != h->fc_satp || ((h->mstatus ^ h->fc_mstatus) & FC_MSTATUS_BITS) ||
        hart_debug_active(h))
        fc_flush(h);
    else if (m->fc_store_epoch != h->fc_store_epoch)
        fc_flush_stores(h);
    h->fc_kept = false;
}
/* at slice end: note what the fast cache is valid under */
static inline void fc_slice_end(hart_t *h, tlb_t *t)
{
    machine_t *m = h->m;
    if (!t) {
        h->fc_kept = false;
        return;
    }
    h->fc_kept = true;
    h->fc_tlb_serial = t->serial;
    h->fc_tlb_gen = t->gen;
    h->fc_vmid = m->vmid;
    h->fc_epoch = m->fc_epoch;
    h->fc_store_epoch = m->fc_store_epoch;
    h->fc_priv = h->priv;
    h->fc_satp = h->satp;
    h->fc_mstatus = h->mstatus;
}
/* a host-side event invalidates every hart's fast cache (stores_only: only the
 * store entries) before its next slice */
static inline void machine_fc_invalidate(machine_t *m, bool stores_only)
{
    if (stores_only)
        m->fc_store_epoch++;
    else
        m->fc_epoch++;
}
/* translate va for access acc; on failure sets exc_cause/exc_tval and returns MEM_EXC.
 * *perm gets the leaf PTE bits (0xff in bare/M mode). */
int mmu_translate(hart_t *h, uint64_t va, int acc, uint64_t *pa, unsigned *perm);
/* side-effect-free translation for the host; false on a fault */
bool mmu_probe(hart_t *h, uint64_t va, int acc, uint64_t *pa);
void exec_sfence(hart_t *h, uint64_t va, bool has_va, uint64_t asid, bool has_asid);

/* memory slow paths (and their fast-cache fills) */
int mem_load_slow(hart_t *h, uint64_t va, unsigned size, uint64_t *val);
int mem_store_slow(hart_t *h, uint64_t va, unsigned size, uint64_t val);
int mem_fetch_slow(hart_t *h, uint64_t pc, uint32_t *insn, uint64_t *page_va,
                   uintptr_t *page_add);
/* translated code's fast-cache miss: install the entry for an access of size
 * bytes at va inside one page (misaligned ones too: the tag check always
 * misses them, the slow path performs them) when that takes no more than a
 * TLB hit (or no translation) and the slow path would install it, and return
 * the host address; else 0 (the slow path must run). No side effect but the
 * entry and the counters the slow path's TLB hit would count. */
uintptr_t mem_fc_fill(hart_t *h, uint64_t va, unsigned acc, unsigned size);
/* LR/SC/AMO: translate an aligned RAM address; *host gets the pointer */
int mem_atomic_ptr(hart_t *h, uint64_t va, unsigned size, bool is_lr, uint64_t *pa,
                   uint8_t **host);
/* after an atomic store to RAM: dirty log, reservations of others, HTIF */
int mem_atomic_stored(hart_t *h, uint64_t pa, unsigned size);

/* ------------------------------------------------------------ trigger.c */
/* Sdtrig CSRs (tselect..tcontrol, mcontext, scontext); -1: not a trigger CSR */
int trig_csr_read(hart_t *h, int csr, uint64_t *val);
int trig_csr_write(hart_t *h, int csr, uint64_t val, int *effects);
void trig_reset(hart_t *h);
void trig_update(hart_t *h); /* recompute watch_fetch / watch_data */
/* before a fetch at pc: MEM_OK, or MEM_EXC (a guest trigger fired) */
int trig_fetch(hart_t *h, uint64_t pc);
/* may a fetch in pc's page skip trig_fetch (can it be cached)? */
bool trig_fetch_page_quiet(hart_t *h, uint64_t pc);
/* before a data access of [va, va+size) (kind: WATCH_LOAD/WATCH_STORE bits): MEM_OK,
 * MEM_EXC (a guest trigger fired) or MEM_EXIT (a VMM watchpoint: EXIT_DEBUG) */
int trig_data(hart_t *h, uint64_t va, unsigned size, unsigned kind);
/* may accesses of kind acc (ACC_LOAD/ACC_STORE) in va's page skip trig_data? */
bool trig_data_page_quiet(hart_t *h, uint64_t va, int acc);
/* a breakpoint trap into M-mode (tcontrol.MPTE = MTE, MTE = 0) and mret */
void trig_trap_to_m(hart_t *h);
void trig_mret(hart_t *h);

/* ------------------------------------------------------------ trace.c */
/* flags 0 turns tracing off and frees the buffer; false when out of memory */
bool trace_set(hart_t *h, unsigned flags, uint64_t lo, uint64_t hi, uint32_t capacity);
void trace_trap(hart_t *h, uint64_t pc, uint64_t cause, uint64_t tval, bool irq, int from);
/* record a fetched instruction; false when the buffer is full (nothing recorded) */
bool trace_insn(hart_t *h, uint64_t pc, uint32_t insn);

/* ------------------------------------------------------------ irqchip.c */
bool clint_hit(machine_t *m, uint64_t pa);
bool plic_hit(machine_t *m, uint64_t pa);
uint64_t clint_read(machine_t *m, uint64_t off, unsigned size);
/* returns MEM_OK, MEM_RECHECK (own interrupt state changed) or MEM_EXIT (EXIT_IPI) */
int clint_write(machine_t *m, hart_t *by, uint64_t off, unsigned size, uint64_t val);
uint64_t plic_read(machine_t *m, hart_t *by, uint64_t off, unsigned size);
int plic_write(machine_t *m, hart_t *by, uint64_t off, unsigned size, uint64_t val);
void plic_set_irq(machine_t *m, uint32_t src, bool level);
void plic_update(machine_t *m, hart_t *by); /* recompute outputs; kicks others */

/* ------------------------------------------------------------ fpu.c */
/* execute an F/D instruction (opcodes 07, 27, 43, 47, 4b, 4f, 53) except the
 * memory part of loads/stores; MEM_OK or MEM_EXC */
int exec_fp(hart_t *h, uint32_t insn);
static inline bool fp_enabled(hart_t *h)
{
    return (h->mstatus & MSTATUS_FS) != 0;
}
static inline void fp_dirty(hart_t *h)
{
    h->mstatus |= MSTATUS_FS;
}

/* ------------------------------------------------------------ interp.c */
int hart_run(hart_t *h, uint64_t budget, tlb_t *tlb);
/* finish a pending MMIO load with its value: write rd, retire */
void hart_complete_mmio_read(hart_t *h, uint64_t value);

void hart_error(hart_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
