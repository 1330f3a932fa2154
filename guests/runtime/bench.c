/* Workloads of bench/exits.py and bench/scale.py, chosen by `mode` (patched):
 *   0  compute: every hart < nharts runs `count` steps of an integer mix
 *   1  `count` loads from RAM (the baseline of the exit benchmarks)
 *   2  `count` loads from the host's device at 0x10008000 (MMIO exit to Python)
 *   3  `count` stores to that device
 *   4  `count` loads of the in-core CLINT's mtime (no exit: the fast path)
 *   5  `count` SBI calls (BASE get_spec_version; needs the VMM to serve SBI)
 * then exits 0. */
#include <stdint.h>

#include "guest.h"

#define DEVICE ((volatile uint32_t *)0x10008000UL)

/* In .data even when zero: crt0 clears .bss after the host patched them. */
#define PATCHED __attribute__((section(".data")))
volatile uint64_t mode PATCHED = 0;
volatile uint64_t count PATCHED = 1000;
volatile uint64_t nharts PATCHED = 1;

static volatile uint64_t finished;
static volatile uint64_t results[64];
static volatile uint32_t ram_word;

static inline void cpu_pause(void) { __asm__ volatile(".word 0x0100000f" ::: "memory"); }

static void compute(unsigned long me) {
    uint64_t x = me + 1, acc = 0;
    for (uint64_t i = 0; i < count; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        acc += (x >> 33) ^ (acc << 3);
    }
    results[me] = acc;
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void secondary_main(unsigned long me) {
    if (mode == 0 && me < nharts)
        compute(me);
    for (;;)
        wfi();
}

int main(void) {
    uint64_t n = count, sum = 0;
    switch (mode) {
    case 0:
        compute(0);
        while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) != nharts)
            cpu_pause();
        break;
    case 1:
        for (uint64_t i = 0; i < n; i++)
            sum += ram_word;
        break;
    case 2:
        for (uint64_t i = 0; i < n; i++)
            sum += *DEVICE;
        break;
    case 3:
        for (uint64_t i = 0; i < n; i++)
            *DEVICE = (uint32_t)i;
        break;
    case 4:
        for (uint64_t i = 0; i < n; i++)
            sum += clint_mtime();
        break;
    case 5:
        for (uint64_t i = 0; i < n; i++) {
            register uint64_t a0 __asm__("a0") = 0;
            register uint64_t a6 __asm__("a6") = 0;
            register uint64_t a7 __asm__("a7") = 0x10;
            __asm__ volatile("ecall" : "+r"(a0) : "r"(a6), "r"(a7) : "a1", "memory");
            sum += a0;
        }
        break;
    }
    results[0] += sum;
    return 0;
}
