/* Runs forever: a loop that prints a line every `interval` iterations.
 * Used to stop a busy VM from the outside (signals, requests). */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

volatile uint64_t interval = 1000000;

int main(void) {
    uint64_t n = 0;
    for (;;) {
        for (volatile uint64_t i = 0; i < interval; i++)
            ;
        printf("spin %lu\n", (unsigned long)n++);
    }
}
