#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "virtio.h"

#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(irq) ((volatile uint32_t *)(PLIC_BASE + 4UL * (irq)))
#define PLIC_ENABLE(ctx, irq) \
    ((volatile uint32_t *)(PLIC_BASE + 0x2000UL + 0x80UL * (ctx) + 4UL * ((irq) / 32)))
#define PLIC_THRESHOLD(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200000UL + 0x1000UL * (ctx)))
#define PLIC_CLAIM(ctx) ((volatile uint32_t *)(PLIC_BASE + 0x200004UL + 0x1000UL * (ctx)))
#define HART0_M_CONTEXT 0

static struct {
    struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
    struct virtq_avail avail __attribute__((aligned(2)));
    struct virtq_used used __attribute__((aligned(4096)));
} ring __attribute__((aligned(4096)));

static struct vdev *active;
static volatile uint32_t timed_out;

uint32_t vread(struct vdev *d, unsigned off) { return *(volatile uint32_t *)(d->base + off); }

void vwrite(struct vdev *d, unsigned off, uint32_t value) {
    *(volatile uint32_t *)(d->base + off) = value;
}

static int irq_hook(struct trap_frame *frame) {
    if (frame->cause == (CAUSE_INTERRUPT | IRQ_M_TIMER)) {
        clint_disarm(0);
        timed_out = 1;
        return 1;
    }
    if (frame->cause != (CAUSE_INTERRUPT | IRQ_M_EXT))
        return 0;
    uint32_t irq;
    while ((irq = *PLIC_CLAIM(HART0_M_CONTEXT)) != 0) {
        struct vdev *d = active;
        if (d != NULL && irq == d->irq) {
            uint32_t status = vread(d, VIRTIO_INTERRUPT_STATUS);
            vwrite(d, VIRTIO_INTERRUPT_ACK, status);
            d->interrupts++;
        }
        *PLIC_CLAIM(HART0_M_CONTEXT) = irq;
    }
    return 1;
}

int virtio_find(uint32_t device_id, struct vdev *d) {
    for (unsigned n = 0; n < VIRTIO_SLOTS; n++) {
        memset(d, 0, sizeof *d);
        d->base = VIRTIO_SLOT_BASE + n * VIRTIO_SLOT_SIZE;
        if (vread(d, VIRTIO_MAGIC) == 0x74726976 && vread(d, VIRTIO_VERSION) == 2 &&
            vread(d, VIRTIO_DEVICE_ID) == device_id) {
            d->slot = n;
            d->irq = VIRTIO_FIRST_IRQ + n;
            return 0;
        }
    }
    return -1;
}

void virtio_reset(struct vdev *d) {
    vwrite(d, VIRTIO_STATUS, 0);
    while (vread(d, VIRTIO_STATUS) != 0)
        cpu_relax();
}

static void set_addr(struct vdev *d, unsigned off, const volatile void *p) {
    uint64_t a = (uint64_t)(uintptr_t)p;
    vwrite(d, off, (uint32_t)a);
    vwrite(d, off + 4, (uint32_t)(a >> 32));
}

int virtio_setup(struct vdev *d) {
    virtio_reset(d);
    vwrite(d, VIRTIO_STATUS, VIRTIO_ACKNOWLEDGE);
    vwrite(d, VIRTIO_STATUS, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
    vwrite(d, VIRTIO_DEVICE_FEATURES_SEL, 1);
    if (!(vread(d, VIRTIO_DEVICE_FEATURES) & (1u << (VIRTIO_F_VERSION_1 - 32))))
        return -1;
    vwrite(d, VIRTIO_DRIVER_FEATURES_SEL, 0);
    vwrite(d, VIRTIO_DRIVER_FEATURES, 0);
    vwrite(d, VIRTIO_DRIVER_FEATURES_SEL, 1);
    vwrite(d, VIRTIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
    vwrite(d, VIRTIO_STATUS, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
    if (!(vread(d, VIRTIO_STATUS) & VIRTIO_FEATURES_OK))
        return -2;
    vwrite(d, VIRTIO_QUEUE_SEL, 0);
    uint32_t max = vread(d, VIRTIO_QUEUE_NUM_MAX);
    if (max < QSIZE)
        return -3;
    memset(&ring, 0, sizeof ring);
    d->qsize = QSIZE;
    d->desc = ring.desc;
    d->avail = &ring.avail;
    d->used = &ring.used;
    d->avail_idx = d->used_seen = 0;
    vwrite(d, VIRTIO_QUEUE_NUM, QSIZE);
    set_addr(d, VIRTIO_QUEUE_DESC, ring.desc);
    set_addr(d, VIRTIO_QUEUE_DRIVER, &ring.avail);
    set_addr(d, VIRTIO_QUEUE_DEVICE, &ring.used);
    vwrite(d, VIRTIO_QUEUE_READY, 1);
    /* the device's PLIC source to hart 0's M-mode context */
    *PLIC_PRIORITY(d->irq) = 1;
    *PLIC_ENABLE(HART0_M_CONTEXT, d->irq) |= 1u << (d->irq % 32);
    *PLIC_THRESHOLD(HART0_M_CONTEXT) = 0;
    active = d;
    trap_set_hook(irq_hook);
    csr_set(mie, MIP_MEIP | MIP_MTIP);
    vwrite(d, VIRTIO_STATUS,
           VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK);
    return 0;
}

void virtio_submit(struct vdev *d, uint16_t head) {
    d->avail->ring[d->avail_idx % d->qsize] = head;
    fence();
    d->avail_idx++;
    d->avail->idx = d->avail_idx;
    fence();
    vwrite(d, VIRTIO_QUEUE_NOTIFY, 0);
}

volatile struct virtq_used_elem *virtio_wait(struct vdev *d, uint64_t ticks) {
    timed_out = 0;
    clint_set_mtimecmp(0, clint_mtime() + ticks);
    volatile struct virtq_used_elem *elem = NULL;
    for (;;) {
        /* Check with interrupts off, sleep, then take them: no lost wake-up. */
        csr_clear(mstatus, MSTATUS_MIE);
        fence();
        if (d->used->idx != d->used_seen) {
            elem = &d->used->ring[d->used_seen % d->qsize];
            d->used_seen++;
            break;
        }
        if (timed_out || (vread(d, VIRTIO_STATUS) & VIRTIO_NEEDS_RESET))
            break;
        wfi();
        csr_set(mstatus, MSTATUS_MIE);
    }
    csr_set(mstatus, MSTATUS_MIE);
    clint_disarm(0);
    return elem;
}

uint32_t virtio_status(struct vdev *d) { return vread(d, VIRTIO_STATUS); }
