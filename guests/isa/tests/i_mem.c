/* RV64I loads and stores: every width, sign / zero extension, immediate
 * offsets, little-endian layout, and misaligned accesses (performed, no trap). */
#include <string.h>

#include "isa.h"

static uint8_t buf[64] __attribute__((aligned(16)));

#define LOAD(op, base, off)                                                     \
    ({                                                                          \
        uint64_t r_;                                                            \
        __asm__ volatile(op " %0, %2(%1)" : "=r"(r_) : "r"(base), "i"(off) : "memory"); \
        r_;                                                                     \
    })
#define STORE(op, v, base, off) \
    __asm__ volatile(op " %0, %2(%1)" ::"r"((uint64_t)(v)), "r"(base), "i"(off) : "memory")

static void fill(void) {
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(0x80 + i * 7);
}

static uint64_t le(unsigned at, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)buf[at + i] << (8 * i);
    return v;
}

static uint64_t sext(uint64_t v, unsigned bits) {
    return (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
}

static void aligned_loads(void) {
    static const uint64_t words[2] = {0x8877665544332211ULL, 0x00ff7f80fffe0102ULL};
    const uint8_t *p = (const uint8_t *)words;
    CHECK_EQ(LOAD("ld", p, 0), 0x8877665544332211ULL);
    CHECK_EQ(LOAD("lw", p, 4), 0xffffffff88776655ULL);
    CHECK_EQ(LOAD("lwu", p, 4), 0x88776655ULL);
    CHECK_EQ(LOAD("lw", p, 0), 0x44332211ULL);
    CHECK_EQ(LOAD("lh", p, 6), 0xffffffffffff8877ULL);
    CHECK_EQ(LOAD("lhu", p, 6), 0x8877);
    CHECK_EQ(LOAD("lh", p, 2), 0x4433);
    CHECK_EQ(LOAD("lb", p, 7), 0xffffffffffffff88ULL);
    CHECK_EQ(LOAD("lbu", p, 7), 0x88);
    CHECK_EQ(LOAD("lb", p, 0), 0x11);
    CHECK_EQ(LOAD("lb", p, 13), 0x7f);
    CHECK_EQ(LOAD("lb", p, 12), 0xffffffffffffff80ULL);
    CHECK_EQ(LOAD("lh", p, 12), 0x7f80);
    CHECK_EQ(LOAD("lh", p, 10), 0xfffffffffffffffeULL);
    /* negative offsets */
    const uint8_t *end = p + 16;
    CHECK_EQ(LOAD("ld", end, -8), 0x00ff7f80fffe0102ULL);
    CHECK_EQ(LOAD("lbu", end, -16), 0x11);
    /* load into x0 still accesses memory but leaves x0 zero */
    uint64_t z;
    __asm__ volatile("ld zero, 0(%1)\n\tmv %0, zero" : "=r"(z) : "r"(p) : "memory");
    CHECK_EQ(z, 0);
}

static void aligned_stores(void) {
    memset(buf, 0, sizeof buf);
    STORE("sd", 0x0102030405060708ULL, buf, 0);
    CHECK_EQ(le(0, 8), 0x0102030405060708ULL);
    CHECK_EQ(buf[0], 0x08); /* little-endian */
    STORE("sw", 0xaaaaaaaabbccddeeULL, buf, 8);
    CHECK_EQ(le(8, 8), 0x00000000bbccddeeULL);
    STORE("sh", 0xffffffffffff1234ULL, buf, 12);
    CHECK_EQ(le(8, 8), 0x00001234bbccddeeULL);
    STORE("sb", 0x1ff, buf, 15);
    CHECK_EQ(le(8, 8), 0xff001234bbccddeeULL);
    STORE("sb", 0x5a, buf + 32, -1);
    CHECK_EQ(buf[31], 0x5a);
    CHECK_EQ(buf[30], 0);
    CHECK_EQ(buf[32], 0);
    /* storing x0 writes zero */
    __asm__ volatile("sd zero, 0(%0)" ::"r"(buf) : "memory");
    CHECK_EQ(le(0, 8), 0);
}

static void misaligned(void) {
    /* every width at every misaligned offset, loads then stores */
    for (unsigned off = 0; off < 8; off++) {
        fill();
        uint8_t *p = buf + 8 + off;
        m_expect();
        uint64_t d = LOAD("ld", p, 0), w = LOAD("lw", p, 0), wu = LOAD("lwu", p, 0);
        uint64_t h = LOAD("lh", p, 0), hu = LOAD("lhu", p, 0);
        CHECK_NO_TRAP(m_trap);
        CHECK_EQ(d, le(8 + off, 8));
        CHECK_EQ(w, sext(le(8 + off, 4), 32));
        CHECK_EQ(wu, le(8 + off, 4));
        CHECK_EQ(h, sext(le(8 + off, 2), 16));
        CHECK_EQ(hu, le(8 + off, 2));

        memset(buf, 0, sizeof buf);
        m_expect();
        STORE("sd", 0x1122334455667788ULL, p, 0);
        CHECK_NO_TRAP(m_trap);
        CHECK_EQ(le(8 + off, 8), 0x1122334455667788ULL);
        CHECK_EQ(le(0, 8 + off), 0);
        CHECK_EQ(buf[16 + off], 0);
        m_expect();
        STORE("sw", 0xdeadbeefULL, p, 1);
        STORE("sh", 0xcafeULL, p, 5);
        CHECK_NO_TRAP(m_trap);
        CHECK_EQ(le(9 + off, 4), 0xdeadbeefULL);
        CHECK_EQ(le(13 + off, 2), 0xcafe);
        CHECK_EQ(buf[8 + off], 0x88);
        CHECK_EQ(buf[15 + off], 0x11);
    }
    /* a misaligned access crossing a page boundary */
    static uint8_t pages[8192] __attribute__((aligned(4096)));
    for (unsigned i = 0; i < 16; i++)
        pages[4088 + i] = (uint8_t)(i + 1);
    m_expect();
    uint64_t d = LOAD("ld", pages + 4093, 0);
    STORE("sd", 0xa1a2a3a4a5a6a7a8ULL, pages + 4090, 0);
    CHECK_NO_TRAP(m_trap);
    CHECK_EQ(d, 0x0d0c0b0a09080706ULL);
    CHECK_EQ(pages[4090], 0xa8);
    CHECK_EQ(pages[4097], 0xa1);
    CHECK_EQ(pages[4098], 11);
}

void test_main(void) {
    aligned_loads();
    aligned_stores();
    misaligned();
}
