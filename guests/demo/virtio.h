/* A minimal virtio-mmio (version 2) driver for the demo guests: find a device
 * on the board's slots, bring it up with one split virtqueue, submit
 * descriptor chains and wait for them through the PLIC (hart 0's M-mode
 * context) with a timeout. Interrupts run on the runtime's trap hook. */
#ifndef DEMO_VIRTIO_H
#define DEMO_VIRTIO_H

#include <stdint.h>

#define VIRTIO_SLOTS 8
#define VIRTIO_SLOT_BASE 0x10001000UL
#define VIRTIO_SLOT_SIZE 0x1000UL
#define VIRTIO_FIRST_IRQ 1

/* registers */
#define VIRTIO_MAGIC 0x000
#define VIRTIO_VERSION 0x004
#define VIRTIO_DEVICE_ID 0x008
#define VIRTIO_DEVICE_FEATURES 0x010
#define VIRTIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_DRIVER_FEATURES 0x020
#define VIRTIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_QUEUE_SEL 0x030
#define VIRTIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_QUEUE_NUM 0x038
#define VIRTIO_QUEUE_READY 0x044
#define VIRTIO_QUEUE_NOTIFY 0x050
#define VIRTIO_INTERRUPT_STATUS 0x060
#define VIRTIO_INTERRUPT_ACK 0x064
#define VIRTIO_STATUS 0x070
#define VIRTIO_QUEUE_DESC 0x080
#define VIRTIO_QUEUE_DRIVER 0x090
#define VIRTIO_QUEUE_DEVICE 0x0a0
#define VIRTIO_CONFIG 0x100

/* status bits */
#define VIRTIO_ACKNOWLEDGE 1
#define VIRTIO_DRIVER 2
#define VIRTIO_DRIVER_OK 4
#define VIRTIO_FEATURES_OK 8
#define VIRTIO_NEEDS_RESET 64
#define VIRTIO_FAILED 128

#define VIRTIO_F_VERSION_1 32

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

#define QSIZE 8

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[QSIZE];
    uint16_t used_event;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[QSIZE];
    uint16_t avail_event;
};

struct vdev {
    uintptr_t base;
    unsigned slot, irq;
    uint16_t qsize;
    uint16_t avail_idx, used_seen;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    volatile struct virtq_used *used;
    volatile uint32_t interrupts;
};

uint32_t vread(struct vdev *d, unsigned off);
void vwrite(struct vdev *d, unsigned off, uint32_t value);
/* The first device of `device_id` on the board's slots; 0 when found. */
int virtio_find(uint32_t device_id, struct vdev *d);
/* Reset, negotiate (VERSION_1 and nothing else), set up queue 0, DRIVER_OK,
 * and route the device's interrupt to hart 0. 0 on success. */
int virtio_setup(struct vdev *d);
void virtio_reset(struct vdev *d);
/* Put head `head` (already filled in d->desc) on the avail ring and notify. */
void virtio_submit(struct vdev *d, uint16_t head);
/* Wait (wfi, interrupts) until the device used a buffer or `ticks` of mtime
 * pass; the used element, or NULL on timeout. */
volatile struct virtq_used_elem *virtio_wait(struct vdev *d, uint64_t ticks);
/* Wait for DEVICE_NEEDS_RESET or a used buffer; returns the status register. */
uint32_t virtio_status(struct vdev *d);

#endif
