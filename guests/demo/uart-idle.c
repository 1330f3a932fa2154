/* uart-idle: an interrupt-driven console at an idle prompt, driven the way
 * xv6's console driver drives the UART. Hart 0 enables the NS16550A's
 * transmit (THRE) and receive interrupts, writes a prompt through THR, then
 * waits `idle_ms` (patchable, default 500) of mtime in WFI while the other
 * harts sleep. Its handler,
 * like xv6's uartintr(), claims the PLIC source, drains RBR while LSR.DR is
 * set and completes, and never reads IIR, so the THRE condition stays true
 * the whole time. On QEMU's virt board that costs a handful of interrupts;
 * a board that turns a level which stays high into a new request at every
 * completion delivers a storm (the handler stops it after STORM_LIMIT so the
 * run still ends). Prints the counts; exit code 0 when fewer than
 * MAX_PER_SECOND external interrupts per second arrived at the prompt. */
#include <stdio.h>

#include "demo.h"

#define UART ((volatile uint8_t *)0x10000000UL)
#define UART_IRQ 10
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_LSR 5
#define IER_RX 0x01
#define IER_TX 0x02
#define LSR_DR 0x01
#define LSR_THRE 0x20

#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(src) ((volatile uint32_t *)(PLIC_BASE + 4UL * (src)))
#define PLIC_ENABLE(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x2000UL + 0x80UL * (ctx)))
#define PLIC_THRESHOLD(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200000UL + 0x1000UL * (ctx)))
#define PLIC_CLAIM(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200004UL + 0x1000UL * (ctx)))

volatile uint64_t idle_ms = 500;
#define MAX_PER_SECOND 50
#define STORM_LIMIT 20000

static volatile uint64_t externals, lsr_reads, received;
static volatile int idle_over;
static const char prompt[] = "$ ";
static volatile unsigned prompt_sent;

/* xv6's uartstart(): send what is queued while the transmitter has room */
static void uart_start(void) {
    while (prompt_sent < sizeof(prompt) - 1 && (UART[UART_LSR] & LSR_THRE))
        UART[UART_THR] = (uint8_t)prompt[prompt_sent++];
}

/* xv6's uartintr(): read what arrived, then send more */
static void uart_intr(void) {
    for (;;) {
        lsr_reads++;
        if (!(UART[UART_LSR] & LSR_DR))
            break;
        (void)UART[UART_RBR];
        received++;
    }
    uart_start();
}

static int hook(struct trap_frame *frame) {
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_EXT)) {
        uint32_t src = *PLIC_CLAIM(0);
        externals++;
        if (src == UART_IRQ)
            uart_intr();
        if (src)
            *PLIC_CLAIM(0) = src;
        if (externals >= STORM_LIMIT)
            *PLIC_ENABLE(0) = 0; /* a storm: stop it so the run can end */
        return 1;
    }
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_TIMER)) {
        clint_disarm(0);
        idle_over = 1;
        return 1;
    }
    return 0;
}

int main(void) {
    printf("uart-idle: interrupt-driven console (THRE and RX interrupts, IIR never read)\n");
    trap_set_hook(hook);
    *PLIC_PRIORITY(UART_IRQ) = 1;
    *PLIC_THRESHOLD(0) = 0;
    *PLIC_ENABLE(0) = 1u << UART_IRQ;
    UART[UART_IER] = IER_TX | IER_RX; /* as xv6's uartinit() */
    uint64_t start = clint_mtime();
    clint_set_mtimecmp(0, start + idle_ms * (CLINT_TIMEBASE_HZ / 1000));
    csr_set(mie, MIP_MEIP | MIP_MTIP);
    csr_set(mstatus, MSTATUS_MIE);
    uart_start();
    while (!idle_over)
        wfi();
    csr_clear(mstatus, MSTATUS_MIE);
    UART[UART_IER] = 0;
    uint64_t elapsed = clint_mtime() - start;
    uint64_t limit = MAX_PER_SECOND * idle_ms / 1000;
    int ok = prompt_sent == sizeof(prompt) - 1 && externals < limit;
    printf("\nuart-idle: %lu external interrupts, %lu LSR reads in %lu.%03lu ms at the prompt: %s\n",
           (unsigned long)externals, (unsigned long)lsr_reads, MS(elapsed), ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
