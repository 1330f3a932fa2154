/* A CoreMark-class CPU benchmark guest, written for avmm (not EEMBC's code).
 *
 * Every iteration runs four kernels on a small, cache-resident working set
 * built once from `mark_seed`:
 *   - lists: find keys in a linked list (reversing it on every hit), merge
 *     sort it by value, then by insertion order (which restores it);
 *   - matrices: 16x16 int16 -> int32 multiply-accumulate (matrix by
 *     matrix, by vector, by a bit field of the other matrix), add a
 *     constant and take it away again;
 *   - a state machine scanning a text of comma-separated tokens and
 *     classifying each as an integer, a float, a hex number or invalid,
 *     then again over a corrupted copy (the corruption is undone);
 *   - CRCs: CRC-16/CCITT of each kernel's results, CRC-32 of the text.
 * The results do not depend on the iteration, so every iteration's CRC-32
 * must equal `mark_expected` (computed for the default seed and the sizes
 * below); a mismatch prints FAIL and exits with 1. The printed checksum
 * chains every iteration's result (so it depends on the count) and lets the
 * host compare QEMU and avmm. The host patches `mark_iterations`
 * (bench/core.py); tests patch `mark_expected` to see the guest fail. A
 * different `mark_seed` needs its own `mark_expected` (the guest prints the
 * result it got). Built by `python -m guests.build mark`. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#define LIST_NODES 96
#define LIST_FINDS 12
#define MAT_N 16
#define TEXT_TOKENS 64
#define TEXT_MAX 512

volatile uint64_t mark_iterations = 10;
volatile uint64_t mark_seed = 0x3415;
/* The per-iteration result for the default seed and the sizes above. */
volatile uint64_t mark_expected = 0x4b49045f;

/* ------------------------------------------------------------ CRCs */
static uint16_t crc16_byte(uint16_t crc, uint8_t b) {
    crc ^= (uint16_t)b << 8;
    for (int i = 0; i < 8; i++)
        crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    return crc;
}

static uint16_t crc16_u16(uint16_t crc, uint16_t v) {
    return crc16_byte(crc16_byte(crc, (uint8_t)v), (uint8_t)(v >> 8));
}

static uint16_t crc16_u32(uint16_t crc, uint32_t v) {
    return crc16_u16(crc16_u16(crc, (uint16_t)v), (uint16_t)(v >> 16));
}

static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, unsigned len) {
    crc = ~crc;
    for (unsigned i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

static uint32_t crc32_u32(uint32_t crc, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return crc32_bytes(crc, b, 4);
}

/* A small LCG for building the data (not used in the timed kernels). */
static uint32_t rng_state;
static uint32_t rng(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* ------------------------------------------------------------ lists */
struct item {
    int16_t value;
    uint16_t order; /* insertion order: sorting by it restores the list */
};

struct node {
    struct node *next;
    struct item *item;
};

static struct node nodes[LIST_NODES];
static struct item items[LIST_NODES];
static struct node *list_head;
static int16_t list_keys[LIST_FINDS];

static void list_init(void) {
    for (unsigned i = 0; i < LIST_NODES; i++) {
        items[i].value = (int16_t)(rng() & 0x3ff) - 0x200;
        items[i].order = (uint16_t)i;
        nodes[i].item = &items[i];
        nodes[i].next = i + 1 < LIST_NODES ? &nodes[i + 1] : 0;
    }
    list_head = &nodes[0];
    /* Half the keys are in the list, half (most likely) are not. */
    for (unsigned k = 0; k < LIST_FINDS; k++)
        list_keys[k] =
            (k & 1) ? (int16_t)((rng() & 0x3ff) - 0x200) : items[rng() % LIST_NODES].value;
}

static struct node *list_find(struct node *list, int16_t value) {
    while (list && list->item->value != value)
        list = list->next;
    return list;
}

static struct node *list_reverse(struct node *list) {
    struct node *prev = 0;
    while (list) {
        struct node *next = list->next;
        list->next = prev;
        prev = list;
        list = next;
    }
    return prev;
}

static int by_value(const struct item *a, const struct item *b) {
    return a->value != b->value ? a->value - b->value : a->order - b->order;
}

static int by_order(const struct item *a, const struct item *b) { return a->order - b->order; }

typedef int (*item_cmp)(const struct item *, const struct item *);

/* Bottom-up merge sort of a singly linked list (stable, no recursion). */
static struct node *list_sort(struct node *list, item_cmp cmp) {
    for (unsigned width = 1;; width *= 2) {
        struct node *p = list, *tail = 0;
        unsigned merges = 0;
        list = 0;
        while (p) {
            merges++;
            struct node *q = p;
            unsigned psize = 0, qsize = width;
            while (psize < width && q) {
                psize++;
                q = q->next;
            }
            while (psize > 0 || (qsize > 0 && q)) {
                struct node *e;
                if (psize == 0) {
                    e = q;
                    q = q->next;
                    qsize--;
                } else if (qsize == 0 || !q || cmp(p->item, q->item) <= 0) {
                    e = p;
                    p = p->next;
                    psize--;
                } else {
                    e = q;
                    q = q->next;
                    qsize--;
                }
                if (tail)
                    tail->next = e;
                else
                    list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1)
            return list;
    }
}

static uint16_t list_bench(void) {
    uint16_t crc = 0xffff;
    unsigned found = 0, missed = 0;
    for (unsigned k = 0; k < LIST_FINDS; k++) {
        struct node *n = list_find(list_head, list_keys[k]);
        if (n) {
            found++;
            crc = crc16_u16(crc, n->item->order);
            list_head = list_reverse(list_head);
        } else {
            missed++;
        }
    }
    list_head = list_sort(list_head, by_value);
    /* Sorted: the values never go down; fold them and their order in. */
    int16_t last = -0x8000;
    unsigned inversions = 0;
    for (struct node *n = list_head; n; n = n->next) {
        inversions += n->item->value < last;
        last = n->item->value;
        crc = crc16_u16(crc, (uint16_t)n->item->value);
    }
    list_head = list_sort(list_head, by_order);
    unsigned i = 0;
    for (struct node *n = list_head; n; n = n->next, i++)
        inversions += n->item->order != i;
    crc = crc16_u16(crc, (uint16_t)found);
    crc = crc16_u16(crc, (uint16_t)missed);
    return crc16_u16(crc, (uint16_t)(inversions + i));
}

/* ------------------------------------------------------------ matrices */
static int16_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N];
static int32_t mat_c[MAT_N][MAT_N];
static int16_t mat_v[MAT_N];
static int16_t mat_const;

static void matrix_init(void) {
    for (unsigned i = 0; i < MAT_N; i++) {
        for (unsigned j = 0; j < MAT_N; j++) {
            mat_a[i][j] = (int16_t)((rng() & 0xfff) - 0x800);
            mat_b[i][j] = (int16_t)((rng() & 0xfff) - 0x800);
        }
        mat_v[i] = (int16_t)((rng() & 0xff) - 0x80);
    }
    mat_const = (int16_t)(rng() & 0xff) | 1;
}

/* Folds the result matrix: a sum with a data-dependent branch, then a CRC. */
static uint16_t matrix_summary(uint16_t crc, int32_t limit) {
    int64_t sum = 0;
    unsigned over = 0;
    for (unsigned i = 0; i < MAT_N; i++)
        for (unsigned j = 0; j < MAT_N; j++) {
            int32_t x = mat_c[i][j];
            if (x > limit || x < -limit) {
                over++;
                sum -= x >> 4;
            } else {
                sum += x;
            }
        }
    crc = crc16_u32(crc, (uint32_t)sum);
    crc = crc16_u32(crc, (uint32_t)(sum >> 32));
    return crc16_u16(crc, (uint16_t)over);
}

static void matrix_add_const(int16_t c) {
    for (unsigned i = 0; i < MAT_N; i++)
        for (unsigned j = 0; j < MAT_N; j++)
            mat_a[i][j] = (int16_t)(mat_a[i][j] + c);
}

static void matrix_mul_vector(void) {
    for (unsigned i = 0; i < MAT_N; i++) {
        int32_t acc = 0;
        for (unsigned j = 0; j < MAT_N; j++)
            acc += (int32_t)mat_a[i][j] * mat_v[j];
        for (unsigned j = 0; j < MAT_N; j++)
            mat_c[i][j] = acc ^ (int32_t)j;
    }
}

static void matrix_mul_matrix(void) {
    for (unsigned i = 0; i < MAT_N; i++)
        for (unsigned j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (unsigned k = 0; k < MAT_N; k++)
                acc += (int32_t)mat_a[i][k] * mat_b[k][j];
            mat_c[i][j] = acc;
        }
}

static void matrix_mul_bits(void) {
    for (unsigned i = 0; i < MAT_N; i++)
        for (unsigned j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (unsigned k = 0; k < MAT_N; k++) {
                int32_t bits = (mat_b[k][j] >> 2) & 0xf;
                int32_t scale = (mat_b[k][j] >> 5) & 0x7f;
                acc += (int32_t)mat_a[i][k] * bits * scale;
            }
            mat_c[i][j] = acc;
        }
}

static uint16_t matrix_bench(void) {
    uint16_t crc = 0xffff;
    matrix_add_const(mat_const);
    matrix_mul_vector();
    crc = matrix_summary(crc, 1 << 18);
    matrix_mul_matrix();
    crc = matrix_summary(crc, 1 << 22);
    matrix_mul_bits();
    crc = matrix_summary(crc, 1 << 21);
    matrix_add_const((int16_t)-mat_const);
    matrix_mul_matrix();
    return matrix_summary(crc, 1 << 23);
}

/* ------------------------------------------------------------ state machine */
enum state {
    S_START,
    S_SIGN,
    S_INT,
    S_ZERO,
    S_HEX,
    S_DOT,
    S_FRAC,
    S_EXP,
    S_EXP_SIGN,
    S_EXP_INT,
    S_BAD,
    S_COUNT
};
enum kind { K_INT, K_FLOAT, K_HEX, K_BAD, K_COUNT };

static char text[TEXT_MAX];
static unsigned text_len;

static void text_append(const char *s) {
    while (*s && text_len < TEXT_MAX - 1)
        text[text_len++] = *s++;
}

static void text_append_num(uint32_t n) {
    char buf[12];
    int i = 0;
    do {
        buf[i++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (i > 0 && text_len < TEXT_MAX - 1)
        text[text_len++] = buf[--i];
}

static void text_init(void) {
    static const char *const bad[] = {"1x2", "--3", "4.5.6", "e7", "0x", ".", "9e+", "abc"};
    static const char *const hex[] = {"0x1f", "0XbEeF", "0x7", "0xC0de"};
    text_len = 0;
    for (unsigned t = 0; t < TEXT_TOKENS; t++) {
        uint32_t r = rng();
        switch (r % 6) {
        case 0:
        case 1: /* integer, maybe signed */
            if (r & 0x100)
                text_append("-");
            text_append_num((r >> 9) % 100000);
            break;
        case 2: /* float with a fraction */
            text_append_num((r >> 9) % 1000);
            text_append(".");
            text_append_num((r >> 3) % 100);
            break;
        case 3: /* float with an exponent */
            if (r & 0x100)
                text_append("+");
            text_append_num((r >> 9) % 10);
            text_append((r & 0x200) ? ".5e" : "E-");
            text_append_num((r >> 12) % 40);
            break;
        case 4:
            text_append(hex[(r >> 9) % 4]);
            break;
        default:
            text_append(bad[(r >> 9) % 8]);
            break;
        }
        text_append(t + 1 < TEXT_TOKENS ? "," : "");
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static enum state step(enum state s, char c) {
    switch (s) {
    case S_START:
        if (c == '+' || c == '-')
            return S_SIGN;
        if (c == '0')
            return S_ZERO;
        if (is_digit(c))
            return S_INT;
        if (c == '.')
            return S_DOT;
        return S_BAD;
    case S_SIGN:
        if (is_digit(c))
            return S_INT;
        return c == '.' ? S_DOT : S_BAD;
    case S_ZERO:
        if (c == 'x' || c == 'X')
            return S_HEX;
        /* fall through */
    case S_INT:
        if (is_digit(c))
            return S_INT;
        if (c == '.')
            return S_DOT;
        return (c == 'e' || c == 'E') ? S_EXP : S_BAD;
    case S_HEX:
        return is_hex(c) ? S_HEX : S_BAD;
    case S_DOT:
    case S_FRAC:
        if (is_digit(c))
            return S_FRAC;
        return (s == S_FRAC && (c == 'e' || c == 'E')) ? S_EXP : S_BAD;
    case S_EXP:
        if (c == '+' || c == '-')
            return S_EXP_SIGN;
        /* fall through */
    case S_EXP_SIGN:
    case S_EXP_INT:
        return is_digit(c) ? S_EXP_INT : S_BAD;
    default:
        return S_BAD;
    }
}

static enum kind classify(enum state s, unsigned hex_digits) {
    switch (s) {
    case S_INT:
    case S_ZERO:
        return K_INT;
    case S_FRAC:
    case S_EXP_INT:
        return K_FLOAT;
    case S_HEX:
        return hex_digits ? K_HEX : K_BAD;
    default:
        return K_BAD;
    }
}

/* Scans the text; returns a CRC of the token kinds and state visits. */
static uint16_t scan(uint16_t crc) {
    unsigned kinds[K_COUNT] = {0}, visits[S_COUNT] = {0};
    enum state s = S_START;
    unsigned hex_digits = 0;
    for (unsigned i = 0; i <= text_len; i++) {
        char c = i < text_len ? text[i] : ',';
        if (c == ',') {
            kinds[classify(s, hex_digits)]++;
            s = S_START;
            hex_digits = 0;
            continue;
        }
        enum state next = step(s, c);
        hex_digits += s == S_HEX && next == S_HEX;
        visits[next]++;
        s = next;
    }
    for (unsigned k = 0; k < K_COUNT; k++)
        crc = crc16_u16(crc, (uint16_t)kinds[k]);
    for (unsigned k = 0; k < S_COUNT; k++)
        crc = crc16_u16(crc, (uint16_t)visits[k]);
    return crc;
}

static void corrupt(unsigned stride, char mask) {
    for (unsigned i = 0; i < text_len; i += stride)
        text[i] ^= mask;
}

static uint16_t state_bench(void) {
    uint16_t crc = scan(0xffff);
    corrupt(7, 0x01); /* '0'<->'1', ','<->'-', '.'<->'/', 'e'<->'d' */
    crc = scan(crc);
    corrupt(7, 0x01);
    corrupt(5, 0x1c); /* ',' -> '0', digits -> other characters */
    crc = scan(crc);
    corrupt(5, 0x1c);
    return scan(crc);
}

/* ------------------------------------------------------------ main */
static uint32_t iteration(uint16_t out[3], uint32_t *text_crc) {
    out[0] = list_bench();
    out[1] = matrix_bench();
    out[2] = state_bench();
    *text_crc = crc32_bytes(0, (const uint8_t *)text, text_len);
    uint32_t r = crc32_u32(0, out[0] | (uint32_t)out[1] << 16);
    r = crc32_u32(r, out[2]);
    return crc32_u32(r, *text_crc);
}

int main(void) {
    uint64_t n = mark_iterations, expected = mark_expected;
    rng_state = (uint32_t)mark_seed ^ (uint32_t)(mark_seed >> 32);
    list_init();
    matrix_init();
    text_init();

    uint16_t parts[3] = {0, 0, 0};
    uint32_t text_crc = 0, result = 0, chain = 0;
    uint64_t wrong = 0;
    for (uint64_t it = 0; it < n; it++) {
        result = iteration(parts, &text_crc);
        wrong += result != (uint32_t)expected;
        chain = crc32_u32(chain, result ^ (uint32_t)it);
    }

    uint64_t checksum = (uint64_t)chain << 32 | result;
    printf("checksum %016llx iterations %llu\n", (unsigned long long)checksum,
           (unsigned long long)n);
    printf("seed %#llx list %04x matrix %04x state %04x text %08x result %08x expected %08llx\n",
           (unsigned long long)mark_seed, parts[0], parts[1], parts[2], (unsigned)text_crc,
           (unsigned)result, (unsigned long long)expected);
    if (n == 0 || wrong) {
        printf("FAIL: %llu of %llu iterations gave a wrong result%s\n", (unsigned long long)wrong,
               (unsigned long long)n, n ? "" : " (no iteration ran)");
        return 1;
    }
    printf("PASS\n");
    return 0;
}
