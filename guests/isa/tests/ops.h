/* Inline-assembly helpers for instruction tests: run exactly the named
 * instruction on register operands so the compiler cannot fold it. */
#ifndef ISA_OPS_H
#define ISA_OPS_H

#include <stdint.h>

#define RR(op, a, b)                                                                    \
    ({                                                                                  \
        uint64_t r_;                                                                    \
        __asm__ volatile(op " %0, %1, %2" : "=r"(r_) : "r"((uint64_t)(a)), "r"((uint64_t)(b))); \
        r_;                                                                             \
    })
#define RI(op, a, imm)                                                                  \
    ({                                                                                  \
        uint64_t r_;                                                                    \
        __asm__ volatile(op " %0, %1, %2" : "=r"(r_) : "r"((uint64_t)(a)), "i"(imm));   \
        r_;                                                                             \
    })
#define U(op, imm)                                               \
    ({                                                           \
        uint64_t r_;                                             \
        __asm__ volatile(op " %0, %1" : "=r"(r_) : "i"(imm));    \
        r_;                                                      \
    })

#endif
