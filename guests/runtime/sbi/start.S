/* Entry of a direct-boot S-mode guest: the boot hart arrives at _start with
 * a0 = hartid, a1 = DTB; harts started through SBI HSM arrive at _secondary
 * with a0 = hartid, a1 = opaque. Each gets a 16 KiB stack, then C. The
 * S-mode trap entry saves the caller-saved registers around trap_c(). */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, stacks
    addi    t0, a0, 1
    slli    t0, t0, 14
    add     sp, sp, t0
    la      t0, trap_entry
    csrw    stvec, t0
    call    boot_main
1:  wfi
    j       1b

    .globl _secondary
_secondary:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, stacks
    addi    t0, a0, 1
    slli    t0, t0, 14
    add     sp, sp, t0
    la      t0, trap_entry
    csrw    stvec, t0
    call    secondary_main
1:  wfi
    j       1b

    .balign 4
trap_entry:
    addi    sp, sp, -128
    sd      ra, 0(sp)
    sd      t0, 8(sp)
    sd      t1, 16(sp)
    sd      t2, 24(sp)
    sd      a0, 32(sp)
    sd      a1, 40(sp)
    sd      a2, 48(sp)
    sd      a3, 56(sp)
    sd      a4, 64(sp)
    sd      a5, 72(sp)
    sd      a6, 80(sp)
    sd      a7, 88(sp)
    sd      t3, 96(sp)
    sd      t4, 104(sp)
    sd      t5, 112(sp)
    sd      t6, 120(sp)
    csrr    a0, scause
    csrr    a1, sepc
    call    trap_c
    ld      ra, 0(sp)
    ld      t0, 8(sp)
    ld      t1, 16(sp)
    ld      t2, 24(sp)
    ld      a0, 32(sp)
    ld      a1, 40(sp)
    ld      a2, 48(sp)
    ld      a3, 56(sp)
    ld      a4, 64(sp)
    ld      a5, 72(sp)
    ld      a6, 80(sp)
    ld      a7, 88(sp)
    ld      t3, 96(sp)
    ld      t4, 104(sp)
    ld      t5, 112(sp)
    ld      t6, 120(sp)
    addi    sp, sp, 128
    sret

    .section .bss
    .balign 16
stacks:
    .space  8 * 16384
