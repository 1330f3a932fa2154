/* Console and exit backends, chosen at build time, and picolibc's stdio.
 *
 *   GUEST_CONSOLE_UART  console on the NS16550A at 0x10000000 (else HTIF)
 *   GUEST_EXIT_SIFIVE   exit through the SiFive test device at 0x100000
 *                       (else HTIF)
 * HTIF (Spike convention): tohost/fromhost are 8-byte symbols in section
 * .htif. An odd value written to tohost ends the run with code value >> 1;
 * (1 << 56) | (1 << 48) | ch prints ch, and the host acknowledges by writing
 * tohost back to 0 (and a response to fromhost, which we clear). */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#if !defined(GUEST_CONSOLE_UART) || !defined(GUEST_EXIT_SIFIVE)
volatile uint64_t tohost __attribute__((section(".htif"), aligned(8)));
volatile uint64_t fromhost __attribute__((section(".htif"), aligned(8)));
#endif

/* ------------------------------------------------------------ console */
#ifdef GUEST_CONSOLE_UART
#define UART_BASE 0x10000000UL
#define UART_THR ((volatile uint8_t *)(UART_BASE + 0))
#define UART_LSR ((volatile uint8_t *)(UART_BASE + 5))
#define UART_LSR_THRE 0x20

static void raw_putchar(char c) {
    while ((*UART_LSR & UART_LSR_THRE) == 0)
        ;
    *UART_THR = (uint8_t)c;
}
#else
static void raw_putchar(char c) {
    tohost = (1ULL << 56) | (1ULL << 48) | (uint8_t)c;
    while (tohost != 0)
        ;
    fromhost = 0;
}
#endif

static spinlock_t console_spin;
static volatile uint64_t console_owner = UINT64_MAX;
static unsigned console_depth;

/* hartid() rather than mhartid: guests print from S- and U-mode too. */
void console_lock(void) {
    uint64_t me = hartid();
    if (console_owner != me) {
        spin_lock(&console_spin);
        console_owner = me;
    }
    console_depth++;
}

void console_unlock(void) {
    if (--console_depth == 0) {
        console_owner = UINT64_MAX;
        spin_unlock(&console_spin);
    }
}

void console_putchar(char c) {
    console_lock();
    raw_putchar(c);
    console_unlock();
}

void console_write(const char *s, unsigned long len) {
    console_lock();
    for (unsigned long i = 0; i < len; i++)
        raw_putchar(s[i]);
    console_unlock();
}

void console_puts(const char *s) {
    console_lock();
    while (*s)
        raw_putchar(*s++);
    console_unlock();
}

void console_put_hex(uint64_t value) {
    console_lock();
    raw_putchar('0');
    raw_putchar('x');
    for (int shift = 60; shift >= 0; shift -= 4)
        raw_putchar("0123456789abcdef"[(value >> shift) & 0xf]);
    console_unlock();
}

void console_put_dec(uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    console_lock();
    while (n > 0)
        raw_putchar(digits[--n]);
    console_unlock();
}

/* ------------------------------------------------------------ exit */
void guest_exit(int code) {
#ifdef GUEST_EXIT_SIFIVE
    volatile uint32_t *test = (volatile uint32_t *)0x100000UL;
    *test = code == 0 ? 0x5555u : ((uint32_t)code << 16) | 0x3333u;
#else
    tohost = ((uint64_t)(uint32_t)code << 1) | 1;
#endif
    for (;;)
        ;
}

void _exit(int code) { guest_exit(code); }

/* ------------------------------------------------------------ stdio */
static int stdio_put(char c, FILE *file) {
    (void)file;
    console_putchar(c);
    return (unsigned char)c;
}

static FILE stdio_file = FDEV_SETUP_STREAM(stdio_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &stdio_file;
FILE *const stdout = &stdio_file;
FILE *const stderr = &stdio_file;
