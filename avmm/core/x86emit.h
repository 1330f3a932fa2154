/*
 * A small x86-64 machine-code encoder for the translator (jit.c): just the
 * instruction forms its templates use, written into a byte buffer. No
 * external assembler or library. Only jit.c includes this file.
 *
 * Memory operands are [base + disp] or [base + index + disp] (scale 1); the
 * encoder picks the shortest displacement and adds the SIB byte rsp/r12 need.
 */
#ifndef AVMM_X86EMIT_H
#define AVMM_X86EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum { NOIDX = -1 };

/* condition codes (the low nibble of jcc / setcc) */
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_A = 7, CC_L = 0xc, CC_GE = 0xd };
/* SSE registers (only the low three are used) */
enum { XMM0, XMM1, XMM2 };

/* group-1 ALU extensions (0x81 /ext) and their r/m forms (op reg, r/m) */
enum { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };
/* shift extensions (0xc1 / 0xd3) */
enum { SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

typedef struct xbuf {
    uint8_t *p; /* next byte (writable mapping) */
} xbuf_t;

static inline void x_b(xbuf_t *b, unsigned v)
{
    *b->p++ = (uint8_t)v;
}
static inline void x_d32(xbuf_t *b, int32_t v)
{
    memcpy(b->p, &v, 4);
    b->p += 4;
}
static inline void x_d64(xbuf_t *b, uint64_t v)
{
    memcpy(b->p, &v, 8);
    b->p += 8;
}
static inline bool fits8(int64_t v)
{
    return v == (int8_t)v;
}
static inline bool fits32(int64_t v)
{
    return v == (int32_t)v;
}

static inline void x_rex(xbuf_t *b, int w, int r, int x, int rm)
{
    unsigned v = 0x40 | (unsigned)(w << 3) | (unsigned)(((r >> 3) & 1) << 2) |
                 (unsigned)(((x >> 3) & 1) << 1) | (unsigned)((rm >> 3) & 1);
    if (v != 0x40)
        x_b(b, v);
}

/* opcode bytes: op holds up to 3 bytes, the first in the highest used byte */
static inline void x_op(xbuf_t *b, uint32_t op)
{
    if (op > 0xffff)
        x_b(b, op >> 16);
    if (op > 0xff)
        x_b(b, (op >> 8) & 0xff);
    x_b(b, op & 0xff);
}

/* op reg, [base + index + disp]; pfx 0x66 for 16-bit operands (0: none) */
static inline void x_mem(xbuf_t *b, int pfx, int w, uint32_t op, int reg, int base, int index,
                         int32_t disp)
{
    if (pfx)
        x_b(b, (unsigned)pfx);
    x_rex(b, w, reg, index < 0 ? 0 : index, base);
    x_op(b, op);
    int mod = (disp == 0 && (base & 7) != 5) ? 0 : fits8(disp) ? 1 : 2;
    if (index < 0 && (base & 7) != 4) {
        x_b(b, (unsigned)(mod << 6) | (unsigned)((reg & 7) << 3) | (unsigned)(base & 7));
    } else {
        x_b(b, (unsigned)(mod << 6) | (unsigned)((reg & 7) << 3) | 4);
        x_b(b, (unsigned)(((index < 0 ? 4 : index) & 7) << 3) | (unsigned)(base & 7));
    }
    if (mod == 1)
        x_b(b, (unsigned)(disp & 0xff));
    else if (mod == 2)
        x_d32(b, disp);
}

/* op reg, rm (register direct) */
static inline void x_rr(xbuf_t *b, int w, uint32_t op, int reg, int rm)
{
    x_rex(b, w, reg, 0, rm);
    x_op(b, op);
    x_b(b, 0xc0 | (unsigned)((reg & 7) << 3) | (unsigned)(rm & 7));
}

/* mov r64, [base + disp] / mov [base + disp], r64 */
static inline void x_load64(xbuf_t *b, int reg, int base, int32_t disp)
{
    x_mem(b, 0, 1, 0x8b, reg, base, NOIDX, disp);
}
static inline void x_store64(xbuf_t *b, int base, int32_t disp, int reg)
{
    x_mem(b, 0, 1, 0x89, reg, base, NOIDX, disp);
}
/* mov r64, r64 */
static inline void x_mov(xbuf_t *b, int dst, int src)
{
    x_rr(b, 1, 0x89, src, dst);
}
/* alu r64/r32, imm (w = 1: 64-bit) */
static inline void x_alu_ri(xbuf_t *b, int w, int ext, int rm, int32_t imm)
{
    if (fits8(imm)) {
        x_rr(b, w, 0x83, ext, rm);
        x_b(b, (unsigned)(imm & 0xff));
    } else {
        x_rr(b, w, 0x81, ext, rm);
        x_d32(b, imm);
    }
}
/* alu qword [base + disp], imm */
static inline void x_alu_mi(xbuf_t *b, int ext, int base, int32_t disp, int32_t imm)
{
    if (fits8(imm)) {
        x_mem(b, 0, 1, 0x83, ext, base, NOIDX, disp);
        x_b(b, (unsigned)(imm & 0xff));
    } else {
        x_mem(b, 0, 1, 0x81, ext, base, NOIDX, disp);
        x_d32(b, imm);
    }
}
/* alu reg, [base + index + disp] (w = 1: 64-bit): add 03, or 0b, and 23, sub 2b, xor 33, cmp 3b */
static inline void x_alu_rm(xbuf_t *b, int w, int ext, int reg, int base, int index, int32_t disp)
{
    x_mem(b, 0, w, (uint32_t)(ext * 8 + 3), reg, base, index, disp);
}
static inline void x_shift_i(xbuf_t *b, int w, int ext, int rm, int n)
{
    x_rr(b, w, 0xc1, ext, rm);
    x_b(b, (unsigned)n & 63);
}
static inline void x_shift_cl(xbuf_t *b, int w, int ext, int rm)
{
    x_rr(b, w, 0xd3, ext, rm);
}
/* reg = imm (shortest form) */
static inline void x_mov_ri(xbuf_t *b, int reg, uint64_t imm)
{
    if (imm <= 0xffffffffull) { /* mov r32, imm32 zero-extends */
        x_rex(b, 0, 0, 0, reg);
        x_b(b, 0xb8 + (unsigned)(reg & 7));
        x_d32(b, (int32_t)(uint32_t)imm);
    } else if (fits32((int64_t)imm)) {
        x_rr(b, 1, 0xc7, 0, reg);
        x_d32(b, (int32_t)imm);
    } else {
        x_rex(b, 1, 0, 0, reg);
        x_b(b, 0xb8 + (unsigned)(reg & 7));
        x_d64(b, imm);
    }
}
/* mov qword [base + disp], simm32 */
static inline void x_store_imm(xbuf_t *b, int base, int32_t disp, int32_t imm)
{
    x_mem(b, 0, 1, 0xc7, 0, base, NOIDX, disp);
    x_d32(b, imm);
}
/* movsxd r64, r32 */
static inline void x_movsxd(xbuf_t *b, int dst, int src)
{
    x_rr(b, 1, 0x63, dst, src);
}
/* setcc r8 (al, cl, dl, bl) then movzx r32, r8 */
static inline void x_setcc(xbuf_t *b, int cc, int reg)
{
    x_rr(b, 0, 0x0f90u + (uint32_t)cc, 0, reg);
    x_rr(b, 0, 0x0fb6, reg, reg);
}
/* jcc / jmp rel32; the returned pointer is the rel32 field (see x_fix) */
static inline uint8_t *x_jcc(xbuf_t *b, int cc)
{
    x_b(b, 0x0f);
    x_b(b, 0x80 + (unsigned)cc);
    uint8_t *f = b->p;
    x_d32(b, 0);
    return f;
}
static inline uint8_t *x_jmp(xbuf_t *b)
{
    x_b(b, 0xe9);
    uint8_t *f = b->p;
    x_d32(b, 0);
    return f;
}
/* point the rel32 field f at target (both in the same mapping) */
static inline void x_fix(uint8_t *f, const uint8_t *target)
{
    int32_t rel = (int32_t)(target - (f + 4));
    memcpy(f, &rel, 4);
}
static inline void x_call_abs(xbuf_t *b, const void *fn)
{
    x_mov_ri(b, RAX, (uint64_t)(uintptr_t)fn);
    x_b(b, 0xff);
    x_b(b, 0xd0); /* call rax */
}
static inline void x_jmp_reg(xbuf_t *b, int reg)
{
    x_rex(b, 0, 0, 0, reg);
    x_b(b, 0xff);
    x_b(b, 0xe0 + (unsigned)(reg & 7));
}
/* movq xmm, r64 / movq r64, xmm */
static inline void x_movq_xr(xbuf_t *b, int xmm, int reg)
{
    x_b(b, 0x66);
    x_rr(b, 1, 0x0f6e, xmm, reg);
}
static inline void x_movq_rx(xbuf_t *b, int reg, int xmm)
{
    x_b(b, 0x66);
    x_rr(b, 1, 0x0f7e, xmm, reg);
}
/* scalar double op xmm, [base + disp] (F2 0F op: 10 movsd load, 11 movsd
 * store, 2a cvtsi2sd from a 32-bit integer, 58 add, 59 mul, 5c sub, 5e div) */
static inline void x_sd_mem(xbuf_t *b, uint32_t op, int xmm, int base, int32_t disp)
{
    x_mem(b, 0xf2, 0, 0x0f00 | op, xmm, base, NOIDX, disp);
}
/* cvtsi2sd xmm, r64 */
static inline void x_cvtsi2sd64(xbuf_t *b, int xmm, int reg)
{
    x_b(b, 0xf2);
    x_rr(b, 1, 0x0f2a, xmm, reg);
}
/* VEX.LIG.66.0F38.W1 op: dst = +-(src1 * src2) +- dst, one rounding (b9
 * vfmadd231sd, bb vfmsub231sd, bd vfnmadd231sd, bf vfnmsub231sd); xmm0-7 */
static inline void x_fma231sd(xbuf_t *b, unsigned op, int dst, int src1, int src2)
{
    x_b(b, 0xc4);
    x_b(b, 0xe2);                                        /* R X B inverted, map 0F38 */
    x_b(b, 0x81 | (unsigned)((~src1 & 15) << 3));        /* W1, vvvv = ~src1, L0, pp 66 */
    x_b(b, op);
    x_b(b, 0xc0 | (unsigned)((dst & 7) << 3) | (unsigned)(src2 & 7));
}
static inline void x_push(xbuf_t *b, int reg)
{
    x_rex(b, 0, 0, 0, reg);
    x_b(b, 0x50 + (unsigned)(reg & 7));
}
static inline void x_pop(xbuf_t *b, int reg)
{
    x_rex(b, 0, 0, 0, reg);
    x_b(b, 0x58 + (unsigned)(reg & 7));
}

#endif
