/* Paging in Sv39 (LEVELS=3) or Sv48 (LEVELS=4): 4 KiB, 2 MiB, 1 GiB (and
 * 512 GiB in Sv48) pages; page-fault causes and stval/mtval for loads,
 * stores, AMOs and fetches; reserved encodings, misaligned superpages,
 * non-canonical addresses; U/S protection with SUM; MXR; MPRV from M;
 * A and D set by hardware; satp writes with an unsupported mode ignored;
 * sfence.vma; mstatus.TVM. S-mode code runs identity-mapped; U-mode code
 * lives in the .user pages, the only user-accessible part of the image. */
#include <string.h>

#include "isa.h"

#if LEVELS == 3
#define SATP_MODE SATP_MODE_SV39
#define NON_CANONICAL 0x0000004000000000ULL /* bit 38 set, bits 63:39 clear */
#elif LEVELS == 4
#define SATP_MODE SATP_MODE_SV48
#define NON_CANONICAL 0x0000800000000000ULL /* bit 47 set, bits 63:48 clear */
#else
#error "LEVELS must be 3 or 4"
#endif

#define RAM 0x80000000ULL
#define RAM_MAPPED (64ULL << 20)
#define PAGE 4096ULL
#define MEGA (2ULL << 20)
#define GIGA (1ULL << 30)
#define SUPER_PA 0x84000000ULL /* 2 MiB-aligned RAM above the image */

/* Test virtual addresses */
#define VA_BASE 0x40000000ULL
#define VA_RW (VA_BASE + 0x0000)
#define VA_NONE (VA_BASE + 0x1000)
#define VA_RO (VA_BASE + 0x2000)
#define VA_WO (VA_BASE + 0x3000)
#define VA_NONLEAF (VA_BASE + 0x4000)
#define VA_USER (VA_BASE + 0x5000)
#define VA_XO (VA_BASE + 0x6000)
#define VA_AD (VA_BASE + 0x7000)
#define VA_REMAP (VA_BASE + 0x8000)
#define VA_UCODE (VA_BASE + 0x9000)
#define VA_CODE (VA_BASE + 0xa000) /* two executable pages, then nothing */
#define VA_LOAD_EDGE (VA_BASE + 0xd000) /* readable page, then nothing */
#define VA_SWAP (VA_BASE + 0x10000)     /* executable, remapped by the test */
#define VA_BADWALK (VA_BASE + 3 * MEGA)  /* its last-level table is not memory */
/* mapped differently in two address spaces (its own top-level slot) */
#if LEVELS == 3
#define VA_ASID 0x100000000ULL
#else
#define VA_ASID 0x10000000000ULL
#endif
#define VA_2M (VA_BASE + MEGA)
#define VA_2M_BAD (VA_BASE + 2 * MEGA)
#define VA_1G 0xc0000000ULL
#define VA_512G 0x8000000000ULL

#define FLAGS_RWX (PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

typedef uint64_t pte_t;
static pte_t tables[24][512] __attribute__((aligned(4096)));
static unsigned tables_used;
static uint64_t data[6][512] __attribute__((aligned(4096)));
static uint16_t code[2][2048] __attribute__((aligned(4096)));
static uint64_t satp_value;

USER_DATA static uint64_t user_stack[512] __attribute__((aligned(16)));

static pte_t *new_table(void) {
    CHECK(tables_used < sizeof tables / sizeof *tables);
    pte_t *t = tables[tables_used++];
    memset(t, 0, PAGE);
    return t;
}

static pte_t *root;

/* Make va -> pa a leaf at `level` (0: 4 KiB ... 3: 512 GiB); return the PTE. */
static pte_t *map(uint64_t va, uint64_t pa, int level, uint64_t flags) {
    pte_t *t = root;
    for (int l = LEVELS - 1; l > level; l--) {
        pte_t *e = &t[(va >> (12 + 9 * l)) & 511];
        if (!(*e & PTE_V)) {
            pte_t *next = new_table();
            *e = (((uint64_t)next >> 12) << PTE_PPN_SHIFT) | PTE_V;
        }
        CHECK((*e & (PTE_R | PTE_W | PTE_X)) == 0);
        t = (pte_t *)((*e >> PTE_PPN_SHIFT) << 12);
    }
    pte_t *e = &t[(va >> (12 + 9 * level)) & 511];
    *e = ((pa >> 12) << PTE_PPN_SHIFT) | flags | PTE_V;
    return e;
}

static inline void sfence_all(void) { __asm__ volatile("sfence.vma" ::: "memory"); }

static pte_t *pte_ad, *pte_remap, *pte_swap, *pte_asid1;
static pte_t *root2;

static void build(void) {
    extern char __user_start[], __user_end[];
    tables_used = 0;
    root = new_table();
    /* identity: 2 MiB pages over the image, 4 KiB pages where the user pages are */
    uint64_t ustart = (uint64_t)__user_start, uend = (uint64_t)__user_end;
    for (uint64_t a = RAM; a < RAM + RAM_MAPPED; a += MEGA) {
        if (ustart < a + MEGA && uend > a) {
            for (uint64_t p = a; p < a + MEGA; p += PAGE) {
                uint64_t u = (p >= ustart && p < uend) ? PTE_U : 0;
                map(p, p, 0, FLAGS_RWX | u);
            }
        } else {
            map(a, a, 1, FLAGS_RWX);
        }
    }
    for (unsigned i = 0; i < 6; i++)
        for (unsigned j = 0; j < 512; j++)
            data[i][j] = (uint64_t)(i + 1) << 56 | j;
    map(VA_RW, (uint64_t)data[0], 0, PTE_R | PTE_W | PTE_A | PTE_D);
    map(VA_NONE, (uint64_t)data[1], 0, PTE_R | PTE_W | PTE_A | PTE_D);
    *map(VA_NONE, (uint64_t)data[1], 0, 0) &= ~PTE_V; /* present in the table, invalid */
    map(VA_RO, (uint64_t)data[1], 0, PTE_R | PTE_A);
    map(VA_WO, (uint64_t)data[1], 0, PTE_W | PTE_A | PTE_D); /* reserved: W without R */
    /* a pointer where a leaf must be */
    *map(VA_NONLEAF, 0, 0, 0) = (((uint64_t)tables[0] >> 12) << PTE_PPN_SHIFT) | PTE_V;
    map(VA_USER, (uint64_t)data[2], 0, PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
    map(VA_XO, (uint64_t)data[2], 0, PTE_X | PTE_A);
    pte_ad = map(VA_AD, (uint64_t)data[3], 0, PTE_R | PTE_W);
    pte_remap = map(VA_REMAP, (uint64_t)data[4], 0, PTE_R | PTE_W | PTE_A | PTE_D);
    map(VA_UCODE, ustart, 0, PTE_R | PTE_X | PTE_U | PTE_A);
    /* addi a0, a0, 1 split across the two code pages, then c.jr ra; and the
     * same instruction again at the end of the second page, before a hole */
    code[0][2047] = 0x0513;
    code[1][0] = 0x0015;
    code[1][1] = 0x8082;
    code[1][2047] = 0x0513;
    map(VA_CODE, (uint64_t)code[0], 0, PTE_R | PTE_X | PTE_A);
    map(VA_CODE + PAGE, (uint64_t)code[1], 0, PTE_R | PTE_X | PTE_A);
    map(VA_LOAD_EDGE, (uint64_t)data[5], 0, PTE_R | PTE_A);
    /* at offset 64 of each code page: addi a0, a0, 1 (or 7); c.jr ra */
    code[0][32] = 0x0513;
    code[0][33] = 0x0015;
    code[0][34] = 0x8082;
    code[1][32] = 0x0513;
    code[1][33] = 0x0075;
    code[1][34] = 0x8082;
    pte_swap = map(VA_SWAP, (uint64_t)code[0], 0, PTE_R | PTE_X | PTE_A);
    *map(VA_BADWALK, 0, 1, 0) = PTE_V; /* points at a table at physical address 0 */
    map(VA_2M, SUPER_PA, 1, PTE_R | PTE_W | PTE_A | PTE_D);
    map(VA_2M_BAD, SUPER_PA + PAGE, 1, PTE_R | PTE_W | PTE_A | PTE_D); /* misaligned */
    map(VA_1G, RAM, 2, PTE_R | PTE_A);
#if LEVELS == 4
    map(VA_512G, 0, 3, PTE_R | PTE_A);
#endif
    /* a second address space: the same, except VA_ASID */
    root2 = new_table();
    memcpy(root2, root, PAGE);
    pte_asid1 = map(VA_ASID, (uint64_t)data[3], 0, PTE_R | PTE_W | PTE_A | PTE_D);
    pte_t *first = root;
    root = root2;
    map(VA_ASID, (uint64_t)data[4], 0, PTE_R | PTE_W | PTE_A | PTE_D);
    root = first;
    satp_value = ((uint64_t)SATP_MODE << SATP_MODE_SHIFT) | ((uint64_t)root >> 12);
    csr_write(satp, satp_value);
    CHECK_EQ(csr_read(satp), satp_value);
    sfence_all();
}

/* ---------------------------------------------------------------- accessors */
static uint64_t s_ld(uint64_t va) {
    uint64_t v = 0;
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
    return v;
}

static uint64_t s_sd(uint64_t va) {
    __asm__ volatile("sd %0, 0(%1)" ::"r"(0x5d5d5d5d5d5d5d5dULL), "r"(va) : "memory");
    return 0;
}

static uint64_t s_amo(uint64_t va) {
    uint64_t v;
    __asm__ volatile("amoadd.d %0, %1, (%2)" : "=r"(v) : "r"(1ULL), "r"(va) : "memory");
    return v;
}

/* Jump to va; a fetch fault resumes after the jump (m_resume). */
static uint64_t s_fetch(uint64_t va) {
    __asm__ volatile("lla t0, 1f\n\t"
                     "sd t0, 0(%0)\n\t"
                     "jalr ra, %1\n"
                     "1:\tsd zero, 0(%0)" /* no fault: do not leave m_resume set */
                     ::"r"(&m_resume), "r"(va)
                     : "t0", "ra", "memory");
    return 0;
}

/* Call the code at va with a0 = 41; a fetch fault resumes after the call. */
static uint64_t s_call(uint64_t va) {
    register uint64_t a0 __asm__("a0") = 41;
    __asm__ volatile("lla t0, 1f\n\t"
                     "sd t0, 0(%1)\n\t"
                     "jalr ra, %2\n"
                     "1:\tsd zero, 0(%1)" /* no fault: do not leave m_resume set */
                     : "+r"(a0)
                     : "r"(&m_resume), "r"(va)
                     : "t0", "ra", "memory");
    return a0;
}

static uint64_t s_ld_sum(uint64_t va) {
    csr_set(sstatus, MSTATUS_SUM);
    uint64_t v = s_ld(va);
    csr_clear(sstatus, MSTATUS_SUM);
    return v;
}

static uint64_t s_sd_sum(uint64_t va) {
    csr_set(sstatus, MSTATUS_SUM);
    s_sd(va);
    csr_clear(sstatus, MSTATUS_SUM);
    return 0;
}

static uint64_t s_fetch_sum(uint64_t va) {
    csr_set(sstatus, MSTATUS_SUM);
    s_fetch(va);
    csr_clear(sstatus, MSTATUS_SUM);
    return 0;
}

static uint64_t s_ld_mxr(uint64_t va) {
    csr_set(sstatus, MSTATUS_MXR);
    uint64_t v = s_ld(va);
    csr_clear(sstatus, MSTATUS_MXR);
    return v;
}

USER_TEXT static uint64_t u_ld(uint64_t va) {
    uint64_t v = 0;
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
    return v;
}

USER_TEXT static uint64_t u_sd(uint64_t va) {
    __asm__ volatile("sd %0, 0(%1)" ::"r"(0x7777ULL), "r"(va) : "memory");
    return 0;
}

static uint64_t in_s(uint64_t (*fn)(uint64_t), uint64_t va) { return call_in_mode(PRV_S, fn, va); }
static uint64_t in_u(uint64_t (*fn)(uint64_t), uint64_t va) {
    return call_in_mode_sp(PRV_U, fn, va, (uint64_t)(user_stack + 512));
}

#define EXPECT_FAULT(call, want_cause, want_tval) \
    do {                                          \
        m_expect();                               \
        (void)(call);                             \
        CHECK_TRAP(m_trap, (want_cause));         \
        CHECK_EQ(m_trap.tval, (want_tval));       \
    } while (0)
#define EXPECT_OK(call, want)                     \
    do {                                          \
        m_expect();                               \
        uint64_t val_ = (call);                   \
        CHECK_NO_TRAP(m_trap);                    \
        CHECK_EQ(val_, (want));                   \
    } while (0)

/* ---------------------------------------------------------------- tests */
static void page_sizes(void) {
    EXPECT_OK(in_s(s_ld, VA_RW + 8), data[0][1]);
    EXPECT_OK(in_s(s_sd, VA_RW + 16), 0);
    CHECK_EQ(data[0][2], 0x5d5d5d5d5d5d5d5dULL);
    /* 2 MiB */
    *(volatile uint64_t *)(SUPER_PA + 0x12348) = 0xabcdef;
    EXPECT_OK(in_s(s_ld, VA_2M + 0x12348), 0xabcdef);
    EXPECT_OK(in_s(s_sd, VA_2M + 0x1ffff8), 0);
    CHECK_EQ(*(volatile uint64_t *)(SUPER_PA + 0x1ffff8), 0x5d5d5d5d5d5d5d5dULL);
    /* 1 GiB (read-only) */
    uint64_t off = (uint64_t)&data[5][7] - RAM;
    EXPECT_OK(in_s(s_ld, VA_1G + off), data[5][7]);
    EXPECT_FAULT(in_s(s_sd, VA_1G + off), CAUSE_STORE_PAGE_FAULT, VA_1G + off);
#if LEVELS == 4
    /* 512 GiB */
    EXPECT_OK(in_s(s_ld, VA_512G + (uint64_t)&data[5][9]), data[5][9]);
#endif
}

static void faults(void) {
    EXPECT_FAULT(in_s(s_ld, VA_NONE + 24), CAUSE_LOAD_PAGE_FAULT, VA_NONE + 24);
    EXPECT_FAULT(in_s(s_sd, VA_NONE), CAUSE_STORE_PAGE_FAULT, VA_NONE);
    EXPECT_FAULT(in_s(s_fetch, VA_NONE), CAUSE_FETCH_PAGE_FAULT, VA_NONE);
    EXPECT_FAULT(in_s(s_ld, VA_BASE + 0x100000), CAUSE_LOAD_PAGE_FAULT, VA_BASE + 0x100000);
    /* read-only, not executable */
    EXPECT_OK(in_s(s_ld, VA_RO + 8), data[1][1]);
    EXPECT_FAULT(in_s(s_sd, VA_RO + 8), CAUSE_STORE_PAGE_FAULT, VA_RO + 8);
    EXPECT_FAULT(in_s(s_amo, VA_RO + 8), CAUSE_STORE_PAGE_FAULT, VA_RO + 8);
    EXPECT_FAULT(in_s(s_fetch, VA_RO + 0x40), CAUSE_FETCH_PAGE_FAULT, VA_RO + 0x40);
    CHECK_EQ(data[1][1], (2ULL << 56) | 1);
    /* W without R is reserved */
    EXPECT_FAULT(in_s(s_ld, VA_WO), CAUSE_LOAD_PAGE_FAULT, VA_WO);
    EXPECT_FAULT(in_s(s_sd, VA_WO), CAUSE_STORE_PAGE_FAULT, VA_WO);
    /* a non-leaf PTE at the last level */
    EXPECT_FAULT(in_s(s_ld, VA_NONLEAF), CAUSE_LOAD_PAGE_FAULT, VA_NONLEAF);
    /* a superpage whose PPN is not aligned to its size */
    EXPECT_FAULT(in_s(s_ld, VA_2M_BAD + 8), CAUSE_LOAD_PAGE_FAULT, VA_2M_BAD + 8);
    /* upper address bits must copy the top VA bit */
    EXPECT_FAULT(in_s(s_ld, NON_CANONICAL), CAUSE_LOAD_PAGE_FAULT, NON_CANONICAL);
    EXPECT_FAULT(in_s(s_sd, NON_CANONICAL | 8), CAUSE_STORE_PAGE_FAULT, NON_CANONICAL | 8);
    EXPECT_FAULT(in_s(s_ld, 0xffff000080000000ULL), CAUSE_LOAD_PAGE_FAULT, 0xffff000080000000ULL);
    CHECK_EQ(m_trap.prev_priv, PRV_S);
    /* a page-table walk that reads no memory: access fault of the access
     * type (QEMU 7.2 raises a page fault instead) */
#ifdef QEMU_DEVIATIONS
    EXPECT_FAULT(in_s(s_ld, VA_BADWALK + 8), CAUSE_LOAD_PAGE_FAULT, VA_BADWALK + 8);
#else
    EXPECT_FAULT(in_s(s_ld, VA_BADWALK + 8), CAUSE_LOAD_ACCESS, VA_BADWALK + 8);
    EXPECT_FAULT(in_s(s_sd, VA_BADWALK + 16), CAUSE_STORE_ACCESS, VA_BADWALK + 16);
    EXPECT_FAULT(in_s(s_fetch, VA_BADWALK), CAUSE_FETCH_ACCESS, VA_BADWALK);
#endif
}

/* The same virtual address runs other code once its mapping changed. */
static uint64_t s_swap_code(uint64_t va) {
    uint64_t before = s_call(va);
    *pte_swap = (((uint64_t)code[1] >> 12) << PTE_PPN_SHIFT) | PTE_R | PTE_X | PTE_A | PTE_V;
    __asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
    uint64_t after = s_call(va);
    return before << 8 | after;
}

static void page_crossing(void) {
    __asm__ volatile("fence.i" ::: "memory"); /* the code pages were written as data */
    /* a 4-byte instruction split across two executable pages runs */
    EXPECT_OK(in_s(s_call, VA_CODE + PAGE - 2), 42);
    /* split across an executable page and a hole: the fault names the hole */
    EXPECT_FAULT(in_s(s_call, VA_CODE + 2 * PAGE - 2), CAUSE_FETCH_PAGE_FAULT, VA_CODE + 2 * PAGE);
    CHECK_EQ(m_trap.epc, VA_CODE + 2 * PAGE - 2);
    /* a misaligned load across a readable page and a hole: the fault names
     * the part that faulted */
    EXPECT_FAULT(in_s(s_ld, VA_LOAD_EDGE + PAGE - 4), CAUSE_LOAD_PAGE_FAULT, VA_LOAD_EDGE + PAGE);
    EXPECT_OK(in_s(s_ld, VA_LOAD_EDGE + PAGE - 8), data[5][511]);
    EXPECT_OK(in_s(s_swap_code, VA_SWAP + 64), 42 << 8 | 48);
}

static void user_supervisor(void) {
    /* S may not touch user pages unless SUM, and never execute them */
    EXPECT_FAULT(in_s(s_ld, VA_USER + 8), CAUSE_LOAD_PAGE_FAULT, VA_USER + 8);
    EXPECT_FAULT(in_s(s_sd, VA_USER + 8), CAUSE_STORE_PAGE_FAULT, VA_USER + 8);
    EXPECT_OK(in_s(s_ld_sum, VA_USER + 8), data[2][1]);
    EXPECT_OK(in_s(s_sd_sum, VA_USER + 16), 0);
    CHECK_EQ(data[2][2], 0x5d5d5d5d5d5d5d5dULL);
    EXPECT_FAULT(in_s(s_fetch_sum, VA_UCODE), CAUSE_FETCH_PAGE_FAULT, VA_UCODE);
    /* U may use user pages only */
    EXPECT_OK(in_u(u_ld, VA_USER + 24), data[2][3]);
    EXPECT_OK(in_u(u_sd, VA_USER + 32), 0);
    CHECK_EQ(data[2][4], 0x7777);
    EXPECT_FAULT(in_u(u_ld, VA_RW), CAUSE_LOAD_PAGE_FAULT, VA_RW);
    CHECK_EQ(m_trap.prev_priv, PRV_U);
    EXPECT_FAULT(in_u(u_sd, VA_RW + 8), CAUSE_STORE_PAGE_FAULT, VA_RW + 8);
    /* SUM does not open supervisor pages to U */
    csr_set(mstatus, MSTATUS_SUM);
    EXPECT_FAULT(in_u(u_ld, VA_RW), CAUSE_LOAD_PAGE_FAULT, VA_RW);
    csr_clear(mstatus, MSTATUS_SUM);
}

static void mxr(void) {
    EXPECT_FAULT(in_s(s_ld, VA_XO + 8), CAUSE_LOAD_PAGE_FAULT, VA_XO + 8);
    EXPECT_OK(in_s(s_ld_mxr, VA_XO + 8), data[2][1]);
}

/* M-mode loads with MPRV = 1 are translated as mode MPP */
static uint64_t m_ld_as(unsigned priv, uint64_t va, uint64_t extra) {
    uint64_t v = 0;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, ((uint64_t)priv << MSTATUS_MPP_SHIFT) | extra);
    /* a fault returns to the csrc: fetches ignore MPRV */
    __asm__ volatile("csrs mstatus, %2\n\t"
                     "ld %0, 0(%1)\n\t"
                     "csrc mstatus, %2"
                     : "+r"(v)
                     : "r"(va), "r"(MSTATUS_MPRV)
                     : "memory");
    csr_clear(mstatus, MSTATUS_MPRV | extra);
    return v;
}

static void mprv(void) {
    EXPECT_OK(m_ld_as(PRV_S, VA_RW + 8, 0), data[0][1]);
    EXPECT_FAULT(m_ld_as(PRV_U, VA_RW + 8, 0), CAUSE_LOAD_PAGE_FAULT, VA_RW + 8);
    CHECK_EQ(m_trap.prev_priv, PRV_M);
    EXPECT_OK(m_ld_as(PRV_U, VA_USER + 8, 0), data[2][1]);
    EXPECT_FAULT(m_ld_as(PRV_S, VA_USER + 8, 0), CAUSE_LOAD_PAGE_FAULT, VA_USER + 8);
    EXPECT_OK(m_ld_as(PRV_S, VA_USER + 8, MSTATUS_SUM), data[2][1]);
    EXPECT_FAULT(m_ld_as(PRV_S, VA_XO, 0), CAUSE_LOAD_PAGE_FAULT, VA_XO);
    EXPECT_OK(m_ld_as(PRV_S, VA_XO, MSTATUS_MXR), data[2][0]);
    /* MPP = M: no translation */
    EXPECT_OK(m_ld_as(PRV_M, (uint64_t)&data[5][3], 0), data[5][3]);
    /* without MPRV, M is never translated */
    EXPECT_OK(s_ld((uint64_t)&data[5][4]), data[5][4]);
}

static void accessed_dirty(void) {
    CHECK_EQ(*pte_ad & (PTE_A | PTE_D), 0);
    EXPECT_OK(in_s(s_ld, VA_AD), data[3][0]);
    CHECK_EQ(*pte_ad & (PTE_A | PTE_D), PTE_A);
    EXPECT_OK(in_s(s_sd, VA_AD + 8), 0);
    CHECK_EQ(*pte_ad & (PTE_A | PTE_D), PTE_A | PTE_D);
    CHECK_EQ(data[3][1], 0x5d5d5d5d5d5d5d5dULL);
    /* a store to a clean page sets A and D at once */
    *pte_ad &= ~(PTE_A | PTE_D);
    sfence_all();
    EXPECT_OK(in_s(s_sd, VA_AD + 16), 0);
    CHECK_EQ(*pte_ad & (PTE_A | PTE_D), PTE_A | PTE_D);
}

static void satp_writes(void) {
    CHECK_EQ(csr_read(satp), satp_value);
    /* modes 1-7 are reserved, 11 (Sv64) is not implemented: write ignored */
    csr_write(satp, (1ULL << SATP_MODE_SHIFT) | 0x1234);
    CHECK_EQ(csr_read(satp), satp_value);
    csr_write(satp, (11ULL << SATP_MODE_SHIFT) | ((uint64_t)root >> 12));
    CHECK_EQ(csr_read(satp), satp_value);
    csr_write(satp, 0);
    CHECK_EQ(csr_read(satp), 0);
    csr_write(satp, satp_value);
    CHECK_EQ(csr_read(satp), satp_value);
}

static uint64_t s_remap(uint64_t va) {
    uint64_t before = s_ld(va);
    /* point the page elsewhere, then fence that address */
    *pte_remap = (((uint64_t)data[5] >> 12) << PTE_PPN_SHIFT) | PTE_R | PTE_W | PTE_A | PTE_D |
                 PTE_V;
    __asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
    uint64_t after = s_ld(va);
    return (before == data[4][0]) + 2 * (after == data[5][0]);
}

/* Switch between two address spaces (ASIDs 1 and 2) with no fence when the
 * hart keeps ASIDs apart; then change a mapping of ASID 1 and fence only it. */
static uint64_t s_asids(uint64_t va) {
    uint64_t mode = (uint64_t)SATP_MODE << SATP_MODE_SHIFT;
    uint64_t satp1 = mode | (1ULL << 44) | ((uint64_t)root >> 12);
    uint64_t satp2 = mode | (2ULL << 44) | ((uint64_t)root2 >> 12);
    csr_write(satp, satp1);
    int asids = (csr_read(satp) >> 44 & 0xffff) == 1; /* ASIDLEN may be 0 */
    __asm__ volatile("sfence.vma" ::: "memory");
    uint64_t ok = s_ld(va) == data[3][0];
    csr_write(satp, satp2);
    if (!asids)
        __asm__ volatile("sfence.vma" ::: "memory");
    ok |= (uint64_t)(s_ld(va) == data[4][0]) << 1;
    csr_write(satp, satp1);
    if (!asids)
        __asm__ volatile("sfence.vma" ::: "memory");
    ok |= (uint64_t)(s_ld(va) == data[3][0]) << 2;
    *pte_asid1 = (((uint64_t)data[5] >> 12) << PTE_PPN_SHIFT) | PTE_R | PTE_A | PTE_V;
    __asm__ volatile("sfence.vma zero, %0" ::"r"(asids ? 1ULL : 0ULL) : "memory");
    ok |= (uint64_t)(s_ld(va) == data[5][0]) << 3;
    csr_write(satp, satp_value);
    __asm__ volatile("sfence.vma" ::: "memory");
    return ok;
}

static uint64_t s_satp(uint64_t arg) {
    (void)arg;
    m_expect();
    __asm__ volatile("sfence.vma" ::: "memory");
    uint64_t r = m_trap.taken;
    m_expect();
    __asm__ volatile("csrr t0, satp" ::: "t0");
    r |= m_trap.taken << 1;
    return r;
}

static void fences(void) {
    EXPECT_OK(in_s(s_remap, VA_REMAP), 3);
    EXPECT_OK(in_s(s_asids, VA_ASID + 0), 0xf);
    /* TVM: sfence.vma and satp trap in S */
    csr_set(mstatus, MSTATUS_TVM);
    CHECK_EQ(in_s(s_satp, 0), 3);
    CHECK_EQ(m_trap.cause, CAUSE_ILLEGAL_INSTRUCTION);
    csr_clear(mstatus, MSTATUS_TVM);
    CHECK_EQ(in_s(s_satp, 0), 0);
}

void test_main(void) {
    build();
    page_sizes();
    faults();
    page_crossing();
    user_supervisor();
    mxr();
    mprv();
    accessed_dirty();
    satp_writes();
    fences();
    csr_write(satp, 0);
    sfence_all();
}
