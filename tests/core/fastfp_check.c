/*
 * The translator's host-FPU fast paths (jit.c: d_fast, s_fast, d_fma_fast)
 * against softfloat.c on random operands, cancellations and edge exponents:
 * wherever a fast path answers, value and fflags must be softfloat's. With
 * nx (fflags already holds NX) a fast path skips the inexact test: where it
 * answers, the value must be softfloat's and softfloat may raise nothing but
 * NX, so the guest's fflags end the same. Each case is tried both ways.
 * Includes jit.c to reach its static helpers. usage: fastfp_check ITERATIONS
 */
#include "jit.c"

#include <stdio.h>
#include <stdlib.h>

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void){ rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static uint64_t rdbl(void){
    uint64_t m = rnd() & ((1ull<<52)-1);
    switch (rnd() % 4) { case 0: m &= ~((1ull<<30)-1); break; case 1: m &= ~((1ull<<45)-1); break; default: break; }
    uint64_t e = 1023 + (rnd() % 200) - 100;
    if (rnd() % 16 == 0) e = rnd() % 2048;
    return (rnd() & 1ull) << 63 | e << 52 | m;
}
int main(int argc, char **argv){
    long iters = argc > 1 ? atol(argv[1]) : 1000000;
    __builtin_cpu_init(); host_fma = __builtin_cpu_supports("fma");
    long n = 0, fast = 0, bad = 0, fast_nx = 0;
    for (long i = 0; i < iters; i++) {
      uint64_t save = rs; /* the same operands with and without nx */
      for (int nx = 0; nx < 2; nx++) {
        uint64_t a = rdbl(), b = rdbl(), c = rdbl(); int neg = rnd() & 3;
        if (rnd() % 8 == 0) c = (rnd()&1ull) << 63;
        if (rnd() % 4 == 0) { /* c close to -a*b: cancellation */
            double x, y; memcpy(&x,&a,8); memcpy(&y,&b,8); double p = x*y; if (neg&1) p=-p; if (neg & 2) {} else p = -p; memcpy(&c,&p,8); c ^= rnd() & 7; }
        uint64_t r = 0, r2; uint32_t f1 = 0, f2 = 0;
        n++;
        if (d_fma_fast(a, b, c, neg, &r, &f1, nx)) {
            if (nx) fast_nx++; else fast++;
            r2 = f64_fma(a, b, c, neg & 1, neg >> 1, 0, &f2);
            if (r != r2 || (nx ? (f1 != 0 || (f2 & ~FF_NX)) : f1 != f2)) { if (bad++ < 5) printf("FMA %016lx %016lx %016lx %d: %016lx/%x vs %016lx/%x\n", a,b,c,neg,r,f1,r2,f2); }
        }
        for (unsigned op = OP_FADD_D; op <= OP_FDIV_D; op++) {
            f1 = f2 = 0;
            uint64_t bb = b; if (rnd()%4==0 && op <= OP_FSUB_D) { bb = a ^ (rnd() & 0xff) ^ ((uint64_t)(op==OP_FADD_D) << 63); }
            if (d_fast(op, a, bb, &r, &f1, nx)) {
                r2 = op==OP_FADD_D ? f64_add(a,bb,0,&f2) : op==OP_FSUB_D ? f64_sub(a,bb,0,&f2) : op==OP_FMUL_D ? f64_mul(a,bb,0,&f2) : f64_div(a,bb,0,&f2);
                if (r != r2 || (nx ? (f1 != 0 || (f2 & ~FF_NX)) : f1 != f2)) { if (bad++ < 10) printf("op%u %016lx %016lx: %016lx/%x vs %016lx/%x\n", op, a,bb,r,f1,r2,f2); }
            }
        }
        uint32_t sa = (uint32_t)rnd(), sb = (uint32_t)rnd(), sr, sr2;
        if (rnd()%2) { sa = (sa & 0x807fffff) | ((127 + rnd()%40 - 20) << 23); sb = (sb & 0x807fffff) | ((127 + rnd()%40 - 20) << 23); }
        if (rnd()%3==0) sb = sa ^ (rnd() & 0xf) ^ 0x80000000u;
        for (unsigned op = OP_FADD_S; op <= OP_FDIV_S; op++) {
            f1 = f2 = 0;
            if (s_fast(op, sa, sb, &sr, &f1, nx)) {
                sr2 = op==OP_FADD_S ? f32_add(sa,sb,0,&f2) : op==OP_FSUB_S ? f32_sub(sa,sb,0,&f2) : op==OP_FMUL_S ? f32_mul(sa,sb,0,&f2) : f32_div(sa,sb,0,&f2);
                if (sr != sr2 || (nx ? (f1 != 0 || (f2 & ~FF_NX)) : f1 != f2)) { if (bad++ < 15) printf("sop%u %08x %08x: %08x/%x vs %08x/%x\n", op, sa,sb,sr,f1,sr2,f2); }
            }
        }
        if (nx == 0)
            rs = save; /* replay this case's operands with nx */
      }
    }
    /* fcvt.d.w / fcvt.d.wu on the host: softfloat's value, and softfloat raises nothing */
    for (long i = 0; i < iters + 8; i++) {
        static const uint32_t edge[8] = {0, 1, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x80000001u, 0x00ffffffu, 0x01000001u};
        uint32_t w = i < 8 ? edge[i] : (uint32_t)rnd();
        uint32_t f = 0, g = 0;
        uint64_t s1 = i32_to_f64((int32_t)w, (int)(rnd() % 5), &f), u1 = u32_to_f64(w, (int)(rnd() % 5), &g);
        if (d_from_i32((int32_t)w) != s1 || d_from_u32(w) != u1 || f || g) {
            if (bad++ < 20) printf("cvt %08x: %016lx %016lx vs %016lx/%x %016lx/%x\n", w, d_from_i32((int32_t)w), d_from_u32(w), s1, f, u1, g);
        }
    }
    printf("cases %ld fma_fast %ld fma_fast_nx %ld bad %ld\n", n, fast, fast_nx, bad);
    return bad != 0;
}
