/*
 * IEEE 754 binary32/binary64 arithmetic with RISC-V semantics.
 *
 * Values are raw bit patterns. Every function takes a RISC-V rounding mode
 * (RM_*; never 7/dynamic: the caller resolves frm) where rounding can happen,
 * and ORs RISC-V exception flags (FF_*) into *flags. A NaN result is always
 * the canonical NaN (0x7fc00000 / 0x7ff8000000000000), as the F and D
 * extensions require. Tininess is detected after rounding (RISC-V).
 * NaN-boxing of singles in 64-bit registers is the caller's business.
 */
#ifndef AVMM_SOFTFLOAT_H
#define AVMM_SOFTFLOAT_H

#include <stdbool.h>
#include <stdint.h>

enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4 };
enum { FF_NX = 1, FF_UF = 2, FF_OF = 4, FF_DZ = 8, FF_NV = 16 };

#define F32_CANONICAL_NAN UINT32_C(0x7fc00000)
#define F64_CANONICAL_NAN UINT64_C(0x7ff8000000000000)

/* fused multiply-add: (neg_prod ? -(a*b) : a*b) + (neg_c ? -c : c), one rounding.
 * fmadd = (0,0), fmsub = (0,1), fnmsub = (1,0), fnmadd = (1,1). */
uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *flags);
uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, bool neg_prod, bool neg_c, int rm,
                 uint32_t *flags);
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *flags); /* fmin.s (2.2 semantics) */
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *flags);
bool f32_eq(uint32_t a, uint32_t b, uint32_t *flags); /* quiet: NV only for sNaN */
bool f32_lt(uint32_t a, uint32_t b, uint32_t *flags); /* signaling: NV for any NaN */
bool f32_le(uint32_t a, uint32_t b, uint32_t *flags);
uint32_t f32_classify(uint32_t a); /* fclass.s: one-hot 10-bit mask */

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, bool neg_prod, bool neg_c, int rm,
                 uint32_t *flags);
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *flags);
bool f64_eq(uint64_t a, uint64_t b, uint32_t *flags);
bool f64_lt(uint64_t a, uint64_t b, uint32_t *flags);
bool f64_le(uint64_t a, uint64_t b, uint32_t *flags);
uint32_t f64_classify(uint64_t a);

/* Conversions. Float -> integer saturates as RISC-V specifies (NaN -> max
 * positive, out of range -> the nearest bound) and raises NV; an inexact
 * in-range result raises NX. 32-bit results are returned sign-extended to
 * 64 bits (as the W forms write them). */
uint64_t f32_to_i32(uint32_t a, int rm, uint32_t *flags);
uint64_t f32_to_u32(uint32_t a, int rm, uint32_t *flags);
uint64_t f32_to_i64(uint32_t a, int rm, uint32_t *flags);
uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *flags);
uint64_t f64_to_i32(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_to_u32(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_to_i64(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *flags);
uint32_t i32_to_f32(int32_t a, int rm, uint32_t *flags);
uint32_t u32_to_f32(uint32_t a, int rm, uint32_t *flags);
uint32_t i64_to_f32(int64_t a, int rm, uint32_t *flags);
uint32_t u64_to_f32(uint64_t a, int rm, uint32_t *flags);
uint64_t i32_to_f64(int32_t a, int rm, uint32_t *flags);
uint64_t u32_to_f64(uint32_t a, int rm, uint32_t *flags);
uint64_t i64_to_f64(int64_t a, int rm, uint32_t *flags);
uint64_t u64_to_f64(uint64_t a, int rm, uint32_t *flags);
uint64_t f32_to_f64(uint32_t a, uint32_t *flags);
uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *flags);

#endif
