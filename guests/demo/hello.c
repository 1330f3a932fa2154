/* hello: the smallest demo. Prints a greeting and what the device tree says
 * about the machine, then powers off with exit code 0. */
#include <stdio.h>

#include "fdt.h"
#include "guest.h"

int main(void) {
    printf("Hello from hart %lu of an RV64GC virt board!\n", hartid());
    if (!fdt_valid()) {
        printf("hello: no device tree in a1\n");
        return 0;
    }
    uint32_t len, mem_len;
    const char *model = fdt_prop("/", "model", &len);
    const char *isa = fdt_prop("/cpus/cpu@0", "riscv,isa", &len);
    const void *mem = fdt_prop("/memory@80000000", "reg", &mem_len);
    const char *args = fdt_prop("/chosen", "bootargs", &len);
    printf("hello: model \"%s\", %u hart(s), isa %s\n", model ? model : "?", fdt_harts(1),
           isa ? isa : "?");
    if (mem && mem_len == 16)
        printf("hello: %lu MiB of RAM at %#lx\n", (unsigned long)(fdt_u64((const char *)mem + 8) >> 20),
               (unsigned long)fdt_u64(mem));
    if (args)
        printf("hello: bootargs \"%s\"\n", args);
    printf("hello: mtime is %lu ticks; bye\n", (unsigned long)clint_mtime());
    return 0;
}
