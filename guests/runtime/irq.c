/* Interrupt controllers, the same from the guest whether they live in the
 * core or in Python: `rounds` IPIs ping-ponged between harts 0 and 1
 * through CLINT msip, `rounds` timer interrupts from mtimecmp, and `rounds`
 * external interrupts through the PLIC from the host's test "doorbell"
 * device (a write of 1 raises its line, 0 lowers it). Prints the counts and
 * exits 0 when they are all right. Needs 2 harts. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#define DOORBELL ((volatile uint32_t *)0x10008000UL)
#define DOORBELL_IRQ 5
#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(src) ((volatile uint32_t *)(PLIC_BASE + 4UL * (src)))
#define PLIC_ENABLE(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x2000UL + 0x80UL * (ctx)))
#define PLIC_THRESHOLD(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200000UL + 0x1000UL * (ctx)))
#define PLIC_CLAIM(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200004UL + 0x1000UL * (ctx)))

volatile uint64_t rounds = 20;

static volatile uint64_t ipis[2];
static volatile uint64_t ticks;
static volatile uint64_t externals;
static volatile uint64_t spurious;

static int on_trap(struct trap_frame *frame) {
    uint64_t me = csr_read(mhartid);
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_SOFT)) {
        clint_msip(me, 0);
        ipis[me]++;
        return 1;
    }
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_TIMER)) {
        clint_disarm(me);
        ticks++;
        return 1;
    }
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_EXT)) {
        uint32_t src = *PLIC_CLAIM(2 * me);
        if (src == DOORBELL_IRQ) {
            *DOORBELL = 0;
            externals++;
        } else {
            spurious++;
        }
        if (src != 0)
            *PLIC_CLAIM(2 * me) = src;
        return 1;
    }
    return 0;
}

static void enable(uint64_t mie) {
    csr_set(mie, mie);
    csr_set(mstatus, MSTATUS_MIE);
}

void secondary_main(unsigned long me) {
    if (me != 1) {
        for (;;)
            wfi();
    }
    enable(MIP_MSIP);
    uint64_t answered = 0;
    for (;;) {
        while (ipis[1] == answered)
            wfi();
        answered++;
        clint_msip(0, 1); /* pong */
    }
}

int main(void) {
    trap_set_hook(on_trap);
    *PLIC_PRIORITY(DOORBELL_IRQ) = 1;
    *PLIC_ENABLE(0) = 1u << DOORBELL_IRQ;
    *PLIC_THRESHOLD(0) = 0;
    enable(MIP_MSIP | MIP_MTIP | MIP_MEIP);

    for (uint64_t r = 0; r < rounds; r++) {
        clint_msip(1, 1); /* ping */
        while (ipis[0] == r)
            wfi();
    }
    for (uint64_t r = 0; r < rounds; r++) {
        clint_set_mtimecmp(0, clint_mtime() + 500);
        while (ticks == r)
            wfi();
    }
    for (uint64_t r = 0; r < rounds; r++) {
        *DOORBELL = 1;
        while (externals == r)
            wfi();
    }
    printf("ipi %lu/%lu timer %lu external %lu spurious %lu\n", (unsigned long)ipis[0],
           (unsigned long)ipis[1], (unsigned long)ticks, (unsigned long)externals,
           (unsigned long)spurious);
    int ok = ipis[0] == rounds && ipis[1] == rounds && ticks == rounds && externals == rounds &&
             spurious == 0;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
