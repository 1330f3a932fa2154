/* A firmware call that publishes state in two steps, like OpenSBI 1.1's HSM
 * hart_start, and a hart that polls for the first step and reads the second.
 *
 * Hart 0 drops to S-mode, counts down COUNT iterations and calls into M-mode
 * with ecall; the M-mode handler sets flag_a, runs PAD iterations, sets flag_b
 * and returns. Hart 1 polls flag_a in M-mode, then reports flag_b through HTIF:
 * exit code 0 when it saw both steps, 1 when it saw the first step alone. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    csrr    a0, mhartid
    bnez    a0, watcher
    la      t0, m_handler
    csrw    mtvec, t0
    la      t0, s_code
    csrw    mepc, t0
    li      t0, 1 << 11             /* MPP = S */
    csrs    mstatus, t0
    mret

s_code:
    li      t1, COUNT
1:  addi    t1, t1, -1
    bnez    t1, 1b
    ecall
2:  j       2b

    .balign 4
m_handler:
    li      t0, 1
    la      t1, flag_a
    sd      t0, 0(t1)
    li      t2, PAD
3:  addi    t2, t2, -1
    bnez    t2, 3b
    la      t1, flag_b
    sd      t0, 0(t1)
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    mret

watcher:
    la      t1, flag_a
4:  ld      t0, 0(t1)
    beqz    t0, 4b
    la      t1, flag_b
    ld      t2, 0(t1)
    seqz    t2, t2                  /* 1 when flag_b was not set yet */
    slli    t2, t2, 1
    ori     t2, t2, 1
    la      t1, tohost
    sd      t2, 0(t1)
5:  j       5b

    .data
    .balign 8
flag_a: .dword 0
flag_b: .dword 0
    .section .htif, "aw", @progbits
    .balign 4096
    .globl tohost
tohost: .dword 0
    .globl fromhost
fromhost: .dword 0
