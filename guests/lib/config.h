/* Build-time sizes of the runtime; override with -D when building a guest. */
#ifndef AVMM_GUEST_CONFIG_H
#define AVMM_GUEST_CONFIG_H

#ifndef GUEST_MAX_HARTS
#define GUEST_MAX_HARTS 8 /* harts with a larger id park in wfi at entry */
#endif
#ifndef GUEST_STACK_SIZE
#define GUEST_STACK_SIZE 0x4000 /* per hart */
#endif
#ifndef GUEST_TRAP_STACK_SIZE
#define GUEST_TRAP_STACK_SIZE 0x1000 /* per hart, used by trap_entry */
#endif

#endif
