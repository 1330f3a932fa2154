/* A direct-boot guest of avmm's paravirtual SBI: STA (steal time) and the avmm
 * extension (a per-vCPU para-state page), every error path first, then steal
 * time under load.
 *
 * Hart 0 checks BASE (spec 2.0, both extensions probed), every malformed call
 * (STA: flags, misaligned, high word, outside RAM, past its end; avmm:
 * misaligned, flags, outside RAM, a newer guest version, a record too small,
 * double registration, deregister twice, yield_to a missing hart, itself, a
 * stopped hart), each answered with the documented error and nothing written
 * where nothing may be. Then every hart registers its STA record and para page,
 * waits at a barrier, spins `spin` iterations (a CPU-bound load, all harts
 * runnable) and reads its steal with the sequence protocol; hart 1 also passes
 * one yield_to hint to hart 2. Hart 0 prints, per hart:
 *   hart H ticks T steal S pcpu P vmid V gen G yields Y
 * (T: guest ticks of the spin, S: ns of steal during it, from the STA record)
 * then PASS, and shuts down. A mismatch prints "FAIL <what>" and shuts down with
 * reason "system failure". `nharts`, `spin` and `ram_end` are patched. */
#include <stdint.h>

#define EXT_BASE 0x10
#define EXT_HSM 0x48534D
#define EXT_SRST 0x53525354
#define EXT_DBCN 0x4442434E
#define EXT_STA 0x535441
#define EXT_AVMM 0x0A766D6D

#define ERR_NOT_SUPPORTED -2
#define ERR_INVALID_PARAM -3
#define ERR_INVALID_ADDRESS -5
#define ERR_ALREADY_AVAILABLE -6
#define ERR_NO_SHMEM -9

#define MAX_HARTS 8
#define PAGE 4096

extern char _secondary[];

volatile uint64_t nharts = 4;
volatile uint64_t spin = 200000;
volatile uint64_t ram_end = 0x84000000;

struct sbiret {
    long error;
    long value;
};

/* The STA record (SBI 2.0). */
struct sta {
    volatile uint32_t sequence;
    volatile uint32_t flags;
    volatile uint64_t steal;
    volatile uint8_t preempted;
    uint8_t pad[47];
};

/* avmm's para-state page, version 1 (README "The avmm SBI extension"). */
struct para {
    volatile uint32_t guest_version;
    volatile uint32_t size;
    volatile uint32_t host_version;
    volatile int32_t ret;
    volatile uint32_t sequence;
    volatile uint32_t vcpu;
    volatile uint32_t pcpu;
    volatile uint32_t flags;
    volatile uint64_t vmid;
    volatile uint64_t generation;
    volatile uint64_t exits;
    volatile uint64_t slices;
    volatile uint64_t steal_ns;
    volatile uint64_t yields;
};

static struct sta sta[MAX_HARTS] __attribute__((aligned(64)));
static uint8_t pages[MAX_HARTS + 1][PAGE] __attribute__((aligned(PAGE)));

struct result {
    uint64_t ticks, steal, pcpu, vmid, gen, yields;
};
static struct result results[MAX_HARTS];
static volatile uint64_t ready;
static volatile uint64_t done;

static struct sbiret sbi(long eid, long fid, long a0, long a1, long a2) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
    return (struct sbiret){r0, r1};
}

static unsigned long str_len(const char *s) {
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static void puts_dbcn(const char *s) { sbi(EXT_DBCN, 0, (long)str_len(s), (long)s, 0); }

static void put_dec(uint64_t v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_dbcn(buf + i);
}

static void shutdown(long reason) {
    sbi(EXT_SRST, 0, 0, reason, 0);
    for (;;)
        ;
}

static void check(int ok, const char *what) {
    if (!ok) {
        puts_dbcn("FAIL ");
        puts_dbcn(what);
        puts_dbcn("\n");
        shutdown(1);
    }
}

static int answers(struct sbiret r, long error) { return r.error == error; }

static inline uint64_t rdtime(void) {
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

void trap_c(uint64_t scause, uint64_t sepc);
void trap_c(uint64_t scause, uint64_t sepc) {
    (void)scause;
    (void)sepc;
    puts_dbcn("FAIL unexpected trap\n");
    shutdown(1);
}

/* The sequence protocol: read steal between two equal, even sequence numbers. */
static uint64_t read_steal(struct sta *s) {
    uint32_t seq;
    uint64_t steal;
    do {
        seq = s->sequence;
        __asm__ volatile("fence r, r" ::: "memory");
        steal = s->steal;
        __asm__ volatile("fence r, r" ::: "memory");
    } while ((seq & 1) || seq != s->sequence);
    return steal;
}

static struct para *page_of(uint64_t hart) { return (struct para *)pages[hart]; }

static void errors_of_sta(void) {
    struct sta *s = &sta[0];
    s->steal = 0x1111;
    check(answers(sbi(EXT_STA, 0, (long)s, 0, 1), ERR_INVALID_PARAM), "sta flags");
    check(answers(sbi(EXT_STA, 0, (long)s + 8, 0, 0), ERR_INVALID_PARAM), "sta misaligned");
    check(answers(sbi(EXT_STA, 0, (long)s, 1, 0), ERR_INVALID_ADDRESS), "sta high word");
    check(answers(sbi(EXT_STA, 0, 0x1000, 0, 0), ERR_INVALID_ADDRESS), "sta outside RAM");
    check(answers(sbi(EXT_STA, 0, (long)ram_end, 0, 0), ERR_INVALID_ADDRESS),
          "sta past the end of RAM");
    check(answers(sbi(EXT_STA, 0, -64, 0, 0), ERR_INVALID_ADDRESS), "sta at the top");
    check(s->steal == 0x1111, "a refused set_shmem wrote the record");
    check(answers(sbi(EXT_STA, 0, -1, -1, 0), 0), "sta disable while off");
    check(answers(sbi(EXT_STA, 1, 0, 0, 0), ERR_NOT_SUPPORTED), "sta fid 1");
    puts_dbcn("sta errors ok\n");
}

static void errors_of_avmm(void) {
    struct sbiret r = sbi(EXT_AVMM, 0, 0, 0, 0);
    check(r.error == 0 && r.value == 1, "avmm get_version");
    struct para *p = (struct para *)pages[MAX_HARTS];
    p->guest_version = 1;
    p->size = PAGE;
    p->host_version = 0xdead;
    check(answers(sbi(EXT_AVMM, 1, (long)p + 64, 0, 0), ERR_INVALID_PARAM), "avmm misaligned");
    check(answers(sbi(EXT_AVMM, 1, (long)p, 0, 1), ERR_INVALID_PARAM), "avmm flags");
    check(answers(sbi(EXT_AVMM, 1, (long)p, 1, 0), ERR_INVALID_ADDRESS), "avmm high word");
    check(answers(sbi(EXT_AVMM, 1, 0x1000, 0, 0), ERR_INVALID_ADDRESS), "avmm outside RAM");
    check(answers(sbi(EXT_AVMM, 1, (long)ram_end, 0, 0), ERR_INVALID_ADDRESS),
          "avmm past the end of RAM");
    check(p->host_version == 0xdead, "a refused register wrote the page");
    /* a newer guest: refused, told our version in the record */
    p->guest_version = 2;
    r = sbi(EXT_AVMM, 1, (long)p, 0, 0);
    check(r.error == ERR_NOT_SUPPORTED && r.value == 1, "newer guest version refused");
    check(p->host_version == 1 && p->ret == ERR_NOT_SUPPORTED, "refusal in the record");
    check(p->sequence == 0 && p->vcpu == 0 && p->vmid == 0, "a refused page got contents");
    /* a record smaller than version 1's */
    p->guest_version = 1;
    p->size = 16;
    r = sbi(EXT_AVMM, 1, (long)p, 0, 0);
    check(r.error == ERR_INVALID_PARAM && p->ret == ERR_INVALID_PARAM, "record too small");
    /* registered, then registered again */
    p->size = 128;
    r = sbi(EXT_AVMM, 1, (long)p, 0, 0);
    check(r.error == 0 && r.value == 1, "register");
    check(p->host_version == 1 && p->ret == 0 && p->vcpu == 0, "handshake in the record");
    check((p->sequence & 1) == 0 && p->generation >= 1, "page contents");
    uint32_t seq = p->sequence;
    check(answers(sbi(EXT_AVMM, 1, (long)pages[0], 0, 0), ERR_ALREADY_AVAILABLE),
          "double registration");
    check(page_of(0)->host_version == 0, "a second page got written");
    check(p->sequence == seq, "double registration touched the page");
    check(answers(sbi(EXT_AVMM, 2, 0, 0, 0), 0), "deregister");
    check(answers(sbi(EXT_AVMM, 2, 0, 0, 0), ERR_NO_SHMEM), "deregister twice");
    check(answers(sbi(EXT_AVMM, 3, (long)nharts, 0, 0), ERR_INVALID_PARAM), "yield_to missing");
    check(answers(sbi(EXT_AVMM, 3, 0, 0, 0), ERR_INVALID_PARAM), "yield_to self");
    if (nharts > 1) {
        r = sbi(EXT_AVMM, 3, 1, 0, 0);
        check(r.error == 0 && r.value == 0, "yield_to a stopped hart is not passed on");
    }
    check(answers(sbi(EXT_AVMM, 9, 0, 0, 0), ERR_NOT_SUPPORTED), "avmm fid 9");
    puts_dbcn("avmm errors ok\n");
}

/* Every hart: register, meet the others, spin, measure. */
static void load(uint64_t hart) {
    struct para *p = page_of(hart);
    p->guest_version = 1;
    p->size = PAGE;
    check(answers(sbi(EXT_STA, 0, (long)&sta[hart], 0, 0), 0), "sta set_shmem");
    check(sta[hart].steal == 0 && sta[hart].sequence == 0, "record zeroed");
    check(answers(sbi(EXT_AVMM, 1, (long)p, 0, 0), 0), "register a page");
    check(p->vcpu == hart, "the page names its vCPU");
    __atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
    while (ready != nharts)
        ;
    uint64_t t0 = rdtime(), s0 = read_steal(&sta[hart]);
    for (volatile uint64_t i = 0; i < spin; i++) {
        if (hart == 1 && i == spin / 2 && nharts > 2) {
            struct sbiret r = sbi(EXT_AVMM, 3, 2, 0, 0);
            check(r.error == 0 && r.value == 1, "yield_to hart 2");
        }
    }
    uint64_t t1 = rdtime(), s1 = read_steal(&sta[hart]);
    struct result *res = &results[hart];
    res->ticks = t1 - t0;
    res->steal = s1 - s0;
    res->pcpu = p->pcpu;
    res->vmid = p->vmid;
    res->gen = p->generation;
    res->yields = p->yields;
    check(answers(sbi(EXT_STA, 0, -1, -1, 0), 0), "sta disable");
    __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
}

void secondary_main(uint64_t hartid, uint64_t opaque);
void secondary_main(uint64_t hartid, uint64_t opaque) {
    (void)opaque;
    load(hartid);
    sbi(EXT_HSM, 1, 0, 0, 0); /* hart_stop */
    shutdown(1);
}

void boot_main(uint64_t hartid, uint64_t dtb);
void boot_main(uint64_t hartid, uint64_t dtb) {
    (void)dtb;
    check(hartid == 0, "boot hart is 0");
    check(nharts <= MAX_HARTS, "at most 8 harts");
    struct sbiret r = sbi(EXT_BASE, 0, 0, 0, 0);
    check(r.error == 0 && r.value == 0x02000000, "spec version 2.0");
    r = sbi(EXT_BASE, 3, EXT_STA, 0, 0);
    check(r.error == 0 && r.value == 1, "STA is offered");
    r = sbi(EXT_BASE, 3, EXT_AVMM, 0, 0);
    check(r.error == 0 && r.value == 1, "the avmm extension is offered, version 1");
    errors_of_sta();
    errors_of_avmm();
    for (uint64_t h = 1; h < nharts; h++)
        check(answers(sbi(EXT_HSM, 0, (long)h, (long)_secondary, 0), 0), "hart_start");
    load(0);
    while (done != nharts)
        ;
    for (uint64_t h = 0; h < nharts; h++) {
        struct result *res = &results[h];
        puts_dbcn("hart ");
        put_dec(h);
        puts_dbcn(" ticks ");
        put_dec(res->ticks);
        puts_dbcn(" steal ");
        put_dec(res->steal);
        puts_dbcn(" pcpu ");
        put_dec(res->pcpu);
        puts_dbcn(" vmid ");
        put_dec(res->vmid);
        puts_dbcn(" gen ");
        put_dec(res->gen);
        puts_dbcn(" yields ");
        put_dec(res->yields);
        puts_dbcn("\n");
    }
    puts_dbcn("PASS\n");
    shutdown(0);
}
