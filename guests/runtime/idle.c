/* An idle machine: hart 0 takes a timer interrupt every `tick` (100 Hz at
 * 10 MHz) and sleeps in WFI in between; every other hart sleeps in WFI with
 * no interrupt enabled. Runs until the host stops it. */
#include <stdint.h>

#include "guest.h"

volatile uint64_t tick = 100000;
volatile uint64_t ticks;

static int on_trap(struct trap_frame *frame) {
    if (frame->cause != (CAUSE_INTERRUPT | IRQ_M_TIMER))
        return 0;
    clint_set_mtimecmp(0, clint_mtime() + tick);
    ticks++;
    return 1;
}

int main(void) {
    trap_set_hook(on_trap);
    clint_set_mtimecmp(0, clint_mtime() + tick);
    csr_set(mie, MIP_MTIP);
    csr_set(mstatus, MSTATUS_MIE);
    for (;;)
        wfi();
}
