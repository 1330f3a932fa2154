/* Device work and reproducibility: hart 0 rings the host's doorbell device
 * `rounds` times and sleeps until its interrupt arrives through the PLIC;
 * hart 1 counts as fast as it can meanwhile. The interrupt handler notes
 * how far hart 1 got, so the output shows exactly where, in the other
 * hart's instruction stream, each completion landed. Needs 2 harts. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#define DOORBELL ((volatile uint32_t *)0x10008000UL)
#define DOORBELL_IRQ 5
#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(src) ((volatile uint32_t *)(PLIC_BASE + 4UL * (src)))
#define PLIC_ENABLE(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x2000UL + 0x80UL * (ctx)))
#define PLIC_CLAIM(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200004UL + 0x1000UL * (ctx)))

volatile uint64_t rounds = 5;

static volatile uint64_t progress;
static volatile uint64_t seen[64];
static volatile uint64_t externals;
static volatile uint64_t done;

static int on_trap(struct trap_frame *frame) {
    if (frame->cause != (CAUSE_INTERRUPT | IRQ_M_EXT))
        return 0;
    uint32_t src = *PLIC_CLAIM(0);
    if (src == DOORBELL_IRQ) {
        *DOORBELL = 0;
        seen[externals % 64] = progress;
        externals++;
    }
    if (src != 0)
        *PLIC_CLAIM(0) = src;
    return 1;
}

void secondary_main(unsigned long me) {
    if (me == 1) {
        while (!done)
            progress++;
    }
    for (;;)
        wfi();
}

int main(void) {
    trap_set_hook(on_trap);
    *PLIC_PRIORITY(DOORBELL_IRQ) = 1;
    *PLIC_ENABLE(0) = 1u << DOORBELL_IRQ;
    csr_set(mie, MIP_MEIP);
    csr_set(mstatus, MSTATUS_MIE);
    for (uint64_t r = 0; r < rounds; r++) {
        *DOORBELL = 1;
        while (externals == r)
            wfi();
    }
    done = 1;
    for (uint64_t r = 0; r < rounds && r < 64; r++)
        printf("interrupt %lu: hart 1 at %lu\n", (unsigned long)r, (unsigned long)seen[r]);
    return 0;
}
