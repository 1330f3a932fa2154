/* Runtime self-test: printf through the console, .bss cleared, .data and
 * thread-local data initialised, malloc, exit code from main. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

static int zeroed[64];
static int initialised = 42;
static __thread int per_hart = 7;

int main(void) {
    for (unsigned i = 0; i < sizeof zeroed / sizeof *zeroed; i++)
        if (zeroed[i] != 0)
            return 2;
    if (initialised != 42 || per_hart != 7)
        return 3;
    char *buf = malloc(1000);
    if (buf == NULL)
        return 4;
    strcpy(buf, "heap");
    errno = 0;
    printf("hello from hart %lu: %s %d %x %s\n", (unsigned long)read_hartid(), "printf", -12,
           0xbeefu, buf);
    free(buf);
    return 0;
}
