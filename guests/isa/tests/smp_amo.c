/* Two harts increment shared counters concurrently with amoadd.d,
 * amoadd.w and LR/SC loops; no increment is lost. */
#include "isa.h"

#define N 20000
#define N_LRSC 5000

static volatile uint64_t counter_d __attribute__((aligned(64)));
static volatile uint32_t counter_w __attribute__((aligned(64)));
static volatile uint64_t counter_lrsc __attribute__((aligned(64)));
static volatile uint64_t go, done __attribute__((aligned(64)));

static void work(void) {
    for (int i = 0; i < N; i++) {
        __asm__ volatile("amoadd.d zero, %1, %0" : "+A"(counter_d) : "r"(1ULL) : "memory");
        __asm__ volatile("amoadd.w zero, %1, %0" : "+A"(counter_w) : "r"(1ULL) : "memory");
    }
    for (int i = 0; i < N_LRSC; i++) {
        uint64_t v, rc;
        __asm__ volatile("1: lr.d %0, %2\n\t"
                         "addi %0, %0, 1\n\t"
                         "sc.d %1, %0, %2\n\t"
                         "bnez %1, 1b"
                         : "=&r"(v), "=&r"(rc), "+A"(counter_lrsc)::"memory");
    }
}

void secondary_main(unsigned long id) {
    if (id == 1) {
        while (!go)
            ;
        work();
        __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
    }
    for (;;)
        wfi();
}

void test_main(void) {
    go = 1;
    work();
    while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) != 1)
        ;
    CHECK_EQ(counter_d, 2 * N);
    CHECK_EQ(counter_w, 2 * N);
    CHECK_EQ(counter_lrsc, 2 * N_LRSC);
}
