/* A direct-boot guest that exercises the SBI avmm serves, one extension at
 * a time, printing through DBCN and the legacy console: BASE (versions,
 * probes), an unknown extension, HSM (start every other hart with an opaque
 * value, ALREADY_AVAILABLE, status, stop), IPI (each secondary interrupts
 * hart 0 before stopping), TIME (set_timer -> STIP), retentive HSM suspend
 * woken by the timer, RFENCE (remote fences; hfence not supported), DBCN
 * read with no input, then SRST shutdown. Any mismatch prints "FAIL <what>"
 * and shuts down with reason "system failure". `nharts` is patched. */
#include <stdint.h>

#define EXT_BASE 0x10
#define EXT_TIME 0x54494D45
#define EXT_IPI 0x735049
#define EXT_RFENCE 0x52464E43
#define EXT_HSM 0x48534D
#define EXT_SRST 0x53525354
#define EXT_DBCN 0x4442434E
#define EXT_PMU 0x504D55
#define EXT_STA 0x535441

#define SIE_SSIE (1UL << 1)
#define SIE_STIE (1UL << 5)
#define SSTATUS_SIE (1UL << 1)
#define SCAUSE_INTR (1UL << 63)

extern char _secondary[];

volatile uint64_t nharts = 4;

struct sbiret {
    long error;
    long value;
};

static struct sbiret sbi(long eid, long fid, long a0, long a1, long a2, long a3, long a4) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r3 __asm__("a3") = a3;
    register long r4 __asm__("a4") = a4;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall"
                     : "+r"(r0), "+r"(r1)
                     : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
                     : "memory");
    return (struct sbiret){r0, r1};
}

static long legacy(long eid, long a0) {
    register long r0 __asm__("a0") = a0;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0) : "r"(r7) : "memory", "a1");
    return r0;
}

static unsigned long str_len(const char *s) {
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static void puts_dbcn(const char *s) { sbi(EXT_DBCN, 0, (long)str_len(s), (long)s, 0, 0, 0); }

static void put_hex(uint64_t v) {
    char buf[19];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
    buf[18] = 0;
    puts_dbcn(buf);
}

static void shutdown(long reason) {
    sbi(EXT_SRST, 0, 0, reason, 0, 0, 0);
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

static inline uint64_t rdtime(void) {
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

static volatile uint64_t arrived;
static volatile uint64_t opaque_sum;
static volatile uint64_t soft_irqs;
static volatile uint64_t timer_irqs;

void trap_c(uint64_t scause, uint64_t sepc);
void trap_c(uint64_t scause, uint64_t sepc) {
    if (scause == (SCAUSE_INTR | 1)) {
        __asm__ volatile("csrc sip, %0" ::"r"(SIE_SSIE));
        soft_irqs++;
    } else if (scause == (SCAUSE_INTR | 5)) {
        sbi(EXT_TIME, 0, -1, 0, 0, 0, 0); /* disarm: clears STIP */
        timer_irqs++;
    } else {
        puts_dbcn("FAIL unexpected trap ");
        put_hex(scause);
        puts_dbcn(" at ");
        put_hex(sepc);
        puts_dbcn("\n");
        shutdown(1);
    }
}

void secondary_main(uint64_t hartid, uint64_t opaque);
void secondary_main(uint64_t hartid, uint64_t opaque) {
    __atomic_fetch_add(&opaque_sum, opaque - hartid, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
    sbi(EXT_IPI, 0, 1, 0, 0, 0, 0); /* interrupt hart 0 */
    sbi(EXT_HSM, 1, 0, 0, 0, 0, 0); /* hart_stop: does not return */
    puts_dbcn("FAIL hart_stop returned\n");
    shutdown(1);
}

void boot_main(uint64_t hartid, uint64_t dtb);
void boot_main(uint64_t hartid, uint64_t dtb) {
    struct sbiret r;
    check(hartid == 0, "boot hart is 0");
    puts_dbcn("sbi guest: dtb ");
    put_hex(dtb);
    puts_dbcn("\n");

    /* BASE */
    r = sbi(EXT_BASE, 0, 0, 0, 0, 0, 0);
    check(r.error == 0 && r.value == 0x02000000, "spec version 2.0");
    r = sbi(EXT_BASE, 1, 0, 0, 0, 0, 0);
    puts_dbcn("impl id ");
    put_hex((uint64_t)r.value);
    puts_dbcn("\n");
    long present[] = {EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN, EXT_STA, 0x01};
    for (unsigned i = 0; i < sizeof present / sizeof *present; i++) {
        r = sbi(EXT_BASE, 3, present[i], 0, 0, 0, 0);
        check(r.error == 0 && r.value == 1, "probe of an offered extension");
    }
    r = sbi(EXT_BASE, 3, EXT_PMU, 0, 0, 0, 0);
    check(r.error == 0 && r.value == 0, "PMU is not offered");
    r = sbi(0x0A000000, 0, 0, 0, 0, 0, 0);
    check(r.error == -2, "unknown extension -> NOT_SUPPORTED");

    /* HSM */
    r = sbi(EXT_HSM, 2, 1, 0, 0, 0, 0);
    check(nharts < 2 || (r.error == 0 && r.value == 1), "hart 1 starts STOPPED");
    r = sbi(EXT_HSM, 2, 0, 0, 0, 0, 0);
    check(r.error == 0 && r.value == 0, "hart 0 is STARTED");
    r = sbi(EXT_HSM, 0, (long)nharts, (long)_secondary, 0, 0, 0);
    check(r.error == -3, "hart_start of a missing hart -> INVALID_PARAM");
    r = sbi(EXT_HSM, 0, 1, 0x1000, 0, 0, 0);
    check(nharts < 2 || r.error == -5, "hart_start outside RAM -> INVALID_ADDRESS");

    __asm__ volatile("csrs sie, %0" ::"r"(SIE_SSIE | SIE_STIE));
    __asm__ volatile("csrs sstatus, %0" ::"r"(SSTATUS_SIE));
    for (uint64_t h = 1; h < nharts; h++) {
        r = sbi(EXT_HSM, 0, (long)h, (long)_secondary, (long)(0x1000 + h), 0, 0);
        check(r.error == 0, "hart_start");
    }
    if (nharts > 1) {
        r = sbi(EXT_HSM, 0, 1, (long)_secondary, 0, 0, 0);
        check(r.error == -6, "second hart_start -> ALREADY_AVAILABLE");
    }
    while (arrived != nharts - 1)
        ;
    check(opaque_sum == 0x1000 * (nharts - 1), "opaque arrives in a1");
    for (uint64_t h = 1; h < nharts; h++) {
        do {
            r = sbi(EXT_HSM, 2, (long)h, 0, 0, 0, 0);
        } while (r.error == 0 && r.value != 1);
        check(r.error == 0, "hart_get_status");
    }
    while (soft_irqs != nharts - 1)
        __asm__ volatile("wfi");
    puts_dbcn("hsm and ipi ok\n");

    /* TIME: an interrupt after the deadline */
    sbi(EXT_TIME, 0, (long)(rdtime() + 10000), 0, 0, 0, 0);
    while (timer_irqs == 0)
        __asm__ volatile("wfi");
    /* HSM retentive suspend, woken by the timer */
    __asm__ volatile("csrc sstatus, %0" ::"r"(SSTATUS_SIE));
    sbi(EXT_TIME, 0, (long)(rdtime() + 10000), 0, 0, 0, 0);
    r = sbi(EXT_HSM, 3, 0, 0, 0, 0, 0);
    check(r.error == 0, "retentive suspend returns SUCCESS");
    __asm__ volatile("csrs sstatus, %0" ::"r"(SSTATUS_SIE));
    while (timer_irqs != 2)
        __asm__ volatile("wfi");
    puts_dbcn("timer ok\n");

    /* RFENCE */
    r = sbi(EXT_RFENCE, 1, 0, -1, 0, 0, 0);
    check(r.error == 0, "remote sfence.vma to every hart");
    r = sbi(EXT_RFENCE, 2, 1, 0, 0x80200000, 0x2000, 0);
    check(r.error == 0, "remote sfence.vma.asid");
    r = sbi(EXT_RFENCE, 0, 1, 0, 0, 0, 0);
    check(r.error == 0, "remote fence.i");
    r = sbi(EXT_RFENCE, 3, 1, 0, 0, 0, 0);
    check(r.error == -2, "hfence -> NOT_SUPPORTED");
    r = sbi(EXT_IPI, 0, 1, (long)nharts, 0, 0, 0);
    check(r.error == -3, "IPI to a missing hart -> INVALID_PARAM");

    /* DBCN read: nothing typed */
    static char in[8];
    r = sbi(EXT_DBCN, 1, sizeof in, (long)in, 0, 0, 0);
    check(r.error == 0 && r.value == 0, "console_read with no input");
    r = sbi(EXT_DBCN, 0, 4, 0x1000, 0, 0, 0);
    check(r.error == -3, "console_write outside RAM -> INVALID_PARAM");
    sbi(EXT_DBCN, 2, 'o', 0, 0, 0, 0);
    legacy(0x01, 'k');
    legacy(0x01, '\n');
    check(legacy(0x02, 0) == -1, "legacy getchar with no input");
    puts_dbcn("PASS\n");
    shutdown(0);
}
