/* RV64C: every compressed instruction of RV64GC (c.jal, c.flw and c.fsw
 * are RV32-only), each checked for its result, with extreme immediates and
 * offsets; the all-zero parcel is an illegal instruction. */
#include "csr.h"

/* Compare reg with a constant; on mismatch isa_c_fail(line, got, want). */
.macro check_r reg, val, line
    li      t6, \val
    beq     \reg, t6, .Lok\@
    mv      a1, \reg
    mv      a2, t6
    li      a0, \line
    j       isa_c_fail
.Lok\@:
.endm
#define CHECKR(reg, val) check_r reg, val, __LINE__

/* Compare two registers. */
.macro check_rr reg, want, line
    beq     \reg, \want, .Lok\@
    mv      a1, \reg
    mv      a2, \want
    li      a0, \line
    j       isa_c_fail
.Lok\@:
.endm
#define CHECKRR(reg, want) check_rr reg, want, __LINE__

/* struct trap_info field offsets (isa.h) */
#define TRAP_TAKEN 0
#define TRAP_CAUSE 8
#define TRAP_EPC 24

#define FRAME 528

    .option rvc
    .text
    .globl test_main
test_main:
    addi    sp, sp, -FRAME
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)

    /* --- constants and immediates */
    c.li    a0, -32
    CHECKR(a0, -32)
    c.li    a1, 31
    CHECKR(a1, 31)
    c.lui   a2, 1
    CHECKR(a2, 0x1000)
    c.lui   a2, 0xfffff
    CHECKR(a2, 0xfffffffffffff000)
    c.lui   a3, 0xfffe0
    CHECKR(a3, 0xfffffffffffe0000)
    c.lui   a3, 31
    CHECKR(a3, 0x1f000)
    c.addi  a0, 5
    CHECKR(a0, -27)
    c.addi  a0, -32
    CHECKR(a0, -59)
    li      a4, 0x7fffffff
    c.addiw a4, 1
    CHECKR(a4, 0xffffffff80000000)
    li      a5, 0x1234567880000000
    c.addiw a5, 0                       /* sext.w */
    CHECKR(a5, 0xffffffff80000000)
    c.addiw a5, -1
    CHECKR(a5, 0x7fffffff)
    c.nop

    /* --- stack-pointer arithmetic */
    mv      s0, sp
    c.addi16sp sp, -512
    sub     s1, s0, sp
    CHECKR(s1, 512)
    c.addi16sp sp, 496
    sub     s1, s0, sp
    CHECKR(s1, 16)
    c.addi16sp sp, 16
    sub     s1, s0, sp
    CHECKR(s1, 0)
    c.addi4spn a0, sp, 4
    sub     s1, a0, sp
    CHECKR(s1, 4)
    c.addi4spn a1, sp, 1020
    sub     s1, a1, sp
    CHECKR(s1, 1020)

    /* --- register moves and arithmetic */
    li      a0, 0x123456789
    c.mv    t0, a0
    CHECKR(t0, 0x123456789)
    li      a1, 0x1000
    c.add   t0, a1
    CHECKR(t0, 0x12345678a + 0xfff)
    li      s0, 0x8000000000000000
    c.srli  s0, 63
    CHECKR(s0, 1)
    li      s0, 0x8000000000000000
    c.srai  s0, 63
    CHECKR(s0, 0xffffffffffffffff)
    li      s1, 0xf0
    c.srai  s1, 4
    CHECKR(s1, 0xf)
    li      s1, 0x8000000000000000
    c.srli  s1, 32
    CHECKR(s1, 0x80000000)
    li      a2, 0xffff0000ffff00ff
    c.andi  a2, -16
    CHECKR(a2, 0xffff0000ffff00f0)
    c.andi  a2, 31
    CHECKR(a2, 0x10)
    li      a3, 10
    li      a4, 15
    c.sub   a3, a4
    CHECKR(a3, -5)
    li      a3, 0xff00ff00
    li      a4, 0x0ff00ff0
    c.xor   a3, a4
    CHECKR(a3, 0xf0f0f0f0)
    li      a3, 0xff00ff00
    c.or    a3, a4
    CHECKR(a3, 0xfff0fff0)
    li      a3, 0xff00ff00
    c.and   a3, a4
    CHECKR(a3, 0x0f000f00)
    li      a3, 0x80000000
    li      a4, 1
    c.subw  a3, a4
    CHECKR(a3, 0x7fffffff)
    li      a3, 0
    c.subw  a3, a4
    CHECKR(a3, 0xffffffffffffffff)
    li      a3, 0x7fffffff
    c.addw  a3, a4
    CHECKR(a3, 0xffffffff80000000)
    li      a5, 0x500000000
    c.addw  a5, a4
    CHECKR(a5, 1)
    li      a0, 1
    c.slli  a0, 63
    CHECKR(a0, 0x8000000000000000)
    li      t1, 0x1234
    c.slli  t1, 32
    CHECKR(t1, 0x123400000000)

    /* --- loads and stores relative to a register (x8..x15) */
    la      s0, cdata
    c.lw    a0, 4(s0)
    CHECKR(a0, 0xffffffff88776655)
    c.lw    a0, 0(s0)
    CHECKR(a0, 0x44332211)
    c.ld    a1, 8(s0)
    CHECKR(a1, 0xfedcba9876543210)
    c.lw    a2, 124(s0)
    CHECKR(a2, 0x7c7c7c7c)
    c.ld    a2, 248(s0)
    CHECKR(a2, 0xf8f8f8f8f8f8f8f8)
    c.sw    a1, 16(s0)
    ld      a3, 16(s0)
    CHECKR(a3, 0x0000000076543210)
    c.sd    a1, 24(s0)
    ld      a3, 24(s0)
    CHECKR(a3, 0xfedcba9876543210)
    c.fld   fa0, 8(s0)
    fmv.x.d a4, fa0
    CHECKR(a4, 0xfedcba9876543210)
    c.fsd   fa0, 32(s0)
    ld      a4, 32(s0)
    CHECKR(a4, 0xfedcba9876543210)
    c.fld   fa1, 240(s0)
    fmv.x.d a4, fa1
    CHECKR(a4, 0x3ff0000000000000)
    c.fsd   fa1, 248(s0)
    ld      a4, 248(s0)
    CHECKR(a4, 0x3ff0000000000000)

    /* --- loads and stores relative to sp */
    li      a0, 0x8877665544332211
    c.sdsp  a0, 8(sp)
    c.ldsp  a3, 8(sp)
    CHECKR(a3, 0x8877665544332211)
    c.swsp  a0, 16(sp)
    c.lwsp  a3, 16(sp)
    CHECKR(a3, 0x44332211)
    srli    a0, a0, 32
    c.swsp  a0, 252(sp)
    c.lwsp  t2, 252(sp)
    CHECKR(t2, 0xffffffff88776655)
    li      a1, 0x0102030405060708
    c.sdsp  a1, 504(sp)
    c.ldsp  t2, 504(sp)
    CHECKR(t2, 0x0102030405060708)
    fmv.d.x ft3, a1
    c.fsdsp ft3, 496(sp)
    c.fldsp ft4, 496(sp)
    fmv.x.d t2, ft4
    CHECKR(t2, 0x0102030405060708)
    ld      t2, 496(sp)
    CHECKR(t2, 0x0102030405060708)

    /* --- control transfer */
    li      a0, 0
    c.j     1f
    c.li    a0, 1                       /* skipped */
1:  CHECKR(a0, 0)
    li      a1, 0
    c.beqz  a1, 1f
    c.li    a0, 2                       /* skipped */
1:  CHECKR(a0, 0)
    li      a1, 5
    c.beqz  a1, 1f
    c.li    a0, 3                       /* executed */
1:  CHECKR(a0, 3)
    c.bnez  a1, 1f
    c.li    a0, 4                       /* skipped */
1:  CHECKR(a0, 3)
    li      a1, 0
    c.bnez  a1, 1f
    c.li    a0, 5                       /* executed */
1:  CHECKR(a0, 5)
    la      t0, 1f
    c.jr    t0
    c.li    a0, 6                       /* skipped */
1:  CHECKR(a0, 5)
    la      t0, cfunc
    c.jalr  t0                          /* ra = address of the next parcel */
2:  CHECKR(a0, 42)
    la      t1, 2b
    CHECKRR(ra, t1)
    la      t0, cfunc
    mv      a0, zero
    c.jalr  t0
    CHECKR(a0, 42)

    /* --- c.ebreak traps with mepc at the c.ebreak */
    call    m_expect
    la      s0, m_trap
3:  c.ebreak
    ld      a0, TRAP_TAKEN(s0)
    CHECKR(a0, 1)
    ld      a0, TRAP_CAUSE(s0)
    CHECKR(a0, CAUSE_BREAKPOINT)
    ld      a0, TRAP_EPC(s0)
    la      t1, 3b
    CHECKRR(a0, t1)

    /* --- the all-zero parcel is illegal */
    call    m_expect
    la      s0, m_trap
3:  .2byte  0
    ld      a0, TRAP_TAKEN(s0)
    CHECKR(a0, 1)
    ld      a0, TRAP_CAUSE(s0)
    CHECKR(a0, CAUSE_ILLEGAL_INSTRUCTION)
    ld      a0, TRAP_EPC(s0)
    la      t1, 3b
    CHECKRR(a0, t1)

    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    addi    sp, sp, FRAME
    ret

cfunc:
    c.li    a0, 31
    c.addi  a0, 11
    c.jr    ra

    .data
    .balign 8
cdata:
    .dword  0x8877665544332211
    .dword  0xfedcba9876543210
    .fill   13, 8, 0                    /* +16 */
    .dword  0x7c7c7c7c7c7c7c7c          /* +120 */
    .fill   14, 8, 0                    /* +128 */
    .dword  0x3ff0000000000000          /* +240 */
    .dword  0xf8f8f8f8f8f8f8f8          /* +248 */
