/* Runtime self-test: waits for an interrupt that can never come. */
#include "guest.h"

int main(void) {
    csr_write(mie, 0);
    for (;;)
        wfi();
}
