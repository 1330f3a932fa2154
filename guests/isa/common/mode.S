/* call_in_mode and the S-mode trap entry of the ISA test harness. */
#include "csr.h"
#include "gprs.h"
#include "isa.h"

#define FRAME_SIZE (36 * 8)

    .text
/* uint64_t call_in_mode_sp(priv a0, fn a1, arg a2, sp a3 (0 = keep)) */
    .globl call_in_mode
    .globl call_in_mode_sp
call_in_mode:
    li      a3, 0
call_in_mode_sp:
    addi    sp, sp, -112
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    sd      s3, 32(sp)
    sd      s4, 40(sp)
    sd      s5, 48(sp)
    sd      s6, 56(sp)
    sd      s7, 64(sp)
    sd      s8, 72(sp)
    sd      s9, 80(sp)
    sd      s10, 88(sp)
    sd      s11, 96(sp)
    la      t0, mode_saved_sp
    sd      sp, 0(t0)
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    slli    t1, a0, MSTATUS_MPP_SHIFT
    csrs    mstatus, t1
    /* S may not execute user pages and U only executes them (paging) */
    la      t0, mode_trampoline_s
    beqz    a0, 2f
    csrw    mepc, t0
    j       3f
2:  la      t0, mode_trampoline_u
    csrw    mepc, t0
3:
    mv      t0, a1
    mv      a0, a2
    beqz    a3, 1f
    mv      sp, a3
1:  mret

    /* The M-mode hook resumes here after the lower mode's return ecall,
     * with sp = mode_saved_sp and a0 = fn's result. */
    .globl mode_return
mode_return:
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    ld      s3, 32(sp)
    ld      s4, 40(sp)
    ld      s5, 48(sp)
    ld      s6, 56(sp)
    ld      s7, 64(sp)
    ld      s8, 72(sp)
    ld      s9, 80(sp)
    ld      s10, 88(sp)
    ld      s11, 96(sp)
    addi    sp, sp, 112
    ret

    .section .user.text, "ax", @progbits
mode_trampoline_u:
    jalr    t0
    li      a7, MODE_MAGIC
    ecall
1:  j       1b

    .text
mode_trampoline_s:
    jalr    t0
    li      a7, MODE_MAGIC
    ecall
1:  j       1b

/* One wfi with M interrupts enabled around it. An interrupt taken just
 * before the wfi would leave it waiting for the next one, so the M-mode hook
 * resumes after the wfi when it interrupted the wfi itself (isa.c). */
    .text
    .globl wfi_interruptible
    .globl isa_wfi_site
wfi_interruptible:
    csrsi   mstatus, MSTATUS_MIE
isa_wfi_site:
    wfi
    csrci   mstatus, MSTATUS_MIE
    ret

/* The same without touching mstatus, for S and U (M interrupts are always
 * enabled there). */
    .globl wfi_lower
    .globl isa_wfi_site_lower
wfi_lower:
isa_wfi_site_lower:
    wfi
    ret

    .data
    .balign 8
    .globl mode_saved_sp
mode_saved_sp:
    .dword  0

/* S-mode trap entry: like the runtime's M-mode one, with sscratch holding
 * the S trap stack and sepc/scause/stval/sstatus in the frame. */
    .text
    .balign 64
    .globl s_trap_entry
s_trap_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, .Lnested
    addi    sp, sp, -FRAME_SIZE
    save_gprs
    csrrw   t0, sscratch, zero
    sd      t0, 2*8(sp)
    csrr    t0, sepc
    sd      t0, 32*8(sp)
    csrr    t0, scause
    sd      t0, 33*8(sp)
    csrr    t0, stval
    sd      t0, 34*8(sp)
    csrr    t0, sstatus
    sd      t0, 35*8(sp)
    mv      a0, sp
    call    s_trap_dispatch
    ld      t0, 32*8(sp)
    csrw    sepc, t0
    ld      t0, 35*8(sp)
    csrw    sstatus, t0
    addi    t0, sp, FRAME_SIZE
    csrw    sscratch, t0
    restore_gprs
    ld      sp, 2*8(sp)
    sret

.Lnested:
    csrrw   sp, sscratch, sp
    csrr    a0, scause
    csrr    a1, sepc
    call    s_trap_nested
1:  j       1b
