/*
 * The RV64GC decoder, shared by the interpreter (interp.c) and the translator
 * (jit.c): one raw instruction (a 16-bit compressed instruction zero-extended)
 * into a dinsn_t (op, rd, rs1, rs2, imm, len). Decoding is a pure function of
 * the bits, which is what lets the interpreter tag its decode cache by them.
 */
#ifndef AVMM_DECODE_H
#define AVMM_DECODE_H

#include "core.h"

enum {
    OP_ILLEGAL,
    /* ops that write x[rd] (rd = 32, the sink, when the instruction names x0) */
    OP_LUI, OP_AUIPC, OP_JAL, OP_JALR,
    OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
    OP_ADDI, OP_SLTI, OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI,
    OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND,
    OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW, OP_ADDW, OP_SUBW, OP_SLLW, OP_SRLW, OP_SRAW,
    OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
    OP_MULW, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW,
    OP_LAST_WX = OP_REMUW,
    OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
    OP_SB, OP_SH, OP_SW, OP_SD,
    OP_FENCE, OP_FENCE_I, OP_PAUSE, OP_AMO, OP_CSR, OP_ECALL, OP_EBREAK, OP_MRET, OP_SRET, OP_WFI,
    OP_SFENCE, OP_FLW, OP_FLD, OP_FSW, OP_FSD, OP_FP,
    /* common F/D arithmetic, decoded (imm: rm | neg_prod << 3 | neg_c << 4 | rs3 << 5) */
    OP_FADD_S, OP_FSUB_S, OP_FMUL_S, OP_FDIV_S, OP_FMA_S,
    OP_FADD_D, OP_FSUB_D, OP_FMUL_D, OP_FDIV_D, OP_FMA_D,
    OP_FSGNJ_D,  /* imm: funct3 */
    OP_FCVT_D_X, /* fcvt.d.{w,wu,l,lu}; imm: rm | rs2 << 3 */
    OP_FCVT_X_D, /* fcvt.{w,wu,l,lu}.d (writes x[rd]); imm: rm | rs2 << 3 */
    OP_FCMP_D,   /* fle/flt/feq.d (writes x[rd]); imm: funct3 */
    OP_FMV_X_D, OP_FMV_D_X,
    OP_COUNT
};

/* decode raw into *d (d->raw = raw); unknown encodings give OP_ILLEGAL */
void rv_decode(dinsn_t *d, uint32_t raw);

#endif
