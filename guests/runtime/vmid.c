/* VMID check: the guest maps one virtual page (VA 0x40000000) to one of
 * NPAGES physical pages, chosen by `vm_index` (patched per VM by the host),
 * then reads it `iterations` times from S-mode. Every VM fills page i with
 * 0x1000 + i, so a TLB entry that leaked from another VM (same VMID, no
 * flush) shows up as a wrong value. The rest of RAM is identity-mapped with
 * a 1 GiB page. S-mode reports the number of wrong reads with an ecall;
 * M-mode prints it and exits 0 when it is zero. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#define NPAGES 8
#define VA 0x40000000UL

volatile uint64_t vm_index __attribute__((section(".data"))) = 0; /* patched: not in .bss */
volatile uint64_t iterations = 100000;

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t level1[512] __attribute__((aligned(4096)));
static uint64_t level0[512] __attribute__((aligned(4096)));
static volatile uint64_t pages[NPAGES][512] __attribute__((aligned(4096)));

static uint64_t table(const void *next) { return ((uint64_t)next >> 12) << PTE_PPN_SHIFT | PTE_V; }

static uint64_t leaf(uint64_t pa, uint64_t perm) {
    return (pa >> 12) << PTE_PPN_SHIFT | perm | PTE_A | PTE_D | PTE_V;
}

static int on_trap(struct trap_frame *frame) {
    if (frame->cause != CAUSE_SUPERVISOR_ECALL)
        return 0;
    uint64_t bad = frame->x[10];
    printf("vm %lu: %lu reads, %lu wrong\n", (unsigned long)vm_index, (unsigned long)iterations,
           (unsigned long)bad);
    guest_exit(bad == 0 ? 0 : 1);
}

static void __attribute__((noreturn, noinline)) supervisor(void) {
    uint64_t expected = 0x1000 + vm_index % NPAGES;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        if (*(volatile uint64_t *)VA != expected)
            bad++;
    }
    register uint64_t a0 __asm__("a0") = bad;
    __asm__ volatile("ecall" : : "r"(a0));
    for (;;)
        ;
}

int main(void) {
    for (int i = 0; i < NPAGES; i++)
        pages[i][0] = 0x1000 + i;
    root[2] = leaf(0x80000000UL, PTE_R | PTE_W | PTE_X); /* RAM, identity */
    root[1] = table(level1);
    level1[0] = table(level0);
    level0[0] = leaf((uint64_t)&pages[vm_index % NPAGES][0], PTE_R | PTE_W);
    trap_set_hook(on_trap);
    csr_write(satp, (uint64_t)SATP_MODE_SV39 << SATP_MODE_SHIFT | (uint64_t)root >> 12);
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, (uint64_t)PRV_S << MSTATUS_MPP_SHIFT);
    csr_write(mepc, (uint64_t)supervisor);
    __asm__ volatile("mret");
    return 1;
}
