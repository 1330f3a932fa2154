/* CSR access and the privileged-architecture constants bare-metal guests use.
 *
 * csr_read(mstatus), csr_write(0x7c0, v) ...: the name is pasted into the
 * instruction, so both assembler names and numbers work. */
#ifndef AVMM_GUEST_CSR_H
#define AVMM_GUEST_CSR_H

#define CSR_STR_(x) #x
#define CSR_STR(x) CSR_STR_(x)

#ifndef __ASSEMBLER__
#include <stdint.h>

#define csr_read(csr)                                                   \
    ({                                                                  \
        uint64_t v_;                                                    \
        __asm__ volatile("csrr %0, " CSR_STR(csr) : "=r"(v_)::"memory"); \
        v_;                                                             \
    })
#define csr_write(csr, val)                                                        \
    ({ __asm__ volatile("csrw " CSR_STR(csr) ", %0" ::"rK"((uint64_t)(val)) : "memory"); })
#define csr_swap(csr, val)                                                          \
    ({                                                                              \
        uint64_t v_;                                                                \
        __asm__ volatile("csrrw %0, " CSR_STR(csr) ", %1"                           \
                         : "=r"(v_)                                                 \
                         : "rK"((uint64_t)(val))                                    \
                         : "memory");                                               \
        v_;                                                                         \
    })
/* Set / clear bits; both return the old value. */
#define csr_set(csr, bits)                                                          \
    ({                                                                              \
        uint64_t v_;                                                                \
        __asm__ volatile("csrrs %0, " CSR_STR(csr) ", %1"                           \
                         : "=r"(v_)                                                 \
                         : "rK"((uint64_t)(bits))                                   \
                         : "memory");                                               \
        v_;                                                                         \
    })
#define csr_clear(csr, bits)                                                        \
    ({                                                                              \
        uint64_t v_;                                                                \
        __asm__ volatile("csrrc %0, " CSR_STR(csr) ", %1"                           \
                         : "=r"(v_)                                                 \
                         : "rK"((uint64_t)(bits))                                   \
                         : "memory");                                               \
        v_;                                                                         \
    })

static inline uint64_t read_hartid(void) { return csr_read(mhartid); }
#define BIT(n) (1ULL << (n))
#else
#define BIT(n) (1 << (n))
#endif

/* mstatus / sstatus */
#define MSTATUS_SIE BIT(1)
#define MSTATUS_MIE BIT(3)
#define MSTATUS_SPIE BIT(5)
#define MSTATUS_UBE BIT(6)
#define MSTATUS_MPIE BIT(7)
#define MSTATUS_SPP BIT(8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3 << MSTATUS_MPP_SHIFT)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3 << MSTATUS_FS_SHIFT)
#define MSTATUS_FS_INITIAL (1 << MSTATUS_FS_SHIFT)
#define MSTATUS_FS_CLEAN (2 << MSTATUS_FS_SHIFT)
#define MSTATUS_FS_DIRTY (3 << MSTATUS_FS_SHIFT)
#define MSTATUS_MPRV BIT(17)
#define MSTATUS_SUM BIT(18)
#define MSTATUS_MXR BIT(19)
#define MSTATUS_TVM BIT(20)
#define MSTATUS_TW BIT(21)
#define MSTATUS_TSR BIT(22)

/* Privilege levels as in mstatus.MPP */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* mip / mie */
#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11
#define MIP_SSIP BIT(IRQ_S_SOFT)
#define MIP_MSIP BIT(IRQ_M_SOFT)
#define MIP_STIP BIT(IRQ_S_TIMER)
#define MIP_MTIP BIT(IRQ_M_TIMER)
#define MIP_SEIP BIT(IRQ_S_EXT)
#define MIP_MEIP BIT(IRQ_M_EXT)

/* mcause exception codes */
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15
#ifdef __ASSEMBLER__
#define CAUSE_INTERRUPT (1 << 63)
#else
#define CAUSE_INTERRUPT (1ULL << 63)
#endif

/* satp */
#define SATP_MODE_SHIFT 60
#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9

/* Page-table entry bits */
#define PTE_V BIT(0)
#define PTE_R BIT(1)
#define PTE_W BIT(2)
#define PTE_X BIT(3)
#define PTE_U BIT(4)
#define PTE_G BIT(5)
#define PTE_A BIT(6)
#define PTE_D BIT(7)
#define PTE_PPN_SHIFT 10

/* fcsr */
#define FFLAG_NX BIT(0)
#define FFLAG_UF BIT(1)
#define FFLAG_OF BIT(2)
#define FFLAG_DZ BIT(3)
#define FFLAG_NV BIT(4)
#define FRM_RNE 0
#define FRM_RTZ 1
#define FRM_RDN 2
#define FRM_RUP 3
#define FRM_RMM 4
#define FRM_DYN 7

#endif
