/* Walks the structure block of a DTB (devicetree specification, chapter 5),
 * never reading outside totalsize. */
#include <string.h>

#include "fdt.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
#define MAX_DEPTH 8
#define MAX_SIZE (1u << 20)

uint32_t fdt_u32(const void *p) {
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t fdt_u64(const void *p) {
    return (uint64_t)fdt_u32(p) << 32 | fdt_u32((const uint8_t *)p + 4);
}

static const uint8_t *blob(uint32_t *size) {
    const uint8_t *b = (const uint8_t *)(uintptr_t)demo_dtb;
    if (b == NULL || ((uintptr_t)b & 3) || fdt_u32(b) != FDT_MAGIC)
        return NULL;
    uint32_t total = fdt_u32(b + 4);
    if (total < 40 || total > MAX_SIZE)
        return NULL;
    *size = total;
    return b;
}

int fdt_valid(void) {
    uint32_t size;
    return blob(&size) != NULL;
}

/* Calls visit(path-of-node, name-of-prop or NULL for the node itself, value,
 * len, ctx) for every node and property until it returns nonzero. */
typedef int (*visit_fn)(const char *path, const char *child, const char *prop, const void *value,
                        uint32_t len, void *ctx);

static int walk(visit_fn visit, void *ctx) {
    uint32_t size;
    const uint8_t *b = blob(&size);
    if (b == NULL)
        return 0;
    uint32_t off = fdt_u32(b + 8), strings = fdt_u32(b + 12), strings_size = fdt_u32(b + 32);
    if (off >= size || strings >= size || strings_size > size - strings)
        return 0;
    char path[256] = "";
    size_t marks[MAX_DEPTH + 1];
    int depth = 0;
    while (off + 4 <= size) {
        uint32_t token = fdt_u32(b + off);
        off += 4;
        if (token == FDT_BEGIN_NODE) {
            const char *name = (const char *)b + off;
            size_t n = strnlen(name, size - off);
            if (n == size - off || depth >= MAX_DEPTH)
                return 0;
            off += (uint32_t)((n + 4) & ~3u);
            size_t len = strlen(path);
            marks[depth++] = len;
            if (depth > 1) { /* the root's name is empty */
                if (len + 1 + n + 1 > sizeof path)
                    return 0;
                if (visit(path, name, NULL, NULL, 0, ctx))
                    return 1;
                path[len] = '/';
                memcpy(path + len + 1, name, n + 1);
            }
        } else if (token == FDT_END_NODE) {
            if (depth == 0)
                return 0;
            path[marks[--depth]] = 0;
        } else if (token == FDT_PROP) {
            if (off + 8 > size)
                return 0;
            uint32_t len = fdt_u32(b + off), name = fdt_u32(b + off + 4);
            off += 8;
            if (len > size - off || name >= strings_size)
                return 0;
            const char *pname = (const char *)b + strings + name;
            if (visit(depth > 1 ? path : "/", NULL, pname, b + off, len, ctx))
                return 1;
            off += (len + 3) & ~3u;
        } else if (token == FDT_NOP) {
            continue;
        } else {
            return 0; /* FDT_END or garbage */
        }
    }
    return 0;
}

struct find {
    const char *path, *prop;
    const void *value;
    uint32_t len;
};

static int find_prop(const char *path, const char *child, const char *prop, const void *value,
                     uint32_t len, void *ctx) {
    struct find *f = ctx;
    (void)child;
    if (prop && strcmp(path, f->path) == 0 && strcmp(prop, f->prop) == 0) {
        f->value = value;
        f->len = len;
        return 1;
    }
    return 0;
}

const void *fdt_prop(const char *path, const char *prop, uint32_t *len) {
    struct find f = {path, prop, NULL, 0};
    walk(find_prop, &f);
    if (len)
        *len = f.len;
    return f.value;
}

struct count {
    const char *path, *prefix;
    int n;
};

static int count_child(const char *path, const char *child, const char *prop, const void *value,
                       uint32_t len, void *ctx) {
    struct count *c = ctx;
    (void)prop, (void)value, (void)len;
    if (child && strcmp(path, c->path) == 0 && strncmp(child, c->prefix, strlen(c->prefix)) == 0)
        c->n++;
    return 0;
}

int fdt_count(const char *path, const char *prefix) {
    struct count c = {path, prefix, 0};
    walk(count_child, &c);
    return c.n;
}

unsigned fdt_harts(unsigned fallback) {
    int n = fdt_count("/cpus", "cpu@");
    return n > 0 ? (unsigned)n : fallback;
}
