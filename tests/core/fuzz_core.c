/*
 * Fuzz the hart core without Python: random instruction words, random register
 * and CSR state, random page tables, several harts and host interventions.
 * Loops of random instructions run often enough to be translated (jit.c), so
 * translated code, its side exits and its invalidation are fuzzed too.
 * Built with -fsanitize=address,undefined -fno-sanitize-recover=all by
 * tests/core/test_fuzz.py; any sanitizer report, host fault or changed canary
 * byte fails the run.
 *
 * usage: fuzz_core SEED ITERATIONS SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "jit.h"

#define RAM0 0x80000000ull
#define RAM0_SIZE (256u << 10)
#define RAM1 (RAM0 + RAM0_SIZE) /* adjacent slot: accesses may straddle */
#define RAM1_SIZE (64u << 10)
#define RAM2 0x1000ull
#define RAM2_SIZE 0x3000u
#define CLINT 0x2000000ull
#define PLIC 0xc000000ull
#define TOHOST (RAM1 + 0x100)
#define NHARTS 3
#define CANARY_SIZE (1u << 20)

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* an address a guest is likely to use: RAM, slot edges, devices, or anything */
static uint64_t interesting_addr(void)
{
    static const uint64_t bases[] = {RAM0, RAM1, RAM2, CLINT, PLIC, 0x10000000, TOHOST,
                                     RAM0 + RAM0_SIZE - 8, RAM2 + RAM2_SIZE - 4,
                                     CLINT + 0x4000, CLINT + 0xbff8, PLIC + 0x200004,
                                     PLIC + 0x201004, PLIC + 0x2000};
    switch (below(4)) {
    case 0:
        return rnd();
    case 1:
        return bases[below(sizeof(bases) / sizeof(bases[0]))] + below(64) - 32;
    case 2:
        return RAM0 + below(RAM0_SIZE + RAM1_SIZE + 16);
    default:
        return (uint64_t)(int64_t)(int32_t)rnd(); /* sign-extended, like kernel addresses */
    }
}

/* an instruction word: random, or a random field fill of a real opcode */
static uint32_t random_insn(void)
{
    static const uint32_t ops[] = {0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f,
                                   0x33, 0x37, 0x3b, 0x43, 0x47, 0x4b, 0x4f, 0x53, 0x63,
                                   0x67, 0x6f, 0x73};
    static const uint32_t system[] = {0x00000073, 0x00100073, 0x10200073, 0x30200073,
                                      0x10500073, 0x12000073, 0x0100000f, 0x0000100f};
    uint32_t r = (uint32_t)rnd();
    switch (below(8)) {
    case 0:
        return r;
    case 1:
        return r & 0xffff; /* compressed (or the illegal zero half) */
    case 2:
        return system[below(sizeof(system) / sizeof(system[0]))];
    case 3: { /* a CSR access to a real CSR number */
        int csr = csr_names[below((uint64_t)csr_names_count)].num;
        return ((uint32_t)csr << 20) | (r & 0xff000) | (r & 0xf80) | 0x73 |
               ((1 + (uint32_t)below(7)) << 12);
    }
    default:
        return (r & ~0x7fu) | ops[below(sizeof(ops) / sizeof(ops[0]))];
    }
}

static void fill_ram(machine_t *m)
{
    for (int s = 0; s < m->nslots; s++) {
        ram_slot_t *sl = m->slots[s];
        for (uint64_t off = 0; off + 4 <= sl->size; off += 4) {
            uint32_t w;
            switch (below(8)) {
            case 0: { /* a PTE pointing into RAM */
                uint64_t pte = ((RAM0 + below(RAM0_SIZE)) >> 12) << 10 | below(256) | 1;
                memcpy(sl->host + off, &pte, 4);
                if (off + 8 <= sl->size) {
                    memcpy(sl->host + off, &pte, 8);
                    off += 4;
                }
                continue;
            }
            case 1:
                w = 0;
                break;
            default:
                w = random_insn();
            }
            memcpy(sl->host + off, &w, 4);
        }
    }
}

/* jal x0, off */
static uint32_t enc_jal(int32_t off)
{
    uint32_t i = (uint32_t)off;
    return ((i >> 20 & 1) << 31) | ((i >> 1 & 0x3ff) << 21) | ((i >> 11 & 1) << 20) |
           ((i >> 12 & 0xff) << 12) | 0x6f;
}

/* Loops of random instructions closed by a backward jump, so code runs often
 * enough to be translated (and may store into itself); returns a loop start. */
static uint64_t plant_loops(machine_t *m)
{
    ram_slot_t *sl = m->slots[0];
    uint64_t start = RAM0;
    for (int k = 0; k < 8; k++) {
        unsigned len = 1 + (unsigned)below(24);
        uint64_t off = below(sl->size / 4 - len - 1) * 4;
        for (unsigned i = 0; i < len; i++) {
            uint32_t w = random_insn();
            memcpy(sl->host + off + 4 * i, &w, 4);
        }
        uint32_t j = enc_jal(-(int32_t)(4 * len));
        memcpy(sl->host + off + 4 * len, &j, 4);
        machine_host_wrote(m, sl->base + off, 4 * len + 4);
        start = sl->base + off;
    }
    return start;
}

static void random_state(hart_t *h)
{
    machine_t *m = h->m;
    int eff;
    for (int i = 1; i < 32; i++)
        h->x[i] = below(3) ? interesting_addr() : rnd();
    for (int i = 0; i < 32; i++)
        h->f[i] = below(2) ? (0xffffffff00000000ull | (uint32_t)rnd()) : rnd();
    static const int csrs[] = {0x300, 0x302, 0x303, 0x304, 0x305, 0x105, 0x344, 0x30a,
                               0x306, 0x106, 0x320, 0x003, 0x341, 0x141, 0x3a0, 0x3b0};
    for (size_t i = 0; i < sizeof(csrs) / sizeof(csrs[0]); i++)
        csr_write(h, csrs[i], below(2) ? rnd() : interesting_addr(), false, &eff);
    if (below(2)) /* point tvecs at RAM so traps keep executing random code */
        csr_write(h, 0x305, RAM0 + below(RAM0_SIZE) * (below(4) != 0), false, &eff);
    csr_write(h, 0x105, RAM0 + below(RAM0_SIZE), false, &eff);
    uint64_t mode = (uint64_t[]){0, 8, 9, 8, 9, 5}[below(6)];
    csr_write(h, 0x180, (mode << 60) | (below(0x10000) << 44) | ((RAM0 + below(RAM0_SIZE)) >> 12),
              false, &eff);
    h->priv = (int[]){PRIV_U, PRIV_S, PRIV_M}[below(3)];
    h->pc = (below(4) ? RAM0 + below(RAM0_SIZE + RAM1_SIZE) : interesting_addr()) & ~1ull;
    h->mtimecmp = below(2) ? DISARMED : machine_time(m) + below(5000);
    h->stimecmp = below(2) ? DISARMED : machine_time(m) + below(5000);
    h->lines = rnd() & (MIP_MEIP | MIP_SEIP | MIP_MSIP);
    h->single_step = below(16) == 0;
    h->debug_ebreak = below(2);
    h->nbps = 0;
    if (below(4) == 0) {
        h->nbps = 1 + (int)below(3);
        for (int i = 0; i < h->nbps; i++)
            h->bps[i] = h->pc + 2 * below(16);
    }
}

static unsigned char *canary[2];
static void canaries_init(void)
{
    for (int i = 0; i < 2; i++) {
        canary[i] = malloc(CANARY_SIZE);
        memset(canary[i], 0xa5, CANARY_SIZE);
    }
}
static void canaries_check(void)
{
    for (int i = 0; i < 2; i++)
        for (size_t j = 0; j < CANARY_SIZE; j++)
            if (canary[i][j] != 0xa5) {
                fprintf(stderr, "FUZZ: canary %d byte %zu changed\n", i, j);
                abort();
            }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SEED ITERATIONS SECONDS\n", argv[0]);
        return 2;
    }
    rng_state = strtoull(argv[1], NULL, 0) * 2 + 1;
    long iters = strtol(argv[2], NULL, 0);
    double seconds = strtod(argv[3], NULL);
    canaries_init();
    machine_t *m = machine_new(10000000);
    ram_slot_t *slots[3] = {ram_slot_new(RAM0, RAM0_SIZE), ram_slot_new(RAM1, RAM1_SIZE),
                            ram_slot_new(RAM2, RAM2_SIZE)};
    for (int i = 0; i < 3; i++)
        if (!slots[i] || machine_add_slot(m, slots[i])) {
            fprintf(stderr, "setup failed\n");
            return 2;
        }
    for (int i = 0; i < NHARTS; i++)
        machine_new_hart(m);
    m->clint_on = true;
    m->clint_base = CLINT;
    m->plic = calloc(1, sizeof(plic_t));
    m->plic->base = PLIC;
    m->plic->ndev = 0x60;
    m->htif_on = true;
    m->tohost = TOHOST;
    tlb_t *tlbs[2] = {tlb_new(64), tlb_new(1024)};
    m->btlbs = calloc(2, sizeof(tlb_t *));
    m->btlbs[0] = tlbs[0];
    m->nbtlbs = 1;

    uint64_t exits[EXIT_COUNT] = {0}, insns = 0, jit_insns = 0;
    double start = (double)host_ns() / 1e9;
    long it;
    for (it = 0; it < iters; it++) {
        if ((double)host_ns() / 1e9 - start > seconds)
            break;
        if (it % 16 == 0) {
            fill_ram(m);
            for (int i = 0; i < m->nslots; i++) /* as a host does after writing guest RAM */
                machine_host_wrote(m, m->slots[i]->base, m->slots[i]->size);
        }
        m->jit_on = below(8) != 0;
        uint64_t loop = plant_loops(m);
        m->sbi_in_vmm = below(4) == 0;
        m->pause_exit = below(2);
        m->pause_window = 1 + (uint32_t)below(3);
        m->ipi_exit = below(2);
        m->sstc = below(2);
        m->vmid = (uint32_t)below(4);
        slots[below(3)]->dirty_logging = below(2);
        machine_fc_invalidate(m, true); /* as RamSlot.dirty_logging does */
        if (below(4) == 0)
            machine_set_clock(m, (int)below(2), 1 + below(200000000));
        for (int i = 0; i < NHARTS; i++) {
            random_state(m->harts[i]);
            if (below(2))
                m->harts[i]->pc = loop;
        }
        for (int s = 0; s < 8; s++) {
            hart_t *h = m->harts[below(NHARTS)];
            if (h->mmio_pending)
                hart_complete_mmio_read(h, rnd());
            uint64_t before = h->st.instret;
            int r = hart_run(h, 1 + below(3000), tlbs[below(2)]);
            if (r < 0 || r >= EXIT_COUNT || (h->pc & 1) || h->x[0] ||
                (h->priv != PRIV_U && h->priv != PRIV_S && h->priv != PRIV_M)) {
                fprintf(stderr, "FUZZ: bad hart state after exit %d\n", r);
                abort();
            }
            exits[r]++;
            insns += h->st.instret - before;
            jit_insns = 0;
            for (int i = 0; i < NHARTS; i++)
                jit_insns += m->harts[i]->st.jit_insns;
            switch (below(8)) {
            case 0:
                machine_host_wrote(m, interesting_addr() & ~7ull, below(64));
                break;
            case 1:
                plic_set_irq(m, (uint32_t)below(0x60), below(2));
                break;
            case 2:
                tlb_flush_page(tlbs[below(2)], (uint32_t)below(4), interesting_addr(),
                               below(2) ? -1 : (int)below(0x10000));
                break;
            case 3:
                m->time_offset += below(100000);
                break;
            default:
                break;
            }
        }
        if (it % 64 == 63)
            canaries_check();
    }
    canaries_check();
    printf("iterations %ld instructions %llu translated %llu exits", it,
           (unsigned long long)insns, (unsigned long long)jit_insns);
    for (int i = 0; i < EXIT_COUNT; i++)
        printf(" %s=%llu", exit_names[i], (unsigned long long)exits[i]);
    jit_stats_t js;
    jit_get_stats(m, &js);
    printf(" blocks %llu full_flushes %llu smc %llu\n", (unsigned long long)js.blocks,
           (unsigned long long)js.flushes[JF_FULL], (unsigned long long)js.flushes[JF_SMC]);
    for (int i = 0; i < 2; i++)
        tlb_free(tlbs[i]);
    machine_free(m);
    for (int i = 0; i < 3; i++)
        ram_slot_free(slots[i]);
    for (int i = 0; i < 2; i++)
        free(canary[i]);
    return 0;
}
