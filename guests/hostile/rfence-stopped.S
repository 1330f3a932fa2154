/* S-mode, direct boot with 2 harts: hart 1 is never started (HSM STOPPED), so
 * it never runs a slice and never applies a remote fence. Hart 0 asks for one
 * fence after another on it, alternating remote_fence_i and
 * remote_sfence_vma of one page at a moving address. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    li      s0, 0x52464E43          /* EID RFENCE */
    li      s1, 0x1000              /* moving start address */
loop:
    li      a0, 2                   /* hart_mask: hart 1 */
    li      a1, 0                   /* hart_mask_base */
    li      a6, 0                   /* FID remote_fence_i */
    mv      a7, s0
    ecall
    li      a0, 2
    li      a1, 0
    mv      a2, s1                  /* start */
    li      a3, 0x1000              /* size: one page */
    li      a6, 1                   /* FID remote_sfence_vma */
    mv      a7, s0
    ecall
    li      t0, 0x1000
    add     s1, s1, t0
    j       loop
