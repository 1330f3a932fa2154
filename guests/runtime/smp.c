/* SMP contention: every hart increments three shared counters, `iterations`
 * times each: one under a spinlock (plain read-modify-write inside the
 * critical section), one with amoadd, one with an LR/SC loop. Spin loops use
 * the Zihintpause `pause` hint, so pause-loop exiting can hand the pCPU to
 * the lock holder. Hart 0 waits for everyone, prints the totals and a hash
 * of the order in which harts took the lock (it changes with the
 * interleaving), and exits 0 when every total is exact.
 *
 * `nharts` and `iterations` are patched by the host before the run. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

volatile uint64_t nharts = 2;
volatile uint64_t iterations = 1000;

static volatile uint32_t lockword;
static volatile uint64_t locked_counter;
static volatile uint64_t amo_counter;
static volatile uint64_t lrsc_counter;
static volatile uint64_t order_hash;
static volatile uint64_t finished;

static inline void cpu_pause(void) { __asm__ volatile(".word 0x0100000f" ::: "memory"); }

static void lock_acquire(volatile uint32_t *l) {
    for (;;) {
        uint32_t old;
        __asm__ volatile("amoswap.w.aq %0, %2, %1" : "=r"(old), "+A"(*l) : "r"(1u) : "memory");
        if (old == 0)
            return;
        while (*l != 0)
            cpu_pause();
    }
}

static void lock_release(volatile uint32_t *l) {
    __asm__ volatile("amoswap.w.rl zero, zero, %0" : "+A"(*l)::"memory");
}

static void lrsc_add(volatile uint64_t *p, uint64_t v) {
    uint64_t tmp, fail;
    __asm__ volatile("1: lr.d %0, %2\n"
                     "   add %0, %0, %3\n"
                     "   sc.d %1, %0, %2\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(tmp), "=&r"(fail), "+A"(*p)
                     : "r"(v)
                     : "memory");
}

static void work(unsigned long me) {
    for (uint64_t i = 0; i < iterations; i++) {
        lock_acquire(&lockword);
        uint64_t c = locked_counter;
        /* Widen the critical section so slices often end inside it. */
        for (volatile int k = 0; k < 8; k++)
            ;
        order_hash = order_hash * 31 + me + 1;
        locked_counter = c + 1;
        lock_release(&lockword);
        __atomic_fetch_add(&amo_counter, 1, __ATOMIC_RELAXED);
        lrsc_add(&lrsc_counter, 1);
    }
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void secondary_main(unsigned long me) {
    if (me < nharts)
        work(me);
    for (;;)
        wfi();
}

int main(void) {
    work(0);
    while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) != nharts)
        cpu_pause();
    uint64_t want = nharts * iterations;
    printf("harts %lu iterations %lu\n", (unsigned long)nharts, (unsigned long)iterations);
    printf("lock %lu amo %lu lrsc %lu want %lu\n", (unsigned long)locked_counter,
           (unsigned long)amo_counter, (unsigned long)lrsc_counter, (unsigned long)want);
    printf("order %016lx\n", (unsigned long)order_hash);
    int ok = locked_counter == want && amo_counter == want && lrsc_counter == want;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
