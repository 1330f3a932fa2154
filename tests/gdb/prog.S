/* A bare-metal guest for the gdb tests: counter = a0 + 1 (a0 = 5), then it exits
 * through HTIF with counter + magic (1): 7 when nobody interferes. `spin` loops
 * forever, counting in `ticks` (for tests that need a guest that keeps running). */
.option norvc
.globl _start, work, poke, mmio, spin
.text
_start:
    la t0, counter
    la t3, spinning
    ld t3, 0(t3)
    bnez t3, spin
    li a0, 5
work:
    addi a0, a0, 1
    sd a0, 0(t0)
poke:
    ld a1, 0(t0)
    la t2, magic
    ld a2, 0(t2)
    add a3, a1, a2
    slli a3, a3, 1
    ori a3, a3, 1
    li t4, 0x10000000
mmio:
    sb a3, 7(t4)        /* the UART's scratch register: an MMIO exit */
    lbu t5, 7(t4)
    la t1, tohost
    sd a3, 0(t1)
1:  j 1b

spin:
    la t0, ticks
2:  ld a0, 0(t0)
    addi a0, a0, 1
    sd a0, 0(t0)
    j 2b

.data
.align 3
.globl tohost, fromhost, counter, magic, ticks, spinning
tohost: .dword 0
fromhost: .dword 0
counter: .dword 0
magic: .dword 1
ticks: .dword 0
spinning: .dword SPIN
