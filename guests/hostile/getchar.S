/* S-mode, direct boot: one SBI legacy console_getchar (EID 2), which attaches
 * the VMM's console input, then a spin that never reads again. Whatever the
 * host types (or a TCP peer sends) after that waits in the VMM for a read
 * that never comes. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    li      a7, 2                   /* legacy console_getchar */
    ecall
1:  j       1b
