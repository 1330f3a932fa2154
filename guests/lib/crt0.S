/* Entry of every hart (M-mode): stacks, mtvec, FP, TLS, then main or
 * secondary_main. Also the M-mode trap entry. See guest.h. */
#include "config.h"
#include "csr.h"
#include "gprs.h"

#define FRAME_SIZE (36 * 8)
#define F_EPC (32 * 8)
#define F_CAUSE (33 * 8)
#define F_TVAL (34 * 8)
#define F_STATUS (35 * 8)

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    csrr    a0, mhartid
    li      t0, GUEST_MAX_HARTS
    bgeu    a0, t0, .Lpark              /* no stack for this hart */

    /* sp = top of this hart's stack; mscratch = top of its trap stack */
    la      sp, __stacks_start
    li      t0, GUEST_STACK_SIZE
    addi    t1, a0, 1
    mul     t1, t1, t0
    add     sp, sp, t1
    la      t2, __trap_stacks_start
    li      t0, GUEST_TRAP_STACK_SIZE
    addi    t1, a0, 1
    mul     t1, t1, t0
    add     t2, t2, t1
    addi    t2, t2, -16                 /* top slot: this hart's tp */
    csrw    mscratch, t2

    la      t0, trap_entry
    csrw    mtvec, t0
    csrw    mie, zero
    li      t0, MSTATUS_FS_INITIAL
    csrs    mstatus, t0
    csrw    fcsr, zero

    bnez    a0, .Lsecondary

    /* hart 0: clear .bss, then tell the others they may go on */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  li      a0, 0
    call    __guest_hart_init
    csrr    t0, mscratch
    sd      tp, 0(t0)                   /* for trap_entry */
    fence   rw, rw
    la      t0, __guest_boot_done
    li      t1, 1
    sw      t1, 0(t0)
    call    __guest_start_main         /* never returns */

.Lsecondary:
    la      t0, __guest_boot_done
1:  lw      t1, 0(t0)
    beqz    t1, 1b
    fence   rw, rw
    mv      s0, a0
    call    __guest_hart_init
    csrr    t0, mscratch
    sd      tp, 0(t0)                   /* for trap_entry */
    mv      a0, s0
    call    secondary_main
.Lpark:
    csrw    mie, zero
1:  wfi
    j       1b

    .section .data
    .balign 4
    /* In .data, not .bss: secondaries poll it while hart 0 clears .bss. */
__guest_boot_done:
    .word   0

    /* Stacks live outside .bss: hart 0 clears .bss while the others run. */
    .section .stacks, "aw", @nobits
    .balign 16
__stacks_start:
    .space  GUEST_MAX_HARTS * GUEST_STACK_SIZE
__trap_stacks_start:
    .space  GUEST_MAX_HARTS * GUEST_TRAP_STACK_SIZE

/* M-mode trap entry: swap to the trap stack (mscratch, whose top slot holds
 * the hart's tp), save the integer registers and mepc/mcause/mtval/mstatus,
 * reload gp and tp, call trap_dispatch(frame),
 * restore (with mepc and mstatus from the frame) and mret. A trap taken
 * while the handler runs (mscratch = 0) is reported as nested. */
    .text
    .balign 64
    .globl trap_entry
trap_entry:
    csrrw   sp, mscratch, sp
    beqz    sp, .Lnested
    addi    sp, sp, -FRAME_SIZE
    save_gprs
    csrrw   t0, mscratch, zero          /* interrupted sp; 0 marks "in handler" */
    sd      t0, 2*8(sp)
    sd      zero, 0(sp)
    csrr    t0, mepc
    sd      t0, F_EPC(sp)
    csrr    t0, mcause
    sd      t0, F_CAUSE(sp)
    csrr    t0, mtval
    sd      t0, F_TVAL(sp)
    csrr    t0, mstatus
    sd      t0, F_STATUS(sp)
    /* the interrupted code may have used gp and tp for anything */
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    ld      tp, FRAME_SIZE(sp)
    mv      a0, sp
    call    trap_dispatch
    ld      t0, F_EPC(sp)
    csrw    mepc, t0
    ld      t0, F_STATUS(sp)
    csrw    mstatus, t0
    addi    t0, sp, FRAME_SIZE
    csrw    mscratch, t0
    restore_gprs
    ld      sp, 2*8(sp)
    mret

.Lnested:
    csrrw   sp, mscratch, sp            /* back on the handler's stack */
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    trap_nested                 /* reports and exits */
1:  j       1b
