/* virtio-blk: drives the first virtio-blk device of the board through the
 * PLIC. Reads the disk's id and capacity, writes WRITE_SECTORS sectors from
 * FIRST_SECTOR with a known pattern, flushes, reads them back and compares,
 * and checks that a read past the end fails with IOERR. Exit code 0 when all
 * of that holds. */
#include <stdio.h>
#include <string.h>

#include "blk.h"
#include "demo.h"

#define FIRST_SECTOR 16
#define WRITE_SECTORS 32
#define PER_REQUEST 8
#define WAIT (2 * CLINT_TIMEBASE_HZ)

static struct vdev dev;
static struct blk_header header;
static volatile uint8_t status;
static uint8_t data[PER_REQUEST * SECTOR] __attribute__((aligned(64)));
static uint8_t readback[WRITE_SECTORS * SECTOR] __attribute__((aligned(64)));

/* One request: header, optional data, status. Returns the status byte, or -1
 * when the device did not answer (timeout or needs-reset). */
static int request(uint32_t type, uint64_t sector, void *buf, uint32_t len) {
    header.type = type;
    header.reserved = 0;
    header.sector = sector;
    status = 0xff;
    struct virtq_desc *d = dev.desc;
    d[0] = (struct virtq_desc){(uintptr_t)&header, sizeof header, VIRTQ_DESC_F_NEXT, 1};
    uint16_t last = 1;
    if (len) {
        uint16_t flags = VIRTQ_DESC_F_NEXT | (type == BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE);
        d[1] = (struct virtq_desc){(uintptr_t)buf, len, flags, 2};
        last = 2;
    }
    d[last] = (struct virtq_desc){(uintptr_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
    virtio_submit(&dev, 0);
    if (virtio_wait(&dev, WAIT) == NULL)
        return -1;
    return status;
}

int main(void) {
    if (virtio_find(VIRTIO_ID_BLOCK, &dev) != 0) {
        printf("virtio-blk: FAIL no virtio-blk device on the board\n");
        return 2;
    }
    printf("virtio-blk: device in slot %u at %#lx, irq %u\n", dev.slot, (unsigned long)dev.base,
           dev.irq);
    int err = virtio_setup(&dev);
    if (err) {
        printf("virtio-blk: FAIL setup step %d\n", -err);
        return 3;
    }
    uint64_t capacity = (uint64_t)vread(&dev, VIRTIO_CONFIG) |
                        (uint64_t)vread(&dev, VIRTIO_CONFIG + 4) << 32;
    char id[21] = {0};
    int st = request(BLK_T_GET_ID, 0, id, 20);
    printf("virtio-blk: %lu sectors (%lu KiB), id \"%s\" (status %d)\n", (unsigned long)capacity,
           (unsigned long)(capacity / 2), st == BLK_S_OK ? id : "", st);
    if (capacity < FIRST_SECTOR + WRITE_SECTORS + 1) {
        printf("virtio-blk: FAIL the disk is too small\n");
        return 4;
    }
    uint64_t t0 = clint_mtime();
    for (unsigned r = 0; r < WRITE_SECTORS / PER_REQUEST; r++) {
        uint64_t sector = FIRST_SECTOR + r * PER_REQUEST;
        for (unsigned i = 0; i < sizeof data; i++)
            data[i] = blk_pattern(sector + i / SECTOR, i % SECTOR);
        st = request(BLK_T_OUT, sector, data, sizeof data);
        if (st != BLK_S_OK) {
            printf("virtio-blk: FAIL write of sectors %lu+%u: status %d\n", (unsigned long)sector,
                   PER_REQUEST, st);
            return 5;
        }
    }
    st = request(BLK_T_FLUSH, 0, NULL, 0);
    printf("virtio-blk: wrote sectors %u..%u in %u requests, flush status %d\n", FIRST_SECTOR,
           FIRST_SECTOR + WRITE_SECTORS - 1, WRITE_SECTORS / PER_REQUEST, st);
    if (st != BLK_S_OK)
        return 6;
    memset(readback, 0, sizeof readback);
    st = request(BLK_T_IN, FIRST_SECTOR, readback, sizeof readback);
    if (st != BLK_S_OK) {
        printf("virtio-blk: FAIL read back: status %d\n", st);
        return 7;
    }
    unsigned bad = 0;
    for (unsigned i = 0; i < sizeof readback; i++)
        bad += readback[i] != blk_pattern(FIRST_SECTOR + i / SECTOR, i % SECTOR);
    printf("virtio-blk: read %u sectors back in one request: %u bytes differ\n", WRITE_SECTORS,
           bad);
    st = request(BLK_T_IN, capacity, data, SECTOR);
    printf("virtio-blk: reading sector %lu (past the end): status %d (%s)\n",
           (unsigned long)capacity, st, st == BLK_S_IOERR ? "IOERR, as it should" : "wrong");
    unsigned long ms10 = (unsigned long)((clint_mtime() - t0) / 1000);
    printf("virtio-blk: %u interrupts, %lu.%lu ms\n", (unsigned)dev.interrupts, ms10 / 10,
           ms10 % 10);
    virtio_reset(&dev);
    if (bad || st != BLK_S_IOERR) {
        printf("virtio-blk: FAIL\n");
        return 8;
    }
    printf("virtio-blk: PASS\n");
    return 0;
}
