/* virtio-blk (virtio 1.2, 5.2) on a raw image: the device model behind struct virtio_dev.
 *
 * Requests are served on the event-loop thread: queue_notify pops chains, checks them and
 * hands reads and writes to an asynchronous I/O engine (block/io_engine.h: io_uring, or a
 * thread pool) that transfers straight between the image and guest RAM; the engine's
 * completion eventfd is an event-loop handler that writes the status byte and returns the
 * chain through the used ring. Everything read from the guest (request header, discard
 * segments) is copied once, then validated: a bad request gets VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP, never a crash; a ring protocol violation fails the device
 * (virtio_dev_fail, DEVICE_NEEDS_RESET). */
#ifndef KILN_VIRTIO_VIRTIO_BLK_H
#define KILN_VIRTIO_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "virtio/virtio_dev.h"
#include "vmm/config.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_F_LIFETIME 15
#define VIRTIO_BLK_F_SECURE_ERASE 16

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* Status byte values (5.2.6). */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20 /* GET_ID answer: serial number, NUL-padded (5.2.6) */

/* struct virtio_blk_discard_write_zeroes flags (5.2.6). */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* What kiln offers (config space fields below). */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22) /* max_discard/write_zeroes_sectors: 2 GiB */
#define VIRTIO_BLK_MAX_DWZ_SEG 16u            /* max_discard_seg, max_write_zeroes_seg */

/* The device configuration layout (5.2.4) up to the secure-erase fields, all little-endian
 * (kiln offers neither SECURE_ERASE nor ZONED; their fields read as 0). 72 bytes. */
struct virtio_blk_config {
	uint64_t capacity;      /* 512-byte sectors */
	uint32_t size_max;      /* VIRTIO_BLK_F_SIZE_MAX (not offered) */
	uint32_t seg_max;       /* VIRTIO_BLK_F_SEG_MAX: data segments per request */
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;             /* VIRTIO_BLK_F_GEOMETRY (not offered) */
	uint32_t blk_size;      /* VIRTIO_BLK_F_BLK_SIZE: logical block, bytes */
	struct {
		uint8_t physical_block_exp; /* log2(physical block / logical block) */
		uint8_t alignment_offset;
		uint16_t min_io_size;       /* logical blocks */
		uint32_t opt_io_size;       /* logical blocks */
	} topology;             /* VIRTIO_BLK_F_TOPOLOGY */
	uint8_t writeback;      /* VIRTIO_BLK_F_CONFIG_WCE (not offered) */
	uint8_t unused0;
	uint16_t num_queues;    /* VIRTIO_BLK_F_MQ */
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment; /* 512-byte sectors */
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
};

/* The request header every chain starts with (struct virtio_blk_req, 5.2.6), 16 bytes. */
struct virtio_blk_outhdr {
	uint32_t type;     /* VIRTIO_BLK_T_* */
	uint32_t reserved; /* formerly ioprio; ignored */
	uint64_t sector;   /* first 512-byte sector (IN, OUT) */
};

/* One segment of a DISCARD or WRITE_ZEROES request (5.2.6), 16 bytes. */
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;    /* VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP; other bits reserved */
};

/* Creates virtio-blk device number `index` (used for the default id "_disk<index>" when
 * cfg->id is NULL) for the raw image cfg->path: opens and locks it (raw_image_open), fills
 * the configuration space, offers SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY, MQ (num_queues > 1),
 * RO (readonly) or DISCARD + WRITE_ZEROES (read-write), and initialises the generic part
 * with virtio_dev_init(d, mem, loop). cfg is only read during the call (id and serial are
 * copied). mem and loop are borrowed and must outlive the device; the I/O engine is created
 * and its completion fd registered with `loop` at activation (DRIVER_OK). Returns 0 with
 * *out set (free it with virtio_dev_destroy), or -errno with a one-line message in err:
 * raw_image_open's errors, -EINVAL (num_queues not 1..VIRTIO_MAX_QUEUES, queue_size not a
 * power of two up to VIRTQ_MAX_SIZE, serial longer than 20 bytes), -ENOMEM. */
int virtio_blk_create(const struct disk_config *cfg, unsigned int index,
		      const struct guest_mem *mem, struct event_loop *loop,
		      struct virtio_dev **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The name of the I/O engine of an active device ("io_uring" or "threads"), else NULL. For
 * logs, tests and benchmarks; d->lock held or the device otherwise quiescent. */
const char *virtio_blk_engine_name(struct virtio_dev *d);

/* Requests taken from the queues and not yet returned to the used ring (0 after a reset).
 * For tests, fuzzing and benchmarks that run the event loop themselves; d->lock held or the
 * device otherwise quiescent. */
unsigned int virtio_blk_inflight(struct virtio_dev *d);

#endif
