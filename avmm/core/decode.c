/*
 * The RV64GC decoder (see decode.h): pure functions of the instruction bits.
 */
#include "decode.h"

static inline int64_t sext(uint64_t v, int bits)
{
    return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

#define RD ((insn >> 7) & 31)
#define RS1 ((insn >> 15) & 31)
#define RS2 ((insn >> 20) & 31)
#define F3 ((insn >> 12) & 7)
#define F7 (insn >> 25)
#define IMM_B                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 19) | ((insn & 0x80) << 4) |     \
                ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e)))
#define IMM_J                                                                                \
    ((uint64_t)(((int64_t)(int32_t)(insn & 0x80000000u) >> 11) | (insn & 0xff000) |          \
                ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe)))
#define IMM_S ((uint64_t)(((int64_t)(int32_t)(insn & 0xfe000000u) >> 20) | ((insn >> 7) & 0x1f)))

static void set(dinsn_t *d, int op, unsigned rd, unsigned rs1, unsigned rs2, int64_t imm)
{
    d->op = (uint8_t)op;
    d->rd = (uint8_t)rd;
    d->rs1 = (uint8_t)rs1;
    d->rs2 = (uint8_t)rs2;
    d->imm = (int32_t)imm;
}

static void decode_c(dinsn_t *d, uint32_t c)
{
    unsigned rd = (c >> 7) & 31, rs2 = (c >> 2) & 31;
    unsigned rdp = 8 + ((c >> 2) & 7), rs1p = 8 + ((c >> 7) & 7);
    int64_t ci = sext(((c >> 7) & 0x20) | ((c >> 2) & 0x1f), 6);
    unsigned cu = ((c >> 7) & 0x20) | ((c >> 2) & 0x1f);
    uint64_t lw = ((c >> 7) & 0x38) | ((c >> 4) & 4) | ((c << 1) & 0x40);
    uint64_t ld = ((c >> 7) & 0x38) | ((c << 1) & 0xc0);
    switch (((c & 3) << 3) | (c >> 13)) {
    case 0x00: { /* C.ADDI4SPN; zero is reserved (and covers the all-zero word) */
        uint64_t imm = ((c >> 7) & 0x30) | ((c >> 1) & 0x3c0) | ((c >> 4) & 0x4) |
                       ((c >> 2) & 0x8);
        if (imm)
            set(d, OP_ADDI, rdp, 2, 0, (int64_t)imm);
        return;
    }
    case 0x01: set(d, OP_FLD, rdp, rs1p, 0, (int64_t)ld); return;
    case 0x02: set(d, OP_LW, rdp, rs1p, 0, (int64_t)lw); return;
    case 0x03: set(d, OP_LD, rdp, rs1p, 0, (int64_t)ld); return;
    case 0x05: set(d, OP_FSD, 0, rs1p, rdp, (int64_t)ld); return;
    case 0x06: set(d, OP_SW, 0, rs1p, rdp, (int64_t)lw); return;
    case 0x07: set(d, OP_SD, 0, rs1p, rdp, (int64_t)ld); return;
    case 0x08: set(d, OP_ADDI, rd, rd, 0, ci); return; /* C.ADDI, C.NOP */
    case 0x09:
        if (rd)
            set(d, OP_ADDIW, rd, rd, 0, ci);
        return;
    case 0x0a: set(d, OP_ADDI, rd, 0, 0, ci); return; /* C.LI */
    case 0x0b:
        if (rd == 2) { /* C.ADDI16SP */
            uint64_t v = ((c >> 3) & 0x200) | ((c >> 2) & 0x10) | ((c << 1) & 0x40) |
                         ((c << 4) & 0x180) | ((c << 3) & 0x20);
            if (v)
                set(d, OP_ADDI, 2, 2, 0, sext(v, 10));
        } else if (cu) { /* C.LUI */
            set(d, OP_LUI, rd, 0, 0, ci * 4096);
        }
        return;
    case 0x0c:
        switch ((c >> 10) & 3) {
        case 0: set(d, OP_SRLI, rs1p, rs1p, 0, cu); return;
        case 1: set(d, OP_SRAI, rs1p, rs1p, 0, cu); return;
        case 2: set(d, OP_ANDI, rs1p, rs1p, 0, ci); return;
        default: {
            static const int ops[8] = {OP_SUB, OP_XOR, OP_OR, OP_AND, OP_SUBW, OP_ADDW,
                                       OP_ILLEGAL, OP_ILLEGAL};
            int op = ops[((c >> 10) & 4) | ((c >> 5) & 3)];
            if (op != OP_ILLEGAL)
                set(d, op, rs1p, rs1p, rdp, 0);
            return;
        }
        }
    case 0x0d: /* C.J */
        set(d, OP_JAL, 0, 0, 0,
            sext(((c >> 1) & 0x800) | ((c >> 7) & 0x10) | ((c >> 1) & 0x300) |
                     ((c << 2) & 0x400) | ((c >> 1) & 0x40) | ((c << 1) & 0x80) |
                     ((c >> 2) & 0xe) | ((c << 3) & 0x20),
                 12));
        return;
    case 0x0e: /* C.BEQZ */
    case 0x0f: /* C.BNEZ */
        set(d, (c & 0x2000) ? OP_BNE : OP_BEQ, 0, rs1p, 0,
            sext(((c >> 4) & 0x100) | ((c >> 7) & 0x18) | ((c << 1) & 0xc0) | ((c >> 2) & 6) |
                     ((c << 3) & 0x20),
                 9));
        return;
    case 0x10: set(d, OP_SLLI, rd, rd, 0, cu); return;
    case 0x11: /* C.FLDSP */
        set(d, OP_FLD, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x18) | ((c << 4) & 0x1c0));
        return;
    case 0x12: /* C.LWSP */
        if (rd)
            set(d, OP_LW, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x1c) | ((c << 4) & 0xc0));
        return;
    case 0x13: /* C.LDSP */
        if (rd)
            set(d, OP_LD, rd, 2, 0, ((c >> 7) & 0x20) | ((c >> 2) & 0x18) | ((c << 4) & 0x1c0));
        return;
    case 0x14:
        if (!(c & 0x1000)) {
            if (!rs2) { /* C.JR */
                if (rd)
                    set(d, OP_JALR, 0, rd, 0, 0);
            } else { /* C.MV */
                set(d, OP_ADD, rd, 0, rs2, 0);
            }
        } else if (!rs2) {
            if (!rd)
                set(d, OP_EBREAK, 0, 0, 0, 0); /* C.EBREAK */
            else
                set(d, OP_JALR, 1, rd, 0, 0); /* C.JALR */
        } else { /* C.ADD */
            set(d, OP_ADD, rd, rd, rs2, 0);
        }
        return;
    case 0x15: /* C.FSDSP */
        set(d, OP_FSD, 0, 2, rs2, ((c >> 7) & 0x38) | ((c >> 1) & 0x1c0));
        return;
    case 0x16: /* C.SWSP */
        set(d, OP_SW, 0, 2, rs2, ((c >> 7) & 0x3c) | ((c >> 1) & 0xc0));
        return;
    case 0x17: /* C.SDSP */
        set(d, OP_SD, 0, 2, rs2, ((c >> 7) & 0x38) | ((c >> 1) & 0x1c0));
        return;
    default:
        return;
    }
}

static void decode_32(dinsn_t *d, uint32_t insn)
{
    unsigned rd = RD, rs1 = RS1, rs2 = RS2, f3 = F3, f7 = F7;
    int64_t imm_i = (int32_t)insn >> 20;
    switch (insn & 0x7f) {
    case 0x37: set(d, OP_LUI, rd, 0, 0, (int32_t)(insn & 0xfffff000u)); return;
    case 0x17: set(d, OP_AUIPC, rd, 0, 0, (int32_t)(insn & 0xfffff000u)); return;
    case 0x6f: set(d, OP_JAL, rd, 0, 0, (int64_t)IMM_J); return;
    case 0x67:
        if (!f3)
            set(d, OP_JALR, rd, rs1, 0, imm_i);
        return;
    case 0x63: {
        static const int ops[8] = {OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
                                   OP_BLT, OP_BGE, OP_BLTU, OP_BGEU};
        if (ops[f3] != OP_ILLEGAL)
            set(d, ops[f3], 0, rs1, rs2, (int64_t)IMM_B);
        return;
    }
    case 0x03: {
        static const int ops[8] = {OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
                                   OP_ILLEGAL};
        if (ops[f3] != OP_ILLEGAL)
            set(d, ops[f3], rd, rs1, 0, imm_i);
        return;
    }
    case 0x23:
        if (f3 < 4)
            set(d, OP_SB + (int)f3, 0, rs1, rs2, (int64_t)IMM_S);
        return;
    case 0x13: {
        static const int ops[8] = {OP_ADDI, OP_SLLI, OP_SLTI, OP_SLTIU,
                                   OP_XORI, OP_SRLI, OP_ORI, OP_ANDI};
        int op = ops[f3];
        if (f3 == 1 && (insn >> 26))
            return;
        if (f3 == 5) {
            if ((insn >> 26) == 0x10)
                op = OP_SRAI;
            else if (insn >> 26)
                return;
        }
        set(d, op, rd, rs1, 0, (f3 == 1 || f3 == 5) ? (imm_i & 63) : imm_i);
        return;
    }
    case 0x1b:
        if (f3 == 0)
            set(d, OP_ADDIW, rd, rs1, 0, imm_i);
        else if (f3 == 1 && f7 == 0)
            set(d, OP_SLLIW, rd, rs1, 0, rs2);
        else if (f3 == 5 && f7 == 0)
            set(d, OP_SRLIW, rd, rs1, 0, rs2);
        else if (f3 == 5 && f7 == 0x20)
            set(d, OP_SRAIW, rd, rs1, 0, rs2);
        return;
    case 0x33: {
        int op;
        switch ((f7 << 3) | f3) {
        case 0x000: op = OP_ADD; break;
        case 0x100: op = OP_SUB; break;
        case 0x001: op = OP_SLL; break;
        case 0x002: op = OP_SLT; break;
        case 0x003: op = OP_SLTU; break;
        case 0x004: op = OP_XOR; break;
        case 0x005: op = OP_SRL; break;
        case 0x105: op = OP_SRA; break;
        case 0x006: op = OP_OR; break;
        case 0x007: op = OP_AND; break;
        case 0x008: op = OP_MUL; break;
        case 0x009: op = OP_MULH; break;
        case 0x00a: op = OP_MULHSU; break;
        case 0x00b: op = OP_MULHU; break;
        case 0x00c: op = OP_DIV; break;
        case 0x00d: op = OP_DIVU; break;
        case 0x00e: op = OP_REM; break;
        case 0x00f: op = OP_REMU; break;
        default: return;
        }
        set(d, op, rd, rs1, rs2, 0);
        return;
    }
    case 0x3b: {
        int op;
        switch ((f7 << 3) | f3) {
        case 0x000: op = OP_ADDW; break;
        case 0x100: op = OP_SUBW; break;
        case 0x001: op = OP_SLLW; break;
        case 0x005: op = OP_SRLW; break;
        case 0x105: op = OP_SRAW; break;
        case 0x008: op = OP_MULW; break;
        case 0x00c: op = OP_DIVW; break;
        case 0x00d: op = OP_DIVUW; break;
        case 0x00e: op = OP_REMW; break;
        case 0x00f: op = OP_REMUW; break;
        default: return;
        }
        set(d, op, rd, rs1, rs2, 0);
        return;
    }
    case 0x0f:
        if (f3 == 0) /* fence (pause is the fence with pred=W, succ=0) */
            set(d, insn == 0x0100000fu ? OP_PAUSE : OP_FENCE, 0, 0, 0, 0);
        else if (f3 == 1) /* fence.i (the decode cache needs nothing; translations may) */
            set(d, OP_FENCE_I, 0, 0, 0, 0);
        return;
    case 0x2f: set(d, OP_AMO, 0, 0, 0, 0); return; /* validated when executed */
    case 0x73:
        if (f3 == 0) {
            if (rd)
                return;
            if (f7 == 0x09)
                set(d, OP_SFENCE, 0, rs1, rs2, 0);
            else if (insn == 0x00000073u)
                set(d, OP_ECALL, 0, 0, 0, 0);
            else if (insn == 0x00100073u)
                set(d, OP_EBREAK, 0, 0, 0, 0);
            else if (insn == 0x30200073u)
                set(d, OP_MRET, 0, 0, 0, 0);
            else if (insn == 0x10200073u)
                set(d, OP_SRET, 0, 0, 0, 0);
            else if (insn == 0x10500073u)
                set(d, OP_WFI, 0, 0, 0, 0);
        } else if (f3 != 4) {
            set(d, OP_CSR, 0, 0, 0, 0);
        }
        return;
    case 0x07:
        if (f3 == 2 || f3 == 3)
            set(d, f3 == 2 ? OP_FLW : OP_FLD, rd, rs1, 0, imm_i);
        return;
    case 0x27:
        if (f3 == 2 || f3 == 3)
            set(d, f3 == 2 ? OP_FSW : OP_FSD, 0, rs1, rs2, (int64_t)IMM_S);
        return;
    case 0x43: case 0x47: case 0x4b: case 0x4f: { /* fused multiply-add */
        unsigned fmt = (insn >> 25) & 3, op = insn & 0x7f;
        set(d, OP_FP, 0, 0, 0, 0);
        if (fmt < 2 && f3 != 5 && f3 != 6)
            set(d, fmt ? OP_FMA_D : OP_FMA_S, rd, rs1, rs2,
                f3 | ((op == 0x4b || op == 0x4f) << 3) | ((op == 0x47 || op == 0x4f) << 4) |
                    ((insn >> 27) << 5));
        return;
    }
    case 0x53:
        set(d, OP_FP, 0, 0, 0, 0);
        if (f7 <= 0x0d && f3 != 5 && f3 != 6) { /* fadd/fsub/fmul/fdiv .s/.d */
            static const int ops[2][4] = {{OP_FADD_S, OP_FSUB_S, OP_FMUL_S, OP_FDIV_S},
                                          {OP_FADD_D, OP_FSUB_D, OP_FMUL_D, OP_FDIV_D}};
            if ((f7 & 3) < 2)
                set(d, ops[f7 & 1][f7 >> 2], rd, rs1, rs2, f3);
        } else if (f7 == 0x11 && f3 <= 2) {
            set(d, OP_FSGNJ_D, rd, rs1, rs2, f3);
        } else if (f7 == 0x69 && rs2 <= 3 && f3 != 5 && f3 != 6) {
            set(d, OP_FCVT_D_X, rd, rs1, 0, f3 | (rs2 << 3));
        } else if (f7 == 0x61 && rs2 <= 3 && f3 != 5 && f3 != 6) {
            set(d, OP_FCVT_X_D, rd ? rd : 32, rs1, 0, f3 | (rs2 << 3));
        } else if (f7 == 0x51 && f3 <= 2) {
            set(d, OP_FCMP_D, rd ? rd : 32, rs1, rs2, f3);
        } else if (f7 == 0x71 && rs2 == 0 && f3 == 0) {
            set(d, OP_FMV_X_D, rd ? rd : 32, rs1, 0, 0);
        } else if (f7 == 0x79 && rs2 == 0 && f3 == 0) {
            set(d, OP_FMV_D_X, rd, rs1, 0, 0);
        }
        return;
    default:
        return;
    }
}

void rv_decode(dinsn_t *d, uint32_t raw)
{
    set(d, OP_ILLEGAL, 0, 0, 0, 0);
    d->raw = raw;
    if ((raw & 3) != 3) {
        d->len = 2;
        decode_c(d, raw);
    } else {
        d->len = 4;
        decode_32(d, raw);
    }
    if (d->op != OP_ILLEGAL && d->op <= OP_LAST_WX && d->rd == 0)
        d->rd = 32; /* writes to x0 go to the sink */
}

