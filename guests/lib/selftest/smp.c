/* Runtime self-test: secondary harts run secondary_main on their own stacks
 * with their own thread-local data; the console keeps locked lines whole. */
#include <stdio.h>

#include "guest.h"

#ifndef NHARTS
#define NHARTS 2
#endif

static volatile uint32_t arrived;
static __thread unsigned long my_id;

void secondary_main(unsigned long id) {
    my_id = id;
    console_lock();
    printf("hart %lu up, sp=%p\n", my_id, __builtin_frame_address(0));
    console_unlock();
    __atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
    for (;;)
        wfi();
}

int main(void) {
    my_id = 0;
    while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) != NHARTS - 1)
        ;
    console_lock();
    printf("hart %lu saw %u secondaries\n", my_id, (unsigned)arrived);
    console_unlock();
    return 0;
}
