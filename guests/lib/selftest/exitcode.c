/* Runtime self-test: exit() with the code in EXIT_CODE ends the run. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("exiting with %d\n", EXIT_CODE);
    exit(EXIT_CODE);
}
