/* Helpers shared by the demo guests. */
#ifndef DEMO_H
#define DEMO_H

#include <stdint.h>

#include "guest.h"

/* Zihintpause `pause` (a FENCE hint: harmless on harts without it). */
static inline void cpu_relax(void) { __asm__ volatile(".4byte 0x0100000f" ::: "memory"); }

/* mtime ticks (10 MHz) as milliseconds with three decimals, for printf("%lu.%03lu"). */
#define MS(t) (unsigned long)((t) / 10000), (unsigned long)((t) / 10 % 1000)

/* "rv64imafdcsu" from misa. */
static inline void misa_string(char *out) {
    uint64_t misa = csr_read(misa);
    char *p = out;
    *p++ = 'r', *p++ = 'v', *p++ = '6', *p++ = '4';
    for (int i = 0; i < 26; i++)
        if (misa & (1ull << i))
            *p++ = (char)('a' + i);
    *p = 0;
}

#endif
