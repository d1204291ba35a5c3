/* libFuzzer target for the virtio-blk device model (src/virtio/virtio_blk.c) and the I/O
 * engine under it: the input is guest RAM holding a split ring and block requests, served
 * against a small temporary raw image exactly as a guest's queue notification would be.
 *
 * Guest RAM is one 64 KiB region at GPA 0. The queue's rings sit at fixed places so the
 * fuzzer only has to learn their contents: descriptor table at 0x0000, available ring at
 * 0x0800, used ring at 0x1000 (written by the device); requests and buffers go anywhere. The
 * input is an 8-byte header, then up to 64 KiB of RAM contents (the rest is zero):
 *   [0]     bits 0-2 log2 of the queue size (1..128), bit 3 EVENT_IDX, bit 4 INDIRECT_DESC,
 *           bit 5 read-only image, bit 6 FLUSH not negotiated, bit 7 DISCARD/WRITE_ZEROES not
 *           negotiated
 *   [1]     bits 0-1: extra notification rounds (0..3) after the first one
 *   [2-4]   per extra round: added to avail->idx before that round's notification (so the
 *           device wraps through ring entries again, possibly with requests in flight)
 *   [5-7]   unused
 * Per input: a fresh device on the image (restored to its pattern first), the queue set up
 * and DRIVER_OK (activation serves the ring), then each round notifies and runs the event
 * loop until no request is in flight; then the device is destroyed (draining the engine).
 * Invariants, checked with __builtin_trap(): activation succeeds, every request completes
 * (none left in flight after the loop, which is bounded), and the device is either still
 * active or stopped with exactly one DEVICE_NEEDS_RESET. The used ring is not checked: the
 * guest may point read buffers at it. Memory errors are ASan's and UBSan's to find; guest
 * RAM is exactly the 64 KiB mapping, so an access past it faults.
 * The engine is io_uring (KILN_NO_IO_URING=1 picks the thread pool). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "util/log.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                         \
	do {                                \
		if (!(cond))                \
			__builtin_trap();   \
	} while (0)

#define RAM (64u * 1024)
#define DESC 0x0000u
#define AVAIL 0x0800u
#define USED 0x1000u
#define HEADER 8
#define IMG_BYTES (64u * 1024) /* 128 sectors */
#define MAX_LOOPS 10000

static struct guest_mem mem;
static struct event_loop loop;
static int img_fd = -1;
static char img_path[64];
static uint8_t pattern[IMG_BYTES];
static unsigned int needs_reset;

static void t_signal_used(void *t, unsigned int q)
{
}

static void t_signal_config(void *t)
{
}

static void t_needs_reset(void *t)
{
	needs_reset++;
}

static const struct virtio_transport_ops tops = {
	.signal_used = t_signal_used,
	.signal_config = t_signal_config,
	.needs_reset = t_needs_reset,
};

static void init_once(void)
{
	char tmpl[64];
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	log_threshold = LOG_ERROR; /* the guest's mistakes are expected here */
	if (guest_mem_init(&mem, RAM, RAM) != 0 || event_loop_init(&loop) != 0)
		abort();
	snprintf(tmpl, sizeof(tmpl), "%s/kiln-fuzz-blk-XXXXXX", dir);
	img_fd = mkstemp(tmpl);
	if (img_fd < 0)
		abort();
	unlink(tmpl); /* reopened through /proc/self/fd: nothing left behind */
	snprintf(img_path, sizeof(img_path), "/proc/self/fd/%d", img_fd);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + i / 512 + 1);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;

	CHECK(guest_mem_read(&mem, gpa, &v, sizeof(v)) == 0);
	return le16toh(v);
}

/* Runs the loop until nothing is in flight. */
static void settle(struct virtio_dev *d)
{
	for (unsigned int i = 0; i < MAX_LOOPS; i++) {
		virtio_dev_lock(d);
		unsigned int n = virtio_blk_inflight(d);
		virtio_dev_unlock(d);
		if (n == 0)
			return;
		CHECK(event_loop_run_once(&loop, 1000) >= 0);
	}
	CHECK(!"requests never completed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *d = NULL;
	char err[256];

	if (!mem.base)
		init_once();
	if (size < HEADER)
		return 0;

	size_t ram = size - HEADER < RAM ? size - HEADER : RAM;
	memcpy(mem.base, data + HEADER, ram);
	memset(mem.base + ram, 0, RAM - ram);
	CHECK(pwrite(img_fd, pattern, sizeof(pattern), 0) == (ssize_t)sizeof(pattern));
	CHECK(ftruncate(img_fd, IMG_BYTES) == 0);

	uint8_t flags = data[0];
	uint32_t qsize = 1u << (flags & 7);
	struct disk_config cfg = {
		.path = img_path, .readonly = flags & 0x20, .id = "fuzz0", .serial = "fuzz-serial",
		.num_queues = 1, .queue_size = 128,
	};
	CHECK(virtio_blk_create(&cfg, 0, &mem, &loop, &d, err, sizeof(err)) == 0);
	d->transport_ops = &tops;
	needs_reset = 0;

	virtio_dev_lock(d);
	struct virtqueue *vq = &d->vqs[0];
	const char *reason = NULL;
	d->driver_features = d->host_features | 1ull << VIRTIO_F_VERSION_1;
	if (flags & 0x08)
		d->driver_features |= 1ull << VIRTIO_F_EVENT_IDX;
	if (flags & 0x10)
		d->driver_features |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (flags & 0x40)
		d->driver_features &= ~(1ull << VIRTIO_BLK_F_FLUSH);
	if (flags & 0x80)
		d->driver_features &= ~(1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	vq->size = qsize;
	vq->desc_gpa = DESC;
	vq->avail_gpa = AVAIL;
	vq->used_gpa = USED;
	vq->event_idx = flags & 0x08;
	vq->indirect = flags & 0x10;
	CHECK(virtqueue_enable(vq, d->queue_max_size, &reason) == 0);
	int r = virtio_dev_activate(d); /* serves what is already available */
	CHECK(r == 0);
	virtio_dev_unlock(d);
	settle(d);

	unsigned int rounds = data[1] & 3;
	for (unsigned int k = 0; k < rounds; k++) {
		uint16_t idx = (uint16_t)(rd16(AVAIL + 2) + data[2 + k]);
		uint16_t le = htole16(idx);
		CHECK(guest_mem_write(&mem, AVAIL + 2, &le, sizeof(le)) == 0);
		virtio_dev_lock(d);
		if (d->active)
			d->ops->queue_notify(d, 0);
		virtio_dev_unlock(d);
		settle(d);
	}

	virtio_dev_lock(d);
	CHECK(virtio_blk_inflight(d) == 0);
	CHECK(d->active || needs_reset == 1);
	CHECK(!d->active || vq->ready);
	virtio_dev_unlock(d);
	virtio_dev_destroy(d);
	return 0;
}
