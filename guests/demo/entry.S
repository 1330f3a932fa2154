/* Entry of the demo guests: remember the device tree pointer (a1, as QEMU's
 * virt and avmm's board pass it to every hart), then enter the runtime's
 * _start, which does not keep a1. Linked with --entry=demo_entry. */
    .section .text.init, "ax", @progbits
    .globl demo_entry
demo_entry:
    .option push
    .option norelax
    lla     t0, demo_dtb
    .option pop
    sd      a1, 0(t0)
    j       _start

    /* .data, not .bss: hart 0 clears .bss after the other harts wrote it. */
    .section .data
    .balign 8
    .globl demo_dtb
demo_dtb:
    .dword  0
