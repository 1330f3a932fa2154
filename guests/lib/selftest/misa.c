/* Runtime self-test: print misa, to compare the ISA QEMU models (with the
 * CPU options of guests/lib/qemu.py) with avmm's. */
#include <stdio.h>

#include "guest.h"

int main(void) {
    uint64_t misa = csr_read(misa);
    printf("misa %016llx\n", (unsigned long long)misa);
    return 0;
}
