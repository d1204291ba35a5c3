/* Raw disk images: the file (or block device) behind a --disk, opened with the access the
 * configuration asks for and locked against a second user, as Cloud Hypervisor does
 * (lock_granularity=full). A raw image has no format: guest sector N is bytes
 * [512 N, 512 N + 512) of the file. */
#ifndef KILN_BLOCK_RAW_IMAGE_H
#define KILN_BLOCK_RAW_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/config.h"

#define RAW_SECTOR_SIZE 512u /* virtio-blk's sector, bytes (virtio 1.2, 5.2.6) */

/* An open image. Everything but fd is informational once opened. */
struct raw_image {
	int fd;                 /* owned; -1 when closed */
	uint64_t size;          /* bytes: st_size, or BLKGETSIZE64 for a block device */
	uint64_t sectors;       /* size / RAW_SECTOR_SIZE, rounded down: the guest's capacity */
	uint32_t phys_block;    /* bytes, power of two >= 512: the device's physical block size
				 * (BLKPBSZGET) or the file system's block (st_blksize), capped
				 * at 1 MiB; a hint for the guest (virtio-blk topology) */
	bool readonly;          /* opened O_RDONLY (and read-locked) */
	bool direct;            /* opened O_DIRECT: buffers, offsets and lengths need alignment */
	bool block_device;      /* S_ISBLK, else a regular file */
	dev_t st_dev;           /* identity, for a default serial number */
	ino_t st_ino;
};

/* Opens cfg->path: O_RDWR, or O_RDONLY when cfg->readonly; O_DIRECT when cfg->direct; always
 * O_CLOEXEC. The image must be a regular file or a block device. Takes an OFD lock on the
 * whole file (F_OFD_SETLK: a write lock for read-write, a read lock for read-only), so a
 * second kiln (or this one, through another open) cannot use the image for writing at the
 * same time; the lock goes away with the fd. Fills *img. Returns 0, or -errno with a one-line
 * message in err (errlen bytes, NUL-terminated) naming the path and what to do:
 * -ENOENT (does not exist), -EISDIR (a directory), -EINVAL (not a regular file or block
 * device, or O_DIRECT unsupported by the file system), -EBUSY (locked by another process or
 * open file description), -EACCES/-EROFS/-EPERM (no write access), other -errno from
 * open/fstat/ioctl. *img is then closed (fd -1). A size that is not a multiple of 512 leaves
 * a trailing partial sector the guest cannot reach (logged as a warning). */
int raw_image_open(const struct disk_config *cfg, struct raw_image *img, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Closes the image (dropping its lock). Safe on a closed image. */
void raw_image_close(struct raw_image *img);

#endif
