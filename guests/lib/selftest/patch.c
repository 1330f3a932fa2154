/* Runtime self-test: prints a 64-bit variable the host may patch. */
#include <stdio.h>

volatile unsigned long long patched_value = 5;

int main(void) {
    printf("value=%llu\n", patched_value);
    return 0;
}
