/* timer: machine timer interrupts through the CLINT's mtimecmp. Hart 0 arms a
 * periodic tick, sleeps in WFI between ticks and counts them; each tick must
 * arrive at or after its deadline. Exit code 0 when TICKS ticks came in order
 * and the whole run took at least TICKS periods of mtime. */
#include <stdio.h>

#include "demo.h"

#ifndef TICKS
#define TICKS 10
#endif
#ifndef PERIOD
#define PERIOD (CLINT_TIMEBASE_HZ / 100) /* 10 ms */
#endif

static volatile uint32_t ticks;
static volatile uint64_t deadline;
static uint64_t lateness[TICKS];
static volatile uint32_t early;

static int timer_hook(struct trap_frame *frame) {
    if (frame->cause != (CAUSE_INTERRUPT | IRQ_M_TIMER))
        return 0;
    uint64_t now = clint_mtime();
    if (now < deadline)
        early++;
    if (ticks < TICKS)
        lateness[ticks] = now - deadline;
    ticks++;
    if (ticks < TICKS) {
        deadline += PERIOD;
        clint_set_mtimecmp(0, deadline);
    } else {
        clint_disarm(0);
    }
    return 1;
}

int main(void) {
    printf("timer: %d ticks of %lu.%03lu ms from mtimecmp, wfi in between\n", TICKS, MS(PERIOD));
    trap_set_hook(timer_hook);
    uint64_t start = clint_mtime();
    deadline = start + PERIOD;
    clint_set_mtimecmp(0, deadline);
    csr_set(mie, MIP_MTIP);
    csr_set(mstatus, MSTATUS_MIE);
    uint32_t wakeups = 0, seen = 0;
    while (ticks < TICKS) {
        wfi();
        wakeups++;
        while (seen < ticks) {
            printf("tick %2u at +%lu.%03lu ms (%lu ticks after its deadline)\n", seen + 1,
                   MS(start + (uint64_t)(seen + 1) * PERIOD + lateness[seen] - start),
                   (unsigned long)lateness[seen]);
            seen++;
        }
    }
    csr_clear(mstatus, MSTATUS_MIE);
    csr_clear(mie, MIP_MTIP);
    uint64_t elapsed = clint_mtime() - start;
    int ok = ticks == TICKS && early == 0 && elapsed >= (uint64_t)TICKS * PERIOD;
    printf("timer: %u ticks, %u wakeups from wfi, %u early, %lu.%03lu ms elapsed: %s\n",
           (unsigned)ticks, (unsigned)wakeups, (unsigned)early, MS(elapsed), ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
