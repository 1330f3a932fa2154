/* ctl-echo: a guest that answers a VMM's control API (avmm ctl), for its tests.
 * It runs until the VMM stops it.
 *
 * Hart 0 waits in WFI for interrupts and reports each one on the UART:
 * - console input (UART receive interrupts, PLIC source 10): every line typed
 *   comes back as "echo: LINE";
 * - a request on PLIC source TEST_IRQ, which no device drives (an injected
 *   interrupt): "irq TEST_IRQ (count N)";
 * - a supervisor software interrupt (mip.SSIP, not delegated, so it traps to
 *   M-mode): "ssip (count N)".
 * The other harts spin on a counter, so instruction counts keep moving while
 * the guest runs (and stop while the VMM pauses it). */
#include <stdio.h>

#include "demo.h"

#define UART ((volatile uint8_t *)0x10000000UL)
#define UART_IRQ 10
#define UART_RBR 0
#define UART_IER 1
#define UART_LSR 5
#define IER_RX 0x01
#define LSR_DR 0x01

#define TEST_IRQ 40

#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(src) ((volatile uint32_t *)(PLIC_BASE + 4UL * (src)))
#define PLIC_ENABLE(ctx, word) \
    ((volatile uint32_t *)(PLIC_BASE + 0x2000UL + 0x80UL * (ctx) + 4UL * (word)))
#define PLIC_THRESHOLD(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200000UL + 0x1000UL * (ctx)))
#define PLIC_CLAIM(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200004UL + 0x1000UL * (ctx)))

#define RING 256 /* received bytes not yet echoed; more are dropped */

static volatile uint8_t ring[RING];
static volatile uint32_t ring_head, ring_tail;
static volatile uint32_t test_irqs, ssips;
static volatile uint64_t spins[64];

static void uart_intr(void) {
    while (UART[UART_LSR] & LSR_DR) {
        uint8_t c = UART[UART_RBR];
        if (ring_head - ring_tail < RING)
            ring[ring_head++ % RING] = c;
    }
}

static int hook(struct trap_frame *frame) {
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_EXT)) {
        uint32_t src = *PLIC_CLAIM(0);
        if (src == UART_IRQ)
            uart_intr();
        else if (src == TEST_IRQ)
            test_irqs++;
        if (src)
            *PLIC_CLAIM(0) = src;
        return 1;
    }
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_S_SOFT)) {
        csr_clear(mip, MIP_SSIP);
        ssips++;
        return 1;
    }
    return 0;
}

void secondary_main(unsigned long id) {
    for (;;)
        spins[id % 64]++;
}

int main(void) {
    static char line[128];
    unsigned len = 0;
    uint32_t seen_irqs = 0, seen_ssips = 0;
    trap_set_hook(hook);
    *PLIC_PRIORITY(UART_IRQ) = 1;
    *PLIC_PRIORITY(TEST_IRQ) = 1;
    *PLIC_THRESHOLD(0) = 0;
    *PLIC_ENABLE(0, 0) = 1u << UART_IRQ;
    *PLIC_ENABLE(0, TEST_IRQ / 32) |= 1u << (TEST_IRQ % 32);
    UART[UART_IER] = IER_RX;
    csr_set(mie, MIP_MEIP | MIP_SSIP);
    csr_set(mstatus, MSTATUS_MIE);
    printf("ctl-echo: ready (type a line; PLIC source %d and SSIP are reported)\n", TEST_IRQ);
    for (;;) {
        wfi();
        while (ring_tail != ring_head) {
            char c = (char)ring[ring_tail++ % RING];
            if (c == '\r' || c == '\n') {
                if (len) {
                    line[len] = 0;
                    printf("echo: %s\n", line);
                }
                len = 0;
            } else if (len < sizeof(line) - 1) {
                line[len++] = c;
            }
        }
        while (seen_irqs != test_irqs)
            printf("irq %d (count %u)\n", TEST_IRQ, (unsigned)++seen_irqs);
        while (seen_ssips != ssips)
            printf("ssip (count %u)\n", (unsigned)++seen_ssips);
    }
}
