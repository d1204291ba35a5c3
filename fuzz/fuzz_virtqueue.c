/* libFuzzer target for the split-virtqueue engine (src/virtio/virtqueue.c).
 *
 * Guest RAM is a fixed 64 KiB guest_mem laid out like kiln's: region 0 = [0, 32 KiB), a hole,
 * region 1 = [4 GiB, 4 GiB + 32 KiB). The input is a 12-byte header, then up to 32 KiB of RAM
 * contents, copied to the start of both regions (so small inputs reach both; the rest is
 * zero):
 *   [0]     bits 0-3 log2 of the queue size, bit 4 EVENT_IDX, bit 5 INDIRECT_DESC, bit 6 take
 *           the size from bytes 2-3 instead (any value, mostly invalid), bit 7 device max 256
 *           (else 32768)
 *   [1]     bits 0-2: desc/avail/used ring in region 1 (else region 0); bits 3-7: notification
 *           calls to make between pops
 *   [2-3]   raw queue size (le16)
 *   [4-5]   initial last_avail_idx = used_idx (le16), to cross the 16-bit wrap
 *   [6-11]  desc, avail, used offsets in their region (le16; >= 32 KiB lands past the region)
 * The queue is enabled, then popped until empty or broken (at most MAX_POPS times), each chain
 * pushed back. Invariants, checked with __builtin_trap():
 * - enable() succeeds exactly when validate() does, and a failure comes with a reason;
 * - pop() returns 1, 0 or -EINVAL; 1 consumes exactly one avail entry; after -EINVAL the queue
 *   is broken with a reason and stays so; 0 leaves the state alone;
 * - a chain: head < size, nr_segs <= VQ_MAX_SEGS (and <= size without indirect descriptors),
 *   readable segments first (nr_read of them), every segment nonzero-length with hva equal to
 *   guest_mem_ptr() of its range and inside the RAM mapping, byte sums matching the segments
 *   and <= VQ_MAX_CHAIN_BYTES;
 * - pop() never writes guest RAM (checked on the first pop);
 * - push() of a popped head succeeds and leaves exactly { head, written } and the new index in
 *   the used ring. Hangs are caught by libFuzzer's -timeout. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/guest_mem.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                         \
	do {                                \
		if (!(cond))                \
			__builtin_trap();   \
	} while (0)

#define REGION (32u * 1024)  /* bytes per RAM region */
#define HIGH_GPA (1ull << 32) /* region 1 */
#define HEADER 12
#define MAX_POPS 256

static struct guest_mem mem;
static struct vq_chain chain;
static uint8_t snapshot[2 * REGION];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t ring_gpa(const uint8_t *hdr, unsigned int which)
{
	uint64_t off = get16(hdr + 6 + 2 * which);

	return (hdr[1] >> which & 1 ? HIGH_GPA : 0) + off;
}

static void check_chain(const struct virtqueue *vq, const struct vq_chain *c)
{
	uint64_t rd = 0, wr = 0;

	CHECK(c->head < vq->size);
	CHECK(c->nr_segs <= VQ_MAX_SEGS);
	CHECK(c->nr_read <= c->nr_segs);
	if (!vq->indirect)
		CHECK(c->nr_segs <= vq->size);
	for (unsigned int i = 0; i < c->nr_segs; i++) {
		const struct vq_seg *s = &c->segs[i];
		const uint8_t *h = s->hva;

		CHECK(s->len > 0);
		CHECK(s->write == (i >= c->nr_read));
		CHECK(h != NULL && h == guest_mem_ptr(&mem, s->gpa, s->len));
		CHECK(h >= mem.base && h + s->len <= mem.base + mem.mapped);
		if (s->write)
			wr += s->len;
		else
			rd += s->len;
	}
	CHECK(rd == c->read_bytes && wr == c->write_bytes);
	CHECK(rd + wr <= VQ_MAX_CHAIN_BYTES);
}

static void check_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	uint16_t slot = (uint16_t)(vq->used_idx & (vq->size - 1));
	uint32_t elem[2];
	uint16_t idx;

	CHECK(virtqueue_push(vq, head, written) == 0);
	CHECK(guest_mem_read(&mem, vq->used_gpa + 4 + 8ull * slot, elem, sizeof(elem)) == 0);
	CHECK(le32toh(elem[0]) == head && le32toh(elem[1]) == written);
	CHECK(guest_mem_read(&mem, vq->used_gpa + 2, &idx, sizeof(idx)) == 0);
	CHECK(le16toh(idx) == vq->used_idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtqueue vq;
	const char *reason = NULL, *vreason = NULL;

	if (!mem.base && guest_mem_init(&mem, 2 * REGION, REGION) != 0)
		abort();
	CHECK(mem.nr_regions == 2 && mem.regions[1].gpa == HIGH_GPA);
	if (size < HEADER)
		return 0;

	/* Both regions from the input, the rest zero. */
	size_t ram = size - HEADER < REGION ? size - HEADER : REGION;
	for (unsigned int r = 0; r < 2; r++) {
		memcpy(mem.regions[r].hva, data + HEADER, ram);
		memset(mem.regions[r].hva + ram, 0, REGION - ram);
	}

	virtqueue_init(&vq, &mem);
	vq.size = data[0] & 0x40 ? get16(data + 2) : 1u << (data[0] & 15);
	vq.event_idx = data[0] & 0x10;
	vq.indirect = data[0] & 0x20;
	vq.desc_gpa = ring_gpa(data, 0);
	vq.avail_gpa = ring_gpa(data, 1);
	vq.used_gpa = ring_gpa(data, 2);
	vq.last_avail_idx = vq.used_idx = get16(data + 4);

	uint32_t max = data[0] & 0x80 ? 256 : VIRTQ_MAX_SIZE;
	int valid = virtqueue_validate(&vq, max, &vreason);
	int rc = virtqueue_enable(&vq, max, &reason);

	CHECK(valid == rc);
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(vq.ready == (rc == 0));
	if (rc) {
		CHECK(reason != NULL && vreason != NULL && strcmp(reason, vreason) == 0);
		CHECK(virtqueue_pop(&vq, &chain) == 0);
		return 0;
	}
	CHECK(vq.size >= 1 && vq.size <= max && (vq.size & (vq.size - 1)) == 0);

	memcpy(snapshot, mem.base, mem.mapped);
	unsigned int notify_ops = data[1] >> 3;

	for (unsigned int n = 0; n < MAX_POPS; n++) {
		uint16_t last = vq.last_avail_idx, used = vq.used_idx;

		rc = virtqueue_pop(&vq, &chain);
		if (n == 0)
			CHECK(memcmp(snapshot, mem.base, mem.mapped) == 0);
		if (rc == 0) {
			CHECK(!vq.broken && vq.last_avail_idx == last && vq.used_idx == used);
			break;
		}
		if (rc < 0) {
			CHECK(rc == -EINVAL);
			CHECK(vq.broken && vq.error != NULL);
			CHECK(vq.last_avail_idx == last || vq.last_avail_idx == (uint16_t)(last + 1));
			CHECK(vq.used_idx == used);
			CHECK(virtqueue_pop(&vq, &chain) == -EINVAL);
			CHECK(!virtqueue_set_notify(&vq, true));
			break;
		}
		CHECK(rc == 1);
		CHECK(vq.last_avail_idx == (uint16_t)(last + 1) && !vq.broken);
		check_chain(&vq, &chain);

		/* Claim to have written part of the writable bytes. */
		uint32_t written = (uint32_t)(chain.write_bytes >> (n & 3));
		check_push(&vq, chain.head, written);
		CHECK(virtqueue_push(&vq, chain.head, 0) == -EINVAL); /* nothing outstanding */
		(void)virtqueue_should_notify(&vq, used);
		if (n < notify_ops) {
			if (n & 1)
				virtqueue_set_avail_event(&vq, (uint16_t)(last + n));
			else
				(void)virtqueue_set_notify(&vq, n & 2);
		}
	}
	return 0;
}
