/* smp-demo: every hart reports in, contends on a spinlock and on AMO and LR/SC
 * counters, passes a token around a ring of CLINT IPIs, and hart 0 prints what
 * each hart did. Exit code 0 when every count is exactly right.
 *
 * The number of harts comes from the device tree (/cpus); hart 0 waits for
 * the others to report in (at most 10 s of mtime). */
#include <stdio.h>

#include "demo.h"
#include "fdt.h"

#define LOCK_ROUNDS 20000
#define AMO_ROUNDS 20000
#define IPI_LAPS 50
#define ARRIVAL_TIMEOUT (10 * CLINT_TIMEBASE_HZ)

struct report {
    uint64_t arrived; /* mtime */
    uint64_t lock_taken, lock_contended, lock_spins;
    uint64_t amo_ops, lrsc_retries;
    uint64_t ipis_in, ipis_out;
    uint64_t instret;
} __attribute__((aligned(64)));

static struct report reports[GUEST_MAX_HARTS];
static volatile uint32_t nharts; /* set by hart 0 before anyone else goes on */
static volatile uint32_t arrived;
static volatile uint64_t start_time;

/* ------------------------------------------------------------ barrier */
static volatile uint32_t bar_count, bar_gen;

static void barrier(void) {
    uint32_t gen = __atomic_load_n(&bar_gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&bar_count, 1, __ATOMIC_ACQ_REL) == nharts) {
        bar_count = 0;
        __atomic_store_n(&bar_gen, gen + 1, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&bar_gen, __ATOMIC_ACQUIRE) == gen)
            cpu_relax();
    }
}

/* ------------------------------------------------------------ spinlock */
static spinlock_t lock;
static volatile uint64_t locked_counter; /* plain loads and stores, under the lock */
static volatile int64_t lock_owner = -1;
static volatile uint64_t lock_violations;

static int try_lock(spinlock_t *l) {
    uint32_t old;
    __asm__ volatile("amoswap.w.aq %0, %2, %1" : "=r"(old), "+A"(l->locked) : "r"(1) : "memory");
    return old == 0;
}

static void lock_phase(unsigned me) {
    struct report *r = &reports[me];
    for (int i = 0; i < LOCK_ROUNDS; i++) {
        if (!try_lock(&lock)) {
            r->lock_contended++;
            while (!try_lock(&lock)) {
                r->lock_spins++;
                cpu_relax();
            }
        }
        if (lock_owner != -1)
            lock_violations++;
        lock_owner = me;
        locked_counter = locked_counter + 1;
        if (lock_owner != (int64_t)me)
            lock_violations++;
        lock_owner = -1;
        r->lock_taken++;
        spin_unlock(&lock);
    }
}

/* ------------------------------------------------------------ atomics */
static uint64_t amo64;
static uint32_t amo32;
static uint64_t lrsc64;

static void amo_phase(unsigned me) {
    struct report *r = &reports[me];
    for (int i = 0; i < AMO_ROUNDS; i++) {
        __atomic_fetch_add(&amo64, 1, __ATOMIC_RELAXED); /* amoadd.d */
        __atomic_fetch_add(&amo32, 1, __ATOMIC_RELAXED); /* amoadd.w */
        uint64_t tmp, failed;
        for (;;) {
            __asm__ volatile("lr.d %0, (%2)\n\t"
                             "addi %0, %0, 1\n\t"
                             "sc.d %1, %0, (%2)"
                             : "=&r"(tmp), "=&r"(failed)
                             : "r"(&lrsc64)
                             : "memory");
            if (failed == 0)
                break;
            r->lrsc_retries++;
        }
        r->amo_ops += 3;
    }
}

/* ------------------------------------------------------------ IPI ring */
static volatile uint32_t ring_laps, ring_done;

static unsigned next_hart(unsigned me) { return (me + 1) % nharts; }

static int ipi_hook(struct trap_frame *frame) {
    if (frame->cause != (CAUSE_INTERRUPT | IRQ_M_SOFT))
        return 0;
    unsigned me = (unsigned)csr_read(mhartid);
    clint_msip(me, 0);
    if (ring_done)
        return 1;
    reports[me].ipis_in++;
    if (me == 0 && ++ring_laps == IPI_LAPS) {
        ring_done = 1;
        fence();
        for (unsigned h = 1; h < nharts; h++)
            clint_msip(h, 1); /* wake them to see ring_done */
        return 1;
    }
    reports[me].ipis_out++;
    clint_msip(next_hart(me), 1);
    return 1;
}

static void ipi_phase(unsigned me) {
    csr_set(mie, MIP_MSIP);
    csr_set(mstatus, MSTATUS_MIE);
    barrier(); /* every hart takes interrupts before the token starts */
    if (me == 0) {
        reports[0].ipis_out++;
        clint_msip(next_hart(0), 1);
    }
    while (!ring_done)
        wfi();
    csr_clear(mstatus, MSTATUS_MIE);
    csr_clear(mie, MIP_MSIP);
}

/* ------------------------------------------------------------ every hart */
static uint64_t phase_ticks[3];

static void work(unsigned me) {
    char isa[32];
    misa_string(isa);
    uint64_t up = reports[me].arrived - start_time;
    console_lock();
    printf("hart %u: up after %lu.%03lu ms, mhartid %lu, misa %s\n", me, MS(up),
           (unsigned long)csr_read(mhartid), isa);
    console_unlock();

    void (*phases[])(unsigned) = {lock_phase, amo_phase, ipi_phase};
    for (int p = 0; p < 3; p++) {
        barrier();
        uint64_t t0 = clint_mtime();
        phases[p](me);
        barrier();
        if (me == 0)
            phase_ticks[p] = clint_mtime() - t0;
    }
    reports[me].instret = csr_read(minstret);
    barrier();
}

void secondary_main(unsigned long id) {
    while (nharts == 0)
        cpu_relax();
    if (id >= nharts)
        for (;;)
            wfi();
    reports[id].arrived = clint_mtime();
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    work((unsigned)id);
    for (;;)
        wfi();
}

int main(void) {
    unsigned n = fdt_harts(1);
    if (n > GUEST_MAX_HARTS)
        n = GUEST_MAX_HARTS;
    uint32_t len;
    const char *isa = fdt_prop("/cpus/cpu@0", "riscv,isa", &len);
    printf("smp-demo: %u hart%s (%s), isa %s\n", n, n == 1 ? "" : "s",
           fdt_valid() ? "from the device tree" : "no device tree: assuming 1", isa ? isa : "?");
    trap_set_hook(ipi_hook);
    start_time = clint_mtime();
    reports[0].arrived = start_time;
    fence();
    nharts = n;
    while (arrived != n - 1) {
        if (clint_mtime() - start_time > ARRIVAL_TIMEOUT) {
            printf("smp-demo: FAIL only %u of %u harts reported in\n", arrived + 1, n);
            return 2;
        }
        cpu_relax();
    }
    work(0);

    uint64_t lock_total = 0, amo_total = 0, retries = 0, contended = 0, ipis = 0;
    int ipi_ok = 1;
    printf("\n hart | lock taken  contended     spins | amo ops  lr/sc retries | IPIs in  out"
           " | instret\n");
    printf("------+-------------------------------+------------------------+--------------"
           "+----------\n");
    for (unsigned h = 0; h < n; h++) {
        struct report *r = &reports[h];
        printf(" %4u | %10lu %10lu %9lu | %7lu %14lu | %7lu %4lu | %lu\n", h,
               (unsigned long)r->lock_taken, (unsigned long)r->lock_contended,
               (unsigned long)r->lock_spins, (unsigned long)r->amo_ops,
               (unsigned long)r->lrsc_retries, (unsigned long)r->ipis_in,
               (unsigned long)r->ipis_out, (unsigned long)r->instret);
        lock_total += r->lock_taken;
        amo_total += r->amo_ops;
        retries += r->lrsc_retries;
        contended += r->lock_contended;
        ipis += r->ipis_in;
        ipi_ok &= r->ipis_in == IPI_LAPS;
    }
    uint64_t want = (uint64_t)n * LOCK_ROUNDS, want_amo = (uint64_t)n * AMO_ROUNDS;
    int lock_ok = locked_counter == want && lock_total == want && lock_violations == 0;
    int amo_ok = amo64 == want_amo && amo32 == want_amo && lrsc64 == want_amo;
    printf("\nspinlock: counter %lu of %lu, %lu contended acquisitions, %lu violations"
           " (%lu.%03lu ms) %s\n",
           (unsigned long)locked_counter, (unsigned long)want, (unsigned long)contended,
           (unsigned long)lock_violations, MS(phase_ticks[0]), lock_ok ? "ok" : "BAD");
    printf("atomics:  amoadd.d %lu, amoadd.w %lu, lr/sc %lu of %lu each, %lu sc retries"
           " (%lu.%03lu ms) %s\n",
           (unsigned long)amo64, (unsigned long)amo32, (unsigned long)lrsc64,
           (unsigned long)want_amo, (unsigned long)retries, MS(phase_ticks[1]),
           amo_ok ? "ok" : "BAD");
    printf("ipi ring: %u laps around %u hart%s, %lu IPIs (%lu.%03lu ms) %s\n", (unsigned)ring_laps,
           n, n == 1 ? "" : "s", (unsigned long)ipis, MS(phase_ticks[2]), ipi_ok ? "ok" : "BAD");
    if (lock_ok && amo_ok && ipi_ok) {
        printf("smp-demo: PASS %u harts\n", n);
        return 0;
    }
    printf("smp-demo: FAIL%s%s%s\n", lock_ok ? "" : " spinlock", amo_ok ? "" : " atomics",
           ipi_ok ? "" : " ipi");
    return 1;
}
