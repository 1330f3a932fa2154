/* Differential-test harness: run the generated body, print its signature.
 *
 * Output (hex, one item per line): x01..x31, f00..f31, fcsr, the scratch
 * buffer in 16-byte lines (m000..), then for directed programs one line per
 * result entry (r00000: value and fflags). QEMU and avmm must print the
 * same text. */
#include <stdint.h>

#include "guest.h"

extern void difftest_body(void);
extern uint64_t difftest_sig_x[32], difftest_sig_f[32], difftest_sig_fcsr;
extern uint8_t difftest_scratch[1024];
extern uint64_t difftest_results_count;
extern uint64_t difftest_results[];

static void hex(uint64_t v, int digits) {
    char buf[16];
    for (int i = digits - 1; i >= 0; i--) {
        buf[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    console_write(buf, (unsigned long)digits);
}

static void item(char kind, unsigned index, int index_digits, uint64_t value, int digits) {
    console_putchar(kind);
    hex(index, index_digits);
    console_putchar(' ');
    hex(value, digits);
    console_putchar('\n');
}

int main(void) {
    difftest_body();
    for (unsigned i = 1; i < 32; i++)
        item('x', i, 2, difftest_sig_x[i], 16);
    for (unsigned i = 0; i < 32; i++)
        item('f', i, 2, difftest_sig_f[i], 16);
    console_puts("fcsr ");
    hex(difftest_sig_fcsr, 2);
    console_putchar('\n');
    for (unsigned i = 0; i < 1024; i += 16) {
        console_putchar('m');
        hex(i, 3);
        console_putchar(' ');
        for (unsigned j = 0; j < 16; j++)
            hex(difftest_scratch[i + j], 2);
        console_putchar('\n');
    }
    for (unsigned i = 0; i < difftest_results_count; i++) {
        console_putchar('r');
        hex(i, 5);
        console_putchar(' ');
        hex(difftest_results[2 * i], 16);
        console_putchar(' ');
        hex(difftest_results[2 * i + 1], 2);
        console_putchar('\n');
    }
    console_puts("end\n");
    return 0;
}
