/* The CLINT at 0x02000000 (QEMU spike/virt layout, and avmm's board):
 * msip at +4*hart, mtimecmp at +0x4000+8*hart, mtime at +0xbff8. */
#ifndef AVMM_GUEST_CLINT_H
#define AVMM_GUEST_CLINT_H

#include <stdint.h>

#define CLINT_BASE 0x02000000UL
#define CLINT_MSIP(h) ((volatile uint32_t *)(CLINT_BASE + 4UL * (h)))
#define CLINT_MTIMECMP(h) ((volatile uint64_t *)(CLINT_BASE + 0x4000UL + 8UL * (h)))
#define CLINT_MTIME ((volatile uint64_t *)(CLINT_BASE + 0xbff8UL))
/* Both boards tick at 10 MHz. */
#define CLINT_TIMEBASE_HZ 10000000UL

static inline uint64_t clint_mtime(void) { return *CLINT_MTIME; }
static inline void clint_set_mtimecmp(unsigned hart, uint64_t when) { *CLINT_MTIMECMP(hart) = when; }
/* Disarm: the comparator can never be reached. */
static inline void clint_disarm(unsigned hart) { *CLINT_MTIMECMP(hart) = UINT64_MAX; }
/* Raise (1) or clear (0) the machine software interrupt of a hart. */
static inline void clint_msip(unsigned hart, uint32_t level) { *CLINT_MSIP(hart) = level; }

#endif
