/* virtio-hostile: a guest that feeds the first virtio-blk device broken
 * requests: descriptors outside RAM, a descriptor loop, a head index out of
 * range, an avail index far ahead, a read-only status byte, an impossible
 * length, an indirect table it never negotiated. Every one of them is a write
 * of 0xee bytes to sector 0, so a request that slipped through would show in
 * the disk image. After each, the device must refuse (an error status or
 * DEVICE_NEEDS_RESET) and work again after a reset; at the end a legitimate
 * read of sector 0 prints its first bytes. Exit code 0 when no broken request
 * completed with OK and the device still works. */
#include <stdio.h>
#include <string.h>

#include "blk.h"
#include "demo.h"

#define WAIT (CLINT_TIMEBASE_HZ / 2)
#define FAR_AWAY 0x200000000ULL /* 8 GiB: no RAM or device there on either board */
#define VIRTQ_DESC_F_INDIRECT 4

static struct vdev dev;
static struct blk_header header;
static volatile uint8_t status;
static uint8_t data[SECTOR] __attribute__((aligned(64)));

static void fill_write(void) {
    header = (struct blk_header){BLK_T_OUT, 0, 0};
    memset(data, 0xee, sizeof data);
    status = 0xff;
    struct virtq_desc *d = dev.desc;
    d[0] = (struct virtq_desc){(uintptr_t)&header, sizeof header, VIRTQ_DESC_F_NEXT, 1};
    d[1] = (struct virtq_desc){(uintptr_t)data, sizeof data, VIRTQ_DESC_F_NEXT, 2};
    d[2] = (struct virtq_desc){(uintptr_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
}

static void data_outside_ram(void) { dev.desc[1].addr = FAR_AWAY; }
static void descriptor_loop(void) { dev.desc[1].next = 0; }
static void huge_length(void) { dev.desc[1].len = 0xffffffffu; }
static void status_read_only(void) { dev.desc[2].flags = 0; }
static void indirect_garbage(void) {
    dev.desc[0] = (struct virtq_desc){FAR_AWAY, 16 * 64, VIRTQ_DESC_F_INDIRECT, 0};
}

struct attack {
    const char *name;
    void (*mangle)(void);
    int head;       /* what goes in the avail ring */
    int idx_jump;   /* added to avail.idx on top of the one request */
};

static const struct attack attacks[] = {
    {"data buffer outside RAM", data_outside_ram, 0, 0},
    {"descriptor chain loop", descriptor_loop, 0, 0},
    {"length 4 GiB - 1", huge_length, 0, 0},
    {"read-only status byte", status_read_only, 0, 0},
    {"indirect table not negotiated", indirect_garbage, 0, 0},
    {"head index out of range", NULL, 200, 0},
    {"avail index 1000 ahead", NULL, 0, 999},
};

int main(void) {
    if (virtio_find(VIRTIO_ID_BLOCK, &dev) != 0) {
        printf("virtio-hostile: FAIL no virtio-blk device\n");
        return 2;
    }
    unsigned refused = 0, n = sizeof attacks / sizeof attacks[0];
    for (unsigned i = 0; i < n; i++) {
        const struct attack *a = &attacks[i];
        if (virtio_setup(&dev) != 0) {
            printf("virtio-hostile: FAIL the device did not come back up before \"%s\"\n",
                   a->name);
            return 3;
        }
        fill_write();
        if (a->mangle)
            a->mangle();
        dev.avail_idx += (uint16_t)a->idx_jump;
        virtio_submit(&dev, (uint16_t)a->head);
        volatile struct virtq_used_elem *used = virtio_wait(&dev, WAIT);
        uint32_t st = virtio_status(&dev);
        const char *outcome;
        if (st & VIRTIO_NEEDS_RESET)
            outcome = "device needs reset";
        else if (used != NULL && status != BLK_S_OK)
            outcome = status == 0xff ? "completed, no status written" : "error status";
        else if (used == NULL)
            outcome = "ignored";
        else
            outcome = "ACCEPTED";
        int ok = used == NULL || status != BLK_S_OK || (st & VIRTIO_NEEDS_RESET);
        refused += ok;
        printf("virtio-hostile: %-30s -> %s\n", a->name, outcome);
        virtio_reset(&dev);
    }
    if (virtio_setup(&dev) != 0) {
        printf("virtio-hostile: FAIL the device did not come back up\n");
        return 4;
    }
    header = (struct blk_header){BLK_T_IN, 0, 0};
    status = 0xff;
    memset(data, 0, sizeof data);
    struct virtq_desc *d = dev.desc;
    d[0] = (struct virtq_desc){(uintptr_t)&header, sizeof header, VIRTQ_DESC_F_NEXT, 1};
    d[1] = (struct virtq_desc){(uintptr_t)data, SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
    d[2] = (struct virtq_desc){(uintptr_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
    virtio_submit(&dev, 0);
    int read_ok = virtio_wait(&dev, WAIT) != NULL && status == BLK_S_OK;
    console_lock();
    printf("virtio-hostile: after a reset, sector 0 reads");
    for (int i = 0; i < 16; i++)
        printf(" %02x", data[i]);
    printf(" (status %u)\n", (unsigned)status);
    console_unlock();
    virtio_reset(&dev);
    if (refused == n && read_ok) {
        printf("virtio-hostile: PASS %u broken requests refused\n", refused);
        return 0;
    }
    printf("virtio-hostile: FAIL %u of %u refused, read %s\n", refused, n, read_ok ? "ok" : "bad");
    return 1;
}
