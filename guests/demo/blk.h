/* virtio-blk requests for the demo guests (virtio 1.x section 5.2). */
#ifndef DEMO_BLK_H
#define DEMO_BLK_H

#include <stdint.h>

#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define SECTOR 512

struct blk_header {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* The byte the demos write at `offset` of `sector` (tests recompute it). */
static inline uint8_t blk_pattern(uint64_t sector, unsigned offset) {
    return (uint8_t)(sector * 131 + offset * 7 + (offset >> 8) + 0x5a);
}

#endif
