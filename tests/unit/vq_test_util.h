/* Shared by the virtqueue unit tests: a guest_mem laid out like kiln's (RAM below the 32-bit
 * hole at 3 GiB and 1 MiB from 4 GiB up) and helpers that build split rings in it by hand. */
#ifndef KILN_TESTS_VQ_TEST_UTIL_H
#define KILN_TESTS_VQ_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/guest_mem.h"
#include "virtio/virtqueue.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define HOLE (3 * GIB)            /* region 0: [0, 3 GiB) */
#define HIGH (4 * GIB)            /* region 1: [4 GiB, 4 GiB + 1 MiB) */
#define RAM_END (HIGH + MIB)
#define RAM_SIZE (HOLE + MIB)

/* Ring and buffer addresses, room for a 32768-entry queue. */
#define DESC 0x100000ull  /* 512 KiB */
#define AVAIL 0x180000ull /* 64 KiB + 6 */
#define USED 0x1a0000ull  /* 256 KiB + 6 */
#define ITABLE 0x300000ull /* indirect tables, up to 512 KiB */
#define BUF 0x400000ull

struct fx {
	struct guest_mem m;
	struct virtqueue vq;
	struct vq_chain *c;
	uint64_t desc, avail, used; /* ring GPAs of the current queue */
	uint32_t size;
	uint16_t avail_idx; /* the driver's next avail->idx */
};

static inline int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->m, RAM_SIZE, HOLE), 0);
	assert_int_equal(f->m.nr_regions, 2);
	f->c = calloc(1, sizeof(*f->c));
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_free(&f->m);
	free(f->c);
	free(f);
	return 0;
}

static inline uint8_t *host(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static inline void wr16(struct fx *f, uint64_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	assert_int_equal(guest_mem_write(&f->m, gpa, &le, sizeof(le)), 0);
}

static inline uint16_t rd16(struct fx *f, uint64_t gpa)
{
	uint16_t le;

	assert_int_equal(guest_mem_read(&f->m, gpa, &le, sizeof(le)), 0);
	return le16toh(le);
}

static inline uint32_t rd32(struct fx *f, uint64_t gpa)
{
	uint32_t le;

	assert_int_equal(guest_mem_read(&f->m, gpa, &le, sizeof(le)), 0);
	return le32toh(le);
}

/* A fresh queue (as after a device reset and the driver's setup) with zeroed rings at the
 * given addresses. */
static inline void start_at(struct fx *f, uint32_t size, bool event_idx, bool indirect, uint64_t desc,
		     uint64_t avail, uint64_t used)
{
	const char *reason = NULL;

	memset(host(f, desc, 16ull * size), 0, 16ull * size);
	memset(host(f, avail, 6ull + 2ull * size), 0, 6ull + 2ull * size);
	memset(host(f, used, 6ull + 8ull * size), 0, 6ull + 8ull * size);
	virtqueue_init(&f->vq, &f->m);
	f->vq.size = size;
	f->vq.desc_gpa = desc;
	f->vq.avail_gpa = avail;
	f->vq.used_gpa = used;
	f->vq.event_idx = event_idx;
	f->vq.indirect = indirect;
	assert_int_equal(virtqueue_enable(&f->vq, VIRTQ_MAX_SIZE, &reason), 0);
	assert_true(f->vq.ready);
	f->desc = desc;
	f->avail = avail;
	f->used = used;
	f->size = size;
	f->avail_idx = 0;
}

static inline void start(struct fx *f, uint32_t size, bool event_idx, bool indirect)
{
	start_at(f, size, event_idx, indirect, DESC, AVAIL, USED);
}

/* Writes descriptor i of the table at `table` (the descriptor table or an indirect one). */
static inline void put(struct fx *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
		uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = htole64(addr), .len = htole32(len),
				.flags = htole16(flags), .next = htole16(next) };

	assert_int_equal(guest_mem_write(&f->m, table + 16ull * i, &d, sizeof(d)), 0);
}

static inline void set_avail_idx(struct fx *f, uint16_t idx)
{
	f->avail_idx = idx;
	wr16(f, f->avail + 2, idx);
}

/* Makes the chain at `head` available, as the driver does (entry, then idx). */
static inline void offer(struct fx *f, uint16_t head)
{
	wr16(f, f->avail + 4 + 2ull * (f->avail_idx & (f->size - 1)), head);
	set_avail_idx(f, (uint16_t)(f->avail_idx + 1));
}

static inline int pop(struct fx *f)
{
	return virtqueue_pop(&f->vq, f->c);
}

/* The one chain offered must be refused, break the queue and be consumed. */
static inline void expect_malformed(struct fx *f)
{
	uint16_t before = f->vq.last_avail_idx;

	assert_int_equal(pop(f), -EINVAL);
	assert_true(f->vq.broken);
	assert_non_null(f->vq.error);
	assert_int_equal(f->vq.last_avail_idx, (uint16_t)(before + 1));
	/* Sticky: even a good chain is not looked at any more. */
	put(f, f->desc, f->size - 1, BUF, 8, 0, 0);
	offer(f, (uint16_t)(f->size - 1));
	assert_int_equal(pop(f), -EINVAL);
	assert_int_equal(f->vq.last_avail_idx, (uint16_t)(before + 1));
	assert_false(virtqueue_set_notify(&f->vq, true));
}

static inline void expect_seg(struct fx *f, unsigned int i, uint64_t gpa, uint32_t len, bool write)
{
	const struct vq_seg *s = &f->c->segs[i];

	assert_true(i < f->c->nr_segs);
	assert_int_equal(s->gpa, gpa);
	assert_int_equal(s->len, len);
	assert_int_equal(s->write, write);
	assert_ptr_equal(s->hva, guest_mem_ptr(&f->m, gpa, len));
}


#define VQ_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

#endif
