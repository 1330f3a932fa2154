/* Runtime self-test: waits for an interrupt that can never come.
 * idle_mode (patched by the host): 0 = no timer armed; 1 = the timer
 * already expired but its interrupt is disabled; 2 = the timer expires
 * later, its interrupt disabled. */
#include "guest.h"

volatile unsigned long long idle_mode = 0;

int main(void) {
    csr_write(mie, 0);
    if (idle_mode == 1)
        clint_set_mtimecmp(0, 0);
    else if (idle_mode == 2)
        clint_set_mtimecmp(0, clint_mtime() + 1000);
    for (;;)
        wfi();
}
