/*
 * Speed of avmm/core/softfloat.c: ns per call on random normal operands, RNE.
 * Not a test (nothing is asserted); run by hand:
 *
 *   gcc -std=gnu11 -O2 -ffp-contract=off -I avmm/core -c avmm/core/softfloat.c -o /tmp/sf.o
 *   gcc -std=gnu11 -O2 -I avmm/core tests/softfloat/sf_bench.c /tmp/sf.o -o /tmp/sf_bench
 *   /tmp/sf_bench
 *
 * softfloat.c is compiled separately, as in the extension, so every operation
 * pays a real call like the interpreter's.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "softfloat.h"

#define N 4096
#define REPS 2000

static uint64_t a64[N], b64[N], c64[N];
static uint32_t a32[N], b32[N], c32[N];

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Normal numbers within a few binades of 1: the common case in guest code. */
static uint64_t norm64(void) { return (rnd() & 0x800fffffffffffffull) | (uint64_t)(1023 - 8 + rnd() % 16) << 52; }
static uint32_t norm32(void) { return (uint32_t)((rnd() & 0x807fffff) | (127 - 8 + rnd() % 16) << 23); }

#define BENCH(label, expr)                                                                     \
    do {                                                                                       \
        uint64_t acc = 0;                                                                      \
        uint32_t fl = 0;                                                                       \
        double t0 = now();                                                                     \
        for (int r = 0; r < REPS; r++)                                                         \
            for (int i = 0; i < N; i++)                                                        \
                acc += (expr);                                                                 \
        double dt = now() - t0;                                                                \
        printf("%-10s %6.2f ns/op  (checksum %llx, flags %x)\n", label,                        \
               dt * 1e9 / ((double)N * REPS), (unsigned long long)acc, fl);                    \
    } while (0)

int main(void)
{
    for (int i = 0; i < N; i++) {
        a64[i] = norm64();
        b64[i] = norm64();
        c64[i] = norm64();
        a64[i] &= ~(1ull << 63); /* positive, for sqrt */
        a32[i] = norm32() & 0x7fffffff;
        b32[i] = norm32();
        c32[i] = norm32();
    }
    BENCH("f64_add", f64_add(a64[i], b64[i], RM_RNE, &fl));
    BENCH("f64_mul", f64_mul(a64[i], b64[i], RM_RNE, &fl));
    BENCH("f64_div", f64_div(a64[i], b64[i], RM_RNE, &fl));
    BENCH("f64_sqrt", f64_sqrt(a64[i], RM_RNE, &fl));
    BENCH("f64_fma", f64_fma(a64[i], b64[i], c64[i], false, false, RM_RNE, &fl));
    BENCH("f32_add", f32_add(a32[i], b32[i], RM_RNE, &fl));
    BENCH("f32_mul", f32_mul(a32[i], b32[i], RM_RNE, &fl));
    BENCH("f32_div", f32_div(a32[i], b32[i], RM_RNE, &fl));
    BENCH("f32_sqrt", f32_sqrt(a32[i], RM_RNE, &fl));
    BENCH("f32_fma", f32_fma(a32[i], b32[i], c32[i], false, false, RM_RNE, &fl));
    BENCH("f64_lt", f64_lt(a64[i], b64[i], &fl));
    BENCH("f64_to_i64", f64_to_i64(a64[i], RM_RTZ, &fl));
    BENCH("i64_to_f64", i64_to_f64((int64_t)b64[i], RM_RNE, &fl));
    return 0;
}
