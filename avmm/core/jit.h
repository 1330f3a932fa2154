/*
 * The translator's interface to the rest of the core (see jit.c for the
 * design). On hosts other than x86-64 the functions exist and translate
 * nothing: jit_available() says why.
 */
#ifndef AVMM_JIT_H
#define AVMM_JIT_H

#include "core.h"

typedef struct jit jit_t;

/* how translated code returned to hart_run */
enum {
    JX_STEP = 0,     /* interpret the instruction at pc, then look up again */
    JX_DISPATCH = 1, /* look up a block at pc (jr.link: a jump to patch to it) */
    JX_BUDGET = 2,   /* the block at pc does not fit before chunk_end: interpret */
};

/* state handed to and back from translated code (offsets are used by jit.c) */
typedef struct jit_run {
    uint64_t n;         /* steps of the slice so far */
    uint64_t chunk_end; /* a block of L instructions runs only if n + L <= chunk_end */
    uint64_t pc;        /* out: the next guest pc */
    uint8_t *link;      /* out: a jump to the block at pc may be patched here */
} jit_run_t;

/* flush / invalidation causes, in the order of jit_flush_names */
enum { JF_FULL, JF_FENCE_I, JF_SMC, JF_HOST, JF_RESET, JF_COUNT };
extern const char *const jit_flush_names[JF_COUNT];

typedef struct jit_stats {
    uint64_t blocks;      /* translated so far */
    uint64_t live_blocks; /* in the cache now */
    uint64_t insns;       /* guest instructions translated so far */
    uint64_t code_bytes;  /* host code in use */
    uint64_t code_size;   /* size of the cache */
    uint64_t flushes[JF_COUNT];
    uint64_t translate_ns;
    uint64_t lookups, chain_links;
} jit_stats_t;

/* NULL when this process can translate, else why not */
const char *jit_unavailable_reason(void);
void jit_free(machine_t *m);
void jit_get_stats(machine_t *m, jit_stats_t *st);

/* translated code for the instruction at pc (a block entry), or NULL: counts
 * executions of not yet translated entries and translates hot ones. *one is set
 * when the instruction at pc is one the translator leaves to the interpreter
 * (a block may start right after it) */
const uint8_t *jit_find(hart_t *h, uint64_t pc, bool *one);
/* run translated code from entry `code` at jr->pc; returns a JX_ reason */
int jit_exec(hart_t *h, jit_run_t *jr, const uint8_t *code);
/* patch the jump at link (from the last jit_exec) to code, if gen still matches */
void jit_link(machine_t *m, uint8_t *link, uint64_t gen, const uint8_t *code);
uint64_t jit_gen(machine_t *m);

/* drop every translation */
void jit_flush(machine_t *m, int cause);
/* Hart.reset (a loader may have written code through a raw buffer nobody
 * reported): drop the translations of every page whose bytes differ from what
 * they were translated from */
void jit_reset(machine_t *m);
/* a guest store (or A/D update) wrote [pa, pa+len) inside slot s, which holds code */
void jit_smc(machine_t *m, ram_slot_t *s, uint64_t pa, uint64_t len);
/* a host write to guest RAM (any thread): noted, applied by jit_host_sync */
void jit_note_host_write(machine_t *m, uint64_t pa, uint64_t len);
/* drop translations of pages the host wrote since the last call (hart thread);
 * returns the number of pages dropped */
unsigned jit_host_sync(machine_t *m, int cause);

static inline bool jit_code_page(const ram_slot_t *s, uint64_t pa)
{
    return s->jit_pages && s->jit_pages[(pa - s->base) >> 12];
}

#endif
