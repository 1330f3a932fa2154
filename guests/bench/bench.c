/* CPU benchmark guest: an integer mix with data-dependent branches,
 * loads and stores over a small array, multiplication and division, and
 * single and double precision FP (rv64gc code, so mostly compressed).
 * `bench_iterations` is patched by the host (bench/core.py); the checksum
 * printed at the end lets QEMU and avmm be compared. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "guest.h"

volatile uint64_t bench_iterations = 100;

static uint32_t arr[256];
static double vec[64];

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t bits_d(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t bits_f(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

int main(void) {
    uint64_t n = bench_iterations;
    uint64_t h = 0x9e3779b97f4a7c15ULL, acc = 1;
    double fsum = 1.0;
    float fs = 1.0f;
    for (unsigned i = 0; i < 256; i++)
        arr[i] = (uint32_t)(i * 2654435761u);
    for (unsigned i = 0; i < 64; i++)
        vec[i] = (double)i * 0.25;

    for (uint64_t it = 0; it < n; it++) {
        /* integer mix with unpredictable branches */
        for (int i = 0; i < 64; i++) {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            switch (h & 3) {
            case 0:
                acc += h;
                break;
            case 1:
                acc ^= rotl(h, 11);
                break;
            case 2:
                acc -= h >> 3;
                break;
            default:
                acc = acc * 31 + (uint64_t)i;
                break;
            }
        }
        /* loads and stores: one bubble pass and a scattered store */
        for (int i = 0; i < 255; i++) {
            uint32_t a = arr[i], b = arr[i + 1];
            if (a > b) {
                arr[i] = b;
                arr[i + 1] = a;
            }
        }
        arr[h & 255] = (uint32_t)(h >> 32);
        /* multiplication and division */
        for (uint64_t i = 1; i < 16; i++) {
            uint64_t d = (h >> i) | 1;
            acc += (h / d) * i + acc % d;
            acc ^= (uint64_t)((int64_t)acc / -(int64_t)i);
        }
        /* floating point */
        for (int i = 0; i < 64; i++) {
            vec[i] = vec[i] * 0.999 + (double)(arr[i] & 0xff) * 1e-3;
            fsum += vec[i] * vec[63 - i];
        }
        double x = fsum;
        for (int k = 0; k < 3; k++)
            x = 0.5 * (x + 2.0 / (x + 1.0));
        fsum = __builtin_sqrt(fsum * fsum + x) * 0.5;
        fs = fs * 1.0001f + (float)(acc & 7);
        if (fs > 1e6f)
            fs *= 1e-6f;
        acc += (uint64_t)(int64_t)(fsum * 1000.0);
    }

    uint64_t sum = 0;
    for (unsigned i = 0; i < 256; i++)
        sum = sum * 33 + arr[i];
    uint64_t checksum = acc ^ rotl(sum, 17) ^ bits_d(fsum) ^ ((uint64_t)bits_f(fs) << 7);
    printf("checksum %016llx iterations %llu\n", (unsigned long long)checksum,
           (unsigned long long)n);
    return 0;
}
