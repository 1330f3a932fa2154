/* avmm-check: the Linux guest's self-check.
 *
 * Checks what a VMM most easily gets wrong on an SMP guest and prints one
 * machine-readable line per result (documented in guests/linux/README.md):
 *   1. every present CPU came online;
 *   2. one thread pinned to each online CPU hammers shared counters with AMOs
 *      (amoadd.w/.d), LR/SC loops and a pthread mutex; the totals must be exact;
 *   3. a disk keeps a boot counter and a pattern: the pattern the previous
 *      boot wrote must still be there, the new one must read back from the
 *      device itself (O_DIRECT, or a dropped page cache where that fails).
 *
 * Build: riscv64-linux-gnu-gcc -static -O2 -pthread (the initramfs recipe);
 * it also builds and runs on the host, which the tests use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#define MAX_CPUS 1024
#define DISK_BYTES (64 * 1024) /* the region the check owns: 128 sectors */
#define DISK_ALIGN 4096        /* O_DIRECT buffer and length alignment */
static const char DISK_MAGIC[8] = {'A', 'V', 'M', 'M', 'C', 'H', 'K', '1'};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line: the console never sees half a line. */
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += w;
    }
}

/* ---- 1. CPUs ------------------------------------------------------------ */

/* Parse a sysfs cpu list ("0-3,5,7-8") into a set; returns the count or -1. */
static int parse_cpu_list(const char *text, unsigned char *set, int max)
{
    int count = 0;
    const char *p = text;
    while (*p && *p != '\n') {
        char *end;
        long lo = strtol(p, &end, 10);
        if (end == p || lo < 0 || lo >= max)
            return -1;
        long hi = lo;
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1 || hi < lo || hi >= max)
                return -1;
            p = end;
        }
        for (long c = lo; c <= hi; c++) {
            if (!set[c]) {
                set[c] = 1;
                count++;
            }
        }
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -1;
    }
    return count;
}

static int read_cpu_list(const char *path, unsigned char *set)
{
    char text[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    memset(set, 0, MAX_CPUS);
    return parse_cpu_list(text, set, MAX_CPUS);
}

/* ---- 2. atomics on every CPU -------------------------------------------- */

static uint64_t amo64;  /* __atomic_fetch_add: amoadd.d */
static uint32_t amo32;  /* __atomic_fetch_add: amoadd.w */
static uint64_t lrsc64; /* compare-exchange loop: lr.d/sc.d */
static uint64_t locked; /* plain increment under a futex-backed mutex */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;

struct worker {
    pthread_t thread;
    int cpu;        /* the CPU this thread is pinned to */
    int ran_on;     /* where it ran: sched_getcpu() before and after the run */
    int ended_on;
    long iterations;
    int started;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    w->ran_on = sched_getcpu();
    /* Start together, so every CPU contends for the same lines at once. */
    pthread_barrier_wait(&start_line);
    for (long i = 0; i < w->iterations; i++) {
        __atomic_fetch_add(&amo64, 1, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&amo32, 1, __ATOMIC_RELAXED);
        uint64_t old = __atomic_load_n(&lrsc64, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&lrsc64, &old, old + 1, 1, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
            ;
        pthread_mutex_lock(&lock);
        locked++;
        pthread_mutex_unlock(&lock);
    }
    w->ended_on = sched_getcpu();
    return NULL;
}

static int check_atomics(const unsigned char *online, int n_online, long iterations)
{
    struct worker *workers = calloc((size_t)n_online, sizeof *workers);
    if (!workers) {
        say("avmm-check: atomics error out of memory");
        return 0;
    }
    if (pthread_barrier_init(&start_line, NULL, (unsigned)n_online) != 0) {
        say("avmm-check: atomics error pthread_barrier_init failed");
        free(workers);
        return 0;
    }
    int n = 0, ok = 1;
    for (int cpu = 0; cpu < MAX_CPUS && n < n_online; cpu++) {
        if (!online[cpu])
            continue;
        struct worker *w = &workers[n++];
        w->cpu = cpu;
        w->ran_on = w->ended_on = -1;
        w->iterations = iterations;
        pthread_attr_t attr;
        cpu_set_t *set = CPU_ALLOC(MAX_CPUS);
        size_t setsize = CPU_ALLOC_SIZE(MAX_CPUS);
        if (!set || pthread_attr_init(&attr) != 0) {
            say("avmm-check: atomics error out of memory");
            return 0; /* the barrier can never open now: give up at once */
        }
        CPU_ZERO_S(setsize, set);
        CPU_SET_S((size_t)cpu, setsize, set);
        int err = pthread_attr_setaffinity_np(&attr, setsize, set);
        if (err == 0)
            err = pthread_create(&w->thread, &attr, work, w);
        pthread_attr_destroy(&attr);
        CPU_FREE(set);
        if (err != 0) {
            say("avmm-check: atomics error cannot start a thread on cpu %d: %s", cpu,
                strerror(err));
            return 0; /* threads already started wait on the barrier; we exit soon */
        }
        w->started = 1;
    }
    for (int i = 0; i < n; i++)
        pthread_join(workers[i].thread, NULL);
    pthread_barrier_destroy(&start_line);

    int pinned = 0;
    for (int i = 0; i < n; i++) {
        const struct worker *w = &workers[i];
        if (w->ran_on == w->cpu && w->ended_on == w->cpu) {
            pinned++;
        } else {
            say("avmm-check: atomics bad thread pinned to cpu %d ran on cpu %d then %d", w->cpu,
                w->ran_on, w->ended_on);
            ok = 0;
        }
    }
    uint64_t total = (uint64_t)n * (uint64_t)iterations;
    if (amo64 != total || amo32 != (uint32_t)total || lrsc64 != total || locked != total) {
        say("avmm-check: atomics bad expected=%" PRIu64 " amo64=%" PRIu64 " amo32=%" PRIu32
            " lrsc=%" PRIu64 " locked=%" PRIu64,
            total, amo64, amo32, lrsc64, locked);
        ok = 0;
    }
    if (ok)
        say("avmm-check: atomics ok threads=%d pinned=%d iterations=%ld total=%" PRIu64, n,
            pinned, iterations, total);
    free(workers);
    return ok;
}

/* ---- 3. disk ------------------------------------------------------------- */

/* The pattern a boot with counter `boots` writes: a splitmix64 stream. */
static uint64_t pattern_word(uint64_t boots, uint64_t index)
{
    uint64_t z = boots * 0x9e3779b97f4a7c15ULL + index + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Header (first 512 bytes): magic, boots (LE u64), zeros. Then pattern words. */
static void fill(unsigned char *buf, uint64_t boots)
{
    memset(buf, 0, 512);
    memcpy(buf, DISK_MAGIC, sizeof DISK_MAGIC);
    for (int i = 0; i < 8; i++)
        buf[8 + i] = (unsigned char)(boots >> (8 * i));
    for (size_t off = 512; off < DISK_BYTES; off += 8) {
        uint64_t v = pattern_word(boots, off / 8);
        for (int i = 0; i < 8; i++)
            buf[off + (size_t)i] = (unsigned char)(v >> (8 * i));
    }
}

static int full_pread(int fd, unsigned char *buf)
{
    size_t got = 0;
    while (got < DISK_BYTES) {
        ssize_t r = pread(fd, buf + got, DISK_BYTES - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -2 : -1;
        got += (size_t)r;
    }
    return 0;
}

static int full_pwrite(int fd, const unsigned char *buf)
{
    size_t put = 0;
    while (put < DISK_BYTES) {
        ssize_t r = pwrite(fd, buf + put, DISK_BYTES - put, (off_t)put);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        put += (size_t)r;
    }
    return 0;
}

/* Without O_DIRECT, make the next read come from the device, not the page cache. */
static void drop_cache(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
        (void)ioctl(fd, BLKFLSBUF, 0);
    (void)posix_fadvise(fd, 0, DISK_BYTES, POSIX_FADV_DONTNEED);
}

static int check_disk(const char *path)
{
    unsigned char *buf = NULL, *want = NULL;
    int fd = -1, ok = 0;
    const char *io = "direct";

    if (access(path, F_OK) != 0) {
        say("avmm-check: disk skipped reason=missing dev=%s", path);
        return 0;
    }
    fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0 && errno == EINVAL) {
        io = "cached"; /* a filesystem without O_DIRECT: drop the cache instead */
        fd = open(path, O_RDWR);
    }
    if (fd < 0) {
        say("avmm-check: disk error open %s: %s", path, strerror(errno));
        return 0;
    }
    if (posix_memalign((void **)&buf, DISK_ALIGN, DISK_BYTES) != 0 ||
        posix_memalign((void **)&want, DISK_ALIGN, DISK_BYTES) != 0) {
        say("avmm-check: disk error out of memory");
        goto out;
    }
    say("avmm-check: disk dev=%s bytes=%d io=%s", path, DISK_BYTES, io);

    if (*io == 'c')
        drop_cache(fd);
    int r = full_pread(fd, buf);
    if (r != 0) {
        say("avmm-check: disk error read %s: %s", path,
            r == -2 ? "smaller than 64 KiB" : strerror(errno));
        goto out;
    }
    uint64_t boots = 0;
    if (memcmp(buf, DISK_MAGIC, sizeof DISK_MAGIC) == 0) {
        for (int i = 0; i < 8; i++)
            boots |= (uint64_t)buf[8 + i] << (8 * i);
        /* What the previous boot wrote must have survived intact. */
        fill(want, boots);
        if (memcmp(buf, want, DISK_BYTES) != 0) {
            size_t at = 0;
            while (at < DISK_BYTES && buf[at] == want[at])
                at++;
            say("avmm-check: disk bad pattern of boot %" PRIu64 " differs at byte %zu", boots,
                at);
            goto out;
        }
    }
    /* else: a blank or foreign disk counts as never booted (boots=0). */

    fill(want, boots + 1);
    if (full_pwrite(fd, want) != 0 || fsync(fd) != 0) {
        say("avmm-check: disk error write %s: %s", path, strerror(errno));
        goto out;
    }
    if (*io == 'c')
        drop_cache(fd);
    memset(buf, 0, DISK_BYTES);
    r = full_pread(fd, buf);
    if (r != 0) {
        say("avmm-check: disk error read back %s: %s", path,
            r == -2 ? "short read" : strerror(errno));
        goto out;
    }
    if (memcmp(buf, want, DISK_BYTES) != 0) {
        size_t at = 0;
        while (at < DISK_BYTES && buf[at] == want[at])
            at++;
        say("avmm-check: disk bad read back differs at byte %zu", at);
        goto out;
    }
    say("avmm-check: disk boots=%" PRIu64 " ok", boots);
    ok = 1;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(want);
    return ok;
}

/* ---- main ---------------------------------------------------------------- */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "avmm-check: FAIL timeout\n";
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: avmm-check [--disk PATH | --no-disk] [--iterations N] [--timeout SECONDS]\n"
            "  --disk PATH       disk to count boots on (default /dev/vda; first 64 KiB "
            "are overwritten)\n"
            "  --no-disk         skip the disk part and do not count it as a failure\n"
            "  --iterations N    increments per thread and counter (default 20000)\n"
            "  --timeout S       print 'avmm-check: FAIL timeout' after S seconds (0: never)\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *disk = "/dev/vda";
    int use_disk = 1;
    long iterations = 20000, timeout = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--disk") && i + 1 < argc) {
            disk = argv[++i];
        } else if (!strcmp(a, "--no-disk")) {
            use_disk = 0;
        } else if (!strcmp(a, "--iterations") && i + 1 < argc) {
            if (parse_long(argv[++i], 1, 100000000, &iterations)) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            if (parse_long(argv[++i], 0, 86400, &timeout)) {
                usage();
                return 2;
            }
        } else {
            usage();
            return 2;
        }
    }
    if (timeout > 0) {
        signal(SIGALRM, on_alarm);
        alarm((unsigned)timeout);
    }
    say("avmm-check: start iterations=%ld disk=%s", iterations, use_disk ? disk : "none");

    char failed[64] = "";
#define FAILED(part) \
    strncat(failed, failed[0] ? "," part : part, sizeof failed - strlen(failed) - 1)

    static unsigned char online[MAX_CPUS], present[MAX_CPUS];
    int n_online = read_cpu_list("/sys/devices/system/cpu/online", online);
    int n_present = read_cpu_list("/sys/devices/system/cpu/present", present);
    if (n_online < 1 || n_present < 1) {
        say("avmm-check: cpus error cannot read /sys/devices/system/cpu/{online,present}");
        FAILED("cpus");
    } else {
        int same = memcmp(online, present, MAX_CPUS) == 0;
        say("avmm-check: cpus online=%d present=%d%s", n_online, n_present,
            same ? "" : " mismatch");
        if (!same)
            FAILED("cpus");
    }

    if (n_online >= 1) {
        if (!check_atomics(online, n_online, iterations))
            FAILED("atomics");
    } else {
        FAILED("atomics");
    }

    if (!use_disk)
        say("avmm-check: disk skipped reason=nodisk");
    else if (!check_disk(disk))
        FAILED("disk");

    if (failed[0]) {
        say("avmm-check: FAIL %s", failed);
        return 1;
    }
    say("avmm-check: PASS");
    return 0;
}
