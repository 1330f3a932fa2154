/* M-mode with HTIF: tohost requests to device 2 (no such HTIF device), each
 * with a different payload, forever. Every one is a guest error; distinct
 * requests must not each open a new rate-limit window or log line. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la      t0, tohost
    li      t1, 2
    slli    t1, t1, 56              /* device 2, command 0 */
    li      t2, 0
1:  addi    t2, t2, 1
    or      t3, t1, t2
    sd      t3, 0(t0)
    j       1b

    .section .htif, "aw", @progbits
    .balign 64
    .globl tohost
tohost: .dword 0
    .balign 64
    .globl fromhost
fromhost: .dword 0
