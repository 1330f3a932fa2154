/* Saving and restoring the general-purpose registers of a trap frame (assembly only).
 *
 * Register xN lives at N*8(sp); x2 (sp itself) is saved and restored by the trap
 * entry's own sequence, since it switches stacks around these. */
#ifndef GUEST_GPRS_H
#define GUEST_GPRS_H
#ifdef __ASSEMBLER__

.macro save_gprs
    sd      x1, 1*8(sp)
    .irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd      x\n, \n*8(sp)
    .endr
.endm

.macro restore_gprs
    ld      x1, 1*8(sp)
    .irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld      x\n, \n*8(sp)
    .endr
.endm

#endif
#endif
