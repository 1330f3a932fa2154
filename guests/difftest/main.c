/* Differential-test harness: run the generated body, print its signature.
 *
 * With DIFFTEST_PRIV (1 = S, 0 = U) the body runs in that mode under an
 * identity map with DIFFTEST_LEVELS (3 = Sv39, 4 = Sv48): 4 KiB pages over
 * the first 2 MiB of RAM (the image), 2 MiB pages up to 64 MiB; every page
 * user-accessible when the body runs in U-mode.
 *
 * Output (hex, one item per line): x01..x31, f00..f31, fcsr, the scratch
 * buffer in 16-byte lines (m000..), then for directed programs one line per
 * result entry (r00000: value and fflags). QEMU and avmm must print the
 * same text. */
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

extern void difftest_body(void);
extern uint64_t difftest_sig_x[32], difftest_sig_f[32], difftest_sig_fcsr;
extern uint8_t difftest_scratch[1024];
extern uint64_t difftest_results_count;
extern uint64_t difftest_results[];

static void hex(uint64_t v, int digits) {
    char buf[16];
    for (int i = digits - 1; i >= 0; i--) {
        buf[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    console_write(buf, (unsigned long)digits);
}

static void item(char kind, unsigned index, int index_digits, uint64_t value, int digits) {
    console_putchar(kind);
    hex(index, index_digits);
    console_putchar(' ');
    hex(value, digits);
    console_putchar('\n');
}

#ifdef DIFFTEST_PRIV
#define MAGIC 0x444f4e45 /* a7 of the ecall that ends the lower-mode run */
#define RAM 0x80000000ULL
#define PAGE 4096ULL
#define MEGA (2ULL << 20)

static uint64_t tables[6][512] __attribute__((aligned(4096)));
static unsigned used;
volatile uint64_t difftest_m_sp;
extern char difftest_lower_done[];

static uint64_t *table(void) { return tables[used++]; }

static void map(uint64_t *root, uint64_t va, int level, uint64_t flags) {
    uint64_t *t = root;
    for (int l = DIFFTEST_LEVELS - 1; l > level; l--) {
        uint64_t *e = &t[(va >> (12 + 9 * l)) & 511];
        if (!(*e & PTE_V))
            *e = (((uint64_t)table() >> 12) << PTE_PPN_SHIFT) | PTE_V;
        t = (uint64_t *)((*e >> PTE_PPN_SHIFT) << 12);
    }
    t[(va >> (12 + 9 * level)) & 511] = ((va >> 12) << PTE_PPN_SHIFT) | flags | PTE_V;
}

static int back_to_m(struct trap_frame *f) {
    if ((f->cause != CAUSE_USER_ECALL && f->cause != CAUSE_SUPERVISOR_ECALL) || f->x[17] != MAGIC)
        return 0;
    f->epc = (uint64_t)difftest_lower_done;
    f->status |= MSTATUS_MPP;
    f->x[2] = difftest_m_sp;
    return 1;
}

void difftest_run_lower(uint64_t mpp);
__asm__(".text\n"
        "difftest_run_lower:\n\t"
        "addi sp, sp, -16\n\t"
        "sd ra, 0(sp)\n\t"
        "la t0, difftest_m_sp\n\t"
        "sd sp, 0(t0)\n\t"
        "li t0, 0x1800\n\t" /* MPP */
        "csrc mstatus, t0\n\t"
        "csrs mstatus, a0\n\t"
        "la t0, difftest_lower_entry\n\t"
        "csrw mepc, t0\n\t"
        "mret\n"
        ".globl difftest_lower_done\n"
        "difftest_lower_done:\n\t"
        "ld ra, 0(sp)\n\t"
        "addi sp, sp, 16\n\t"
        "ret\n"
        "difftest_lower_entry:\n\t"
        "call difftest_body\n\t"
        "li a7, 0x444f4e45\n\t"
        "ecall\n"
        "1:\tj 1b\n");

static uint64_t root_satp;

static void run_lower(void) {
    csr_write(satp, root_satp);
    __asm__ volatile("sfence.vma" ::: "memory");
    trap_set_hook(back_to_m);
    difftest_run_lower((uint64_t)DIFFTEST_PRIV << MSTATUS_MPP_SHIFT);
    trap_set_hook(NULL);
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
}

static void run_body(void) {
    if (used) {
        run_lower();
        return;
    }
    uint64_t user = DIFFTEST_PRIV == PRV_U ? PTE_U : 0;
    uint64_t flags = PTE_R | PTE_W | PTE_X | PTE_A | PTE_D | user;
    uint64_t *root = table();
    for (uint64_t a = RAM; a < RAM + MEGA; a += PAGE)
        map(root, a, 0, flags);
    for (uint64_t a = RAM + MEGA; a < RAM + 32 * MEGA; a += MEGA)
        map(root, a, 1, flags);
    uint64_t mode = DIFFTEST_LEVELS == 3 ? SATP_MODE_SV39 : SATP_MODE_SV48;
    root_satp = (mode << SATP_MODE_SHIFT) | ((uint64_t)root >> 12);
    run_lower();
}
#else
static void run_body(void) { difftest_body(); }
#endif

/* The body runs DIFFTEST_RUNS times (it reloads its registers each time; the
 * scratch buffer carries over), so a translating core translates it: the
 * last runs execute translated code. */
#ifndef DIFFTEST_RUNS
#define DIFFTEST_RUNS 8
#endif

int main(void) {
    for (int i = 0; i < DIFFTEST_RUNS; i++)
        run_body();
    for (unsigned i = 1; i < 32; i++)
        item('x', i, 2, difftest_sig_x[i], 16);
    for (unsigned i = 0; i < 32; i++)
        item('f', i, 2, difftest_sig_f[i], 16);
    console_puts("fcsr ");
    hex(difftest_sig_fcsr, 2);
    console_putchar('\n');
    for (unsigned i = 0; i < 1024; i += 16) {
        console_putchar('m');
        hex(i, 3);
        console_putchar(' ');
        for (unsigned j = 0; j < 16; j++)
            hex(difftest_scratch[i + j], 2);
        console_putchar('\n');
    }
    for (unsigned i = 0; i < difftest_results_count; i++) {
        console_putchar('r');
        hex(i, 5);
        console_putchar(' ');
        hex(difftest_results[2 * i], 16);
        console_putchar(' ');
        hex(difftest_results[2 * i + 1], 2);
        console_putchar('\n');
    }
    console_puts("end\n");
    return 0;
}
