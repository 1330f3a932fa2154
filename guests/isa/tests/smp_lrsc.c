/* Two harts: a store or an AMO by hart 1 to the address hart 0 holds a
 * reservation on makes hart 0's SC fail; without interference hart 0's
 * LR/SC succeeds. The handshake flags sit in other cache lines than the
 * reserved word. */
#include "isa.h"

#define ROUNDS 20

static volatile uint64_t target __attribute__((aligned(64)));
static volatile uint64_t phase __attribute__((aligned(64)));
static volatile uint64_t ack __attribute__((aligned(64)));

void secondary_main(unsigned long id) {
    if (id != 1)
        for (;;)
            wfi();
    uint64_t seen = 0;
    for (;;) {
        while (phase == seen)
            ;
        seen = phase;
        if (seen & 1)
            target = seen << 32; /* a plain store */
        else
            __atomic_fetch_add(&target, 1, __ATOMIC_RELAXED); /* an AMO */
        fence();
        ack = seen;
    }
}

void test_main(void) {
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        uint64_t v, rc;
        target = 100;
        fence();
        __asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(&target) : "memory");
        CHECK_EQ(v, 100);
        phase = round;
        while (ack != round)
            ;
        __asm__ volatile("sc.d %0, %1, (%2)" : "=r"(rc) : "r"(0xdeadULL), "r"(&target) : "memory");
        CHECK(rc != 0);
        CHECK_EQ(target, (round & 1) ? round << 32 : 101);
    }
    /* undisturbed, an LR/SC pair succeeds (allowing spurious failures) */
    uint64_t v, rc = 1;
    for (int tries = 0; tries < 100 && rc != 0; tries++) {
        __asm__ volatile("lr.d %0, (%2)\n\t"
                         "addi %0, %0, 1\n\t"
                         "sc.d %1, %0, (%2)"
                         : "=&r"(v), "=&r"(rc)
                         : "r"(&target)
                         : "memory");
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(target, v);
}
