/* reboot: counts its boots in a word of RAM that no image covers (RAM keeps
 * its contents across a reboot on avmm and on QEMU, while the images are
 * loaded again), reboots through the syscon (0x7777) until it has booted
 * REBOOTS + 1 times, then exits 0. */
#include <stdio.h>

#include "demo.h"

#ifndef REBOOTS
#define REBOOTS 2
#endif
#define BOOT_COUNTER ((volatile uint64_t *)0x83000000UL) /* RAM + 48 MiB */
#define MAGIC 0x424f4f54434e5400ULL                     /* "BOOTCNT" + count */
#define SYSCON ((volatile uint32_t *)0x100000UL)

int main(void) {
    uint64_t word = *BOOT_COUNTER;
    unsigned boot = (word & ~0xffULL) == MAGIC ? (unsigned)(word & 0xff) : 0;
    printf("reboot: boot %u\n", boot);
    if (boot < REBOOTS) {
        *BOOT_COUNTER = MAGIC | (boot + 1);
        fence();
        printf("reboot: rebooting through the syscon\n");
        *SYSCON = 0x7777;
        for (;;)
            wfi();
    }
    *BOOT_COUNTER = 0;
    printf("reboot: PASS after %u reboots\n", boot);
    return 0;
}
