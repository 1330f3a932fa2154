/* A small, bounds-checked reader of the flattened device tree the board passes
 * in a1 (saved by entry.S as demo_dtb). */
#ifndef DEMO_FDT_H
#define DEMO_FDT_H

#include <stdint.h>

extern uint64_t demo_dtb;

/* Nonzero when demo_dtb points at a plausible DTB (magic, sizes). */
int fdt_valid(void);
/* The value of property `prop` of the node at `path` ("/cpus/cpu@0"), or NULL;
 * *len gets its length. */
const void *fdt_prop(const char *path, const char *prop, uint32_t *len);
/* Children of the node at `path` whose names start with `prefix`. */
int fdt_count(const char *path, const char *prefix);
/* Big-endian cells. */
uint32_t fdt_u32(const void *p);
uint64_t fdt_u64(const void *p);
/* Harts from /cpus (or `fallback` without a valid tree). */
unsigned fdt_harts(unsigned fallback);

#endif
