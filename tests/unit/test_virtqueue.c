/* virtqueue: split rings (virtio 1.2, 2.7) built by hand in a guest_mem laid out like kiln's
 * (RAM below the 32-bit hole at 3 GiB and 1 MiB from 4 GiB up): queue validation, chains
 * (order rule, loops, limits, indirect tables, buffers outside RAM, zero lengths), the
 * available index, the used ring, and both notification-suppression schemes. */
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

static int setup(void **state)
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

static int teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_free(&f->m);
	free(f->c);
	free(f);
	return 0;
}

static uint8_t *host(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static void wr16(struct fx *f, uint64_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	assert_int_equal(guest_mem_write(&f->m, gpa, &le, sizeof(le)), 0);
}

static uint16_t rd16(struct fx *f, uint64_t gpa)
{
	uint16_t le;

	assert_int_equal(guest_mem_read(&f->m, gpa, &le, sizeof(le)), 0);
	return le16toh(le);
}

static uint32_t rd32(struct fx *f, uint64_t gpa)
{
	uint32_t le;

	assert_int_equal(guest_mem_read(&f->m, gpa, &le, sizeof(le)), 0);
	return le32toh(le);
}

/* A fresh queue (as after a device reset and the driver's setup) with zeroed rings at the
 * given addresses. */
static void start_at(struct fx *f, uint32_t size, bool event_idx, bool indirect, uint64_t desc,
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

static void start(struct fx *f, uint32_t size, bool event_idx, bool indirect)
{
	start_at(f, size, event_idx, indirect, DESC, AVAIL, USED);
}

/* Writes descriptor i of the table at `table` (the descriptor table or an indirect one). */
static void put(struct fx *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
		uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = htole64(addr), .len = htole32(len),
				.flags = htole16(flags), .next = htole16(next) };

	assert_int_equal(guest_mem_write(&f->m, table + 16ull * i, &d, sizeof(d)), 0);
}

static void set_avail_idx(struct fx *f, uint16_t idx)
{
	f->avail_idx = idx;
	wr16(f, f->avail + 2, idx);
}

/* Makes the chain at `head` available, as the driver does (entry, then idx). */
static void offer(struct fx *f, uint16_t head)
{
	wr16(f, f->avail + 4 + 2ull * (f->avail_idx & (f->size - 1)), head);
	set_avail_idx(f, (uint16_t)(f->avail_idx + 1));
}

static int pop(struct fx *f)
{
	return virtqueue_pop(&f->vq, f->c);
}

/* The one chain offered must be refused, break the queue and be consumed. */
static void expect_malformed(struct fx *f)
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

static void expect_seg(struct fx *f, unsigned int i, uint64_t gpa, uint32_t len, bool write)
{
	const struct vq_seg *s = &f->c->segs[i];

	assert_true(i < f->c->nr_segs);
	assert_int_equal(s->gpa, gpa);
	assert_int_equal(s->len, len);
	assert_int_equal(s->write, write);
	assert_ptr_equal(s->hva, guest_mem_ptr(&f->m, gpa, len));
}

/* ---- validation ---- */

static void expect_invalid(struct fx *f, uint32_t max)
{
	const char *reason = NULL;

	assert_int_equal(virtqueue_validate(&f->vq, max, &reason), -EINVAL);
	assert_non_null(reason);
	assert_true(reason[0] != '\0');
	assert_int_equal(virtqueue_validate(&f->vq, max, NULL), -EINVAL);
	reason = NULL;
	assert_int_equal(virtqueue_enable(&f->vq, max, &reason), -EINVAL);
	assert_non_null(reason);
	assert_false(f->vq.ready);
	assert_null(f->vq.desc);
	assert_int_equal(pop(f), 0); /* not ready: nothing to do, no guest access */
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), -EINVAL);
}

static void config(struct fx *f, uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	virtqueue_init(&f->vq, &f->m);
	f->vq.size = size;
	f->vq.desc_gpa = desc;
	f->vq.avail_gpa = avail;
	f->vq.used_gpa = used;
}

static void expect_valid(struct fx *f, uint32_t max)
{
	const char *reason = NULL;

	assert_int_equal(virtqueue_validate(&f->vq, max, &reason), 0);
	assert_null(reason);
	assert_int_equal(virtqueue_enable(&f->vq, max, &reason), 0);
	assert_true(f->vq.ready);
	assert_ptr_equal(f->vq.desc, guest_mem_ptr(&f->m, f->vq.desc_gpa, 1));
	assert_ptr_equal(f->vq.avail, guest_mem_ptr(&f->m, f->vq.avail_gpa, 1));
	assert_ptr_equal(f->vq.used, guest_mem_ptr(&f->m, f->vq.used_gpa, 1));
}

static void test_validate_sizes(void **state)
{
	struct fx *f = *state;
	static const uint32_t good[] = { 1, 2, 4, 256, 1024, 32768 };
	static const uint32_t bad[] = { 0, 3, 6, 255, 257, 1000, 32767, 32769, 65535, 65536,
					1u << 20, UINT32_MAX };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		config(f, good[i], DESC, AVAIL, USED);
		expect_valid(f, 32768);
		config(f, good[i], DESC, AVAIL, USED);
		expect_valid(f, UINT32_MAX); /* a max above 32768 is capped */
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config(f, bad[i], DESC, AVAIL, USED);
		expect_invalid(f, UINT32_MAX);
	}
	/* Above the device's maximum. */
	config(f, 256, DESC, AVAIL, USED);
	expect_invalid(f, 128);
	config(f, 256, DESC, AVAIL, USED);
	expect_valid(f, 256);
	config(f, 1, DESC, AVAIL, USED);
	expect_invalid(f, 0);
	/* No guest memory. */
	config(f, 16, DESC, AVAIL, USED);
	f->vq.mem = NULL;
	expect_invalid(f, 256);
}

static void test_validate_alignment(void **state)
{
	struct fx *f = *state;

	for (uint64_t off = 1; off < 16; off++) {
		config(f, 64, DESC + off, AVAIL, USED);
		expect_invalid(f, 256);
	}
	config(f, 64, DESC, AVAIL + 1, USED);
	expect_invalid(f, 256);
	config(f, 64, DESC, AVAIL + 2, USED); /* 2-byte aligned is enough */
	expect_valid(f, 256);
	config(f, 64, DESC, AVAIL, USED + 2);
	expect_invalid(f, 256);
	config(f, 64, DESC, AVAIL, USED + 1);
	expect_invalid(f, 256);
	config(f, 64, DESC, AVAIL, USED + 4); /* 4-byte aligned is enough */
	expect_valid(f, 256);
	config(f, 64, DESC + 16, AVAIL + 6, USED + 12);
	expect_valid(f, 256);
}

static void test_validate_rings_in_ram(void **state)
{
	struct fx *f = *state;
	const uint64_t dsz = 16 * 256, asz = 6 + 2 * 256, usz = 6 + 8 * 256;

	/* Exactly at the end of region 0 and of region 1. */
	config(f, 256, HOLE - dsz, HOLE - asz, HOLE - usz - 2);
	expect_valid(f, 256);
	config(f, 256, RAM_END - dsz, RAM_END - asz, RAM_END - usz - 2);
	expect_valid(f, 256);
	/* Rings above the hole, one in each region. */
	config(f, 256, HIGH, AVAIL, HIGH + 0x10000);
	expect_valid(f, 256);

	/* Descriptor table: into the hole, in it, past RAM, wrapping past 2^64. */
	static const uint64_t bad_desc[] = { HOLE - dsz + 16, HOLE, 0xfee00000, HIGH - 16,
					     RAM_END - dsz + 16, RAM_END, 8 * GIB,
					     0xfffffffffffffff0ull, 0xffffffffffff0000ull };
	for (size_t i = 0; i < sizeof(bad_desc) / sizeof(bad_desc[0]); i++) {
		config(f, 256, bad_desc[i], AVAIL, USED);
		expect_invalid(f, 256);
	}
	static const uint64_t bad_avail[] = { HOLE - asz + 2, HOLE, HIGH - 2, RAM_END - asz + 2,
					      RAM_END, 0xfffffffffffffffeull };
	for (size_t i = 0; i < sizeof(bad_avail) / sizeof(bad_avail[0]); i++) {
		config(f, 256, DESC, bad_avail[i], USED);
		expect_invalid(f, 256);
	}
	/* The used ring's 6 + 8 * size bytes (avail_event included): 2 bytes short fails. */
	static const uint64_t bad_used[] = { HOLE - usz + 2, HOLE, HIGH - 4, RAM_END - usz + 2,
					     RAM_END, 0xfffffffffffffffcull };
	for (size_t i = 0; i < sizeof(bad_used) / sizeof(bad_used[0]); i++) {
		config(f, 256, DESC, AVAIL, bad_used[i]);
		expect_invalid(f, 256);
	}
	/* The largest queue's 512 KiB of descriptors ending at the end of RAM fits; 16 bytes
	 * later does not. */
	config(f, 32768, RAM_END - 16 * 32768, AVAIL, USED);
	expect_valid(f, 32768);
	config(f, 32768, RAM_END - 16 * 32768 + 16, AVAIL, USED);
	expect_invalid(f, 32768);
}

static void test_not_ready(void **state)
{
	struct fx *f = *state;

	virtqueue_init(&f->vq, &f->m);
	assert_false(f->vq.ready);
	assert_int_equal(pop(f), 0);
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), -EINVAL);
	assert_false(virtqueue_should_notify(&f->vq, 0xffff));
	assert_false(virtqueue_set_notify(&f->vq, true));
	virtqueue_set_avail_event(&f->vq, 3); /* no ring: must not crash */
}

/* ---- chains ---- */

static void test_simple_chain(void **state)
{
	struct fx *f = *state;

	start(f, 16, false, false);
	assert_int_equal(pop(f), 0); /* empty */
	put(f, f->desc, 3, BUF, 100, VIRTQ_DESC_F_NEXT, 7);
	put(f, f->desc, 7, BUF + 0x1000, 200, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 3);
	assert_int_equal(f->c->nr_segs, 2);
	assert_int_equal(f->c->nr_read, 1);
	assert_int_equal(f->c->read_bytes, 100);
	assert_int_equal(f->c->write_bytes, 200);
	expect_seg(f, 0, BUF, 100, false);
	expect_seg(f, 1, BUF + 0x1000, 200, true);
	assert_ptr_equal(f->c->segs[0].hva, f->m.base + BUF);
	assert_int_equal(f->vq.last_avail_idx, 1);
	assert_int_equal(pop(f), 0);
	assert_int_equal(pop(f), 0);

	/* Read-only, write-only and longer mixed chains. */
	put(f, f->desc, 0, BUF, 1, 0, 0);
	offer(f, 0);
	put(f, f->desc, 1, BUF + 10, 2, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 1);
	put(f, f->desc, 15, BUF + 20, 3, VIRTQ_DESC_F_NEXT, 14);
	put(f, f->desc, 14, BUF + 30, 4, VIRTQ_DESC_F_NEXT, 13);
	put(f, f->desc, 13, BUF + 40, 5, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 12);
	put(f, f->desc, 12, BUF + 50, 6, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 15);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 0);
	assert_int_equal(f->c->nr_segs, 1);
	assert_int_equal(f->c->nr_read, 1);
	expect_seg(f, 0, BUF, 1, false);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 1);
	assert_int_equal(f->c->nr_read, 0);
	expect_seg(f, 0, BUF + 10, 2, true);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 15);
	assert_int_equal(f->c->nr_segs, 4);
	assert_int_equal(f->c->nr_read, 2);
	assert_int_equal(f->c->read_bytes, 7);
	assert_int_equal(f->c->write_bytes, 11);
	expect_seg(f, 0, BUF + 20, 3, false);
	expect_seg(f, 1, BUF + 30, 4, false);
	expect_seg(f, 2, BUF + 40, 5, true);
	expect_seg(f, 3, BUF + 50, 6, true);
	assert_int_equal(pop(f), 0);
	assert_false(f->vq.broken);
}

static void test_rings_above_hole(void **state)
{
	struct fx *f = *state;

	start_at(f, 8, false, false, HIGH, HIGH + 0x1000, HIGH + 0x2000);
	put(f, f->desc, 2, HIGH + 0x10000, 64, VIRTQ_DESC_F_NEXT, 5);
	put(f, f->desc, 5, HOLE - 64, 64, VIRTQ_DESC_F_WRITE, 0); /* last bytes below the hole */
	offer(f, 2);
	assert_int_equal(pop(f), 1);
	expect_seg(f, 0, HIGH + 0x10000, 64, false);
	assert_ptr_equal(f->c->segs[0].hva, f->m.base + HOLE + 0x10000);
	expect_seg(f, 1, HOLE - 64, 64, true);
	assert_int_equal(virtqueue_push(&f->vq, 2, 64), 0);
	assert_int_equal(rd16(f, HIGH + 0x2002), 1);
	assert_int_equal(rd32(f, HIGH + 0x2004), 2);
	assert_int_equal(rd32(f, HIGH + 0x2008), 64);
}

static void test_order_rule(void **state)
{
	struct fx *f = *state;

	/* 2.7.4.2: readable after writable is refused... */
	start(f, 16, false, false);
	put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, BUF + 8, 8, 0, 0);
	offer(f, 0);
	expect_malformed(f);

	/* ... also after read, write, read. */
	start(f, 16, false, false);
	put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, BUF + 8, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	put(f, f->desc, 2, BUF + 16, 8, 0, 0);
	offer(f, 0);
	expect_malformed(f);

	/* A reset (virtqueue_init) and a new setup make the queue usable again. */
	start(f, 16, false, false);
	put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, BUF + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_null(f->vq.error);
}

static void test_loops(void **state)
{
	struct fx *f = *state;

	/* a -> b -> a */
	start(f, 16, false, false);
	put(f, f->desc, 4, BUF, 8, VIRTQ_DESC_F_NEXT, 9);
	put(f, f->desc, 9, BUF, 8, VIRTQ_DESC_F_NEXT, 4);
	offer(f, 4);
	expect_malformed(f);

	/* a -> a */
	start(f, 16, false, false);
	put(f, f->desc, 6, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
	offer(f, 6);
	expect_malformed(f);

	/* A self-loop of zero-length descriptors in the largest queue: still bounded. */
	start(f, 32768, false, false);
	put(f, f->desc, 12345, 0, 0, VIRTQ_DESC_F_NEXT, 12345);
	offer(f, 12345);
	expect_malformed(f);

	/* A loop through the whole largest table: 32768 reads, then an error. */
	start(f, 32768, false, false);
	for (uint32_t i = 0; i < 32768; i++)
		put(f, f->desc, i, 0, 0, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) & 32767));
	offer(f, 0);
	expect_malformed(f);
}

static void test_chain_length(void **state)
{
	struct fx *f = *state;

	/* size descriptors is the longest chain... */
	start(f, 4, false, false);
	for (uint32_t i = 0; i < 4; i++)
		put(f, f->desc, i, BUF + 16 * i, 16, i < 3 ? VIRTQ_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 4);
	/* ... one more (necessarily a repeat) is refused. */
	put(f, f->desc, 3, BUF + 48, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 1);
	expect_malformed(f);

	/* A queue of size 1: one descriptor, and NEXT to itself is a loop. */
	start(f, 1, false, false);
	put(f, f->desc, 0, BUF, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	put(f, f->desc, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 8, 9, 255, 0x8000, 0xffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(f, 8, false, false);
		put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
		put(f, f->desc, 1, BUF, 8, VIRTQ_DESC_F_NEXT, bad[i]);
		offer(f, 0);
		expect_malformed(f);
	}
	/* Index 7 is the last valid one. */
	start(f, 8, false, false);
	put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 7);
	put(f, f->desc, 7, BUF, 8, 0, 0xffff); /* next is ignored without NEXT */
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 2);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 8, 16, 0x8000, 0xffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(f, 8, false, false);
		offer(f, bad[i]);
		expect_malformed(f);
	}
}

static void test_indirect_good(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	/* A table of three, chained out of order (0 -> 2 -> 1: the walk starts at entry 0), WRITE
	 * on the INDIRECT descriptor itself ignored (2.7.5.3.2). */
	put(f, ITABLE + 0x200, 0, BUF, 10, VIRTQ_DESC_F_NEXT, 2);
	put(f, ITABLE + 0x200, 2, BUF + 0x100, 20, VIRTQ_DESC_F_NEXT, 1);
	put(f, ITABLE + 0x200, 1, BUF + 0x200, 30, VIRTQ_DESC_F_WRITE, 0);
	/* A second table, used below. */
	put(f, ITABLE + 0x100, 0, BUF + 0x300, 40, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put(f, ITABLE + 0x100, 1, BUF + 0x400, 50, VIRTQ_DESC_F_WRITE, 0);
	put(f, f->desc, 5, ITABLE + 0x200, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(f, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 5);
	assert_int_equal(f->c->nr_segs, 3);
	assert_int_equal(f->c->nr_read, 2);
	expect_seg(f, 0, BUF, 10, false);
	expect_seg(f, 1, BUF + 0x100, 20, false);
	expect_seg(f, 2, BUF + 0x200, 30, true);
	assert_int_equal(f->c->read_bytes, 30);
	assert_int_equal(f->c->write_bytes, 30);

	/* Direct descriptors, then one INDIRECT (2.7.5.3.2 "zero or more normal chained
	 * descriptors followed by a single descriptor with INDIRECT"). */
	put(f, f->desc, 0, BUF + 0x500, 60, VIRTQ_DESC_F_NEXT, 6);
	put(f, f->desc, 6, ITABLE + 0x100, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 3);
	assert_int_equal(f->c->nr_read, 1);
	expect_seg(f, 0, BUF + 0x500, 60, false);
	expect_seg(f, 1, BUF + 0x300, 40, true);
	expect_seg(f, 2, BUF + 0x400, 50, true);

	/* An unaligned table above the hole, and a table longer than the chain in it. */
	put(f, HIGH + 0x1008, 0, HIGH + 0x8000, 70, 0, 0);
	put(f, f->desc, 7, HIGH + 0x1008, 16 * 100, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 7);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 1);
	expect_seg(f, 0, HIGH + 0x8000, 70, false);

	/* The longest table, 32768 entries, walked to its end. */
	for (uint32_t i = 0; i < 32768; i++)
		put(f, ITABLE, i, 0, 0, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	put(f, ITABLE, 32767, BUF, 1, 0, 0);
	put(f, f->desc, 1, ITABLE, VQ_MAX_INDIRECT_BYTES, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 1);
	expect_seg(f, 0, BUF, 1, false);
	assert_false(f->vq.broken);
}

/* One INDIRECT descriptor (head 0) pointing at [addr, addr + len), flags added. */
static void offer_indirect(struct fx *f, uint64_t addr, uint32_t len, uint16_t flags)
{
	put(f, f->desc, 0, addr, len, VIRTQ_DESC_F_INDIRECT | flags, 1);
	put(f, f->desc, 1, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
}

static void test_indirect_errors(void **state)
{
	struct fx *f = *state;

	/* Not negotiated. */
	start(f, 8, false, false);
	put(f, ITABLE, 0, BUF, 8, 0, 0);
	offer_indirect(f, ITABLE, 16, 0);
	expect_malformed(f);

	/* Lengths: not a multiple of 16, 0, above the limit (even when the table is RAM). */
	static const uint32_t bad_len[] = { 0, 1, 8, 15, 17, 40, 16 * 32768 + 16, 0x80000000u,
					    UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		start(f, 8, false, true);
		offer_indirect(f, ITABLE, bad_len[i], 0);
		expect_malformed(f);
	}

	/* With NEXT (2.7.5.3.1). */
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, 0, 0);
	offer_indirect(f, ITABLE, 16, VIRTQ_DESC_F_NEXT);
	expect_malformed(f);

	/* Nested: INDIRECT inside the table, first or later. */
	start(f, 8, false, true);
	put(f, ITABLE, 0, ITABLE + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put(f, ITABLE + 0x1000, 0, BUF, 8, 0, 0);
	offer_indirect(f, ITABLE, 16, 0);
	expect_malformed(f);
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	put(f, ITABLE, 1, ITABLE + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer_indirect(f, ITABLE, 32, 0);
	expect_malformed(f);

	/* Table outside RAM: in the hole, across the hole's start, past RAM, wrapping. */
	static const uint64_t bad_addr[] = { HOLE, HOLE - 16, HIGH - 8, RAM_END - 16,
					     0xfffffffffffffff0ull, 8 * GIB };
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		start(f, 8, false, true);
		offer_indirect(f, bad_addr[i], 32, 0);
		expect_malformed(f);
	}

	/* Loops inside the table: self-loop, and a -> b -> a. */
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer_indirect(f, ITABLE, 16 * 4, 0);
	expect_malformed(f);
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 3);
	put(f, ITABLE, 3, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer_indirect(f, ITABLE, 16 * 4, 0);
	expect_malformed(f);

	/* next beyond the table (len / 16 entries), though inside the queue size. */
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	put(f, ITABLE, 2, BUF, 8, 0, 0);
	offer_indirect(f, ITABLE, 32, 0);
	expect_malformed(f);

	/* Order rule across the direct part and the table. */
	start(f, 8, false, true);
	put(f, ITABLE, 0, BUF, 8, 0, 0);
	put(f, f->desc, 2, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	offer_indirect(f, ITABLE, 16, 0);
	set_avail_idx(f, 0);
	offer(f, 2);
	expect_malformed(f);
}

static void test_buffers_outside_ram(void **state)
{
	struct fx *f = *state;
	static const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ HOLE, 16 },                    /* in the hole */
		{ 0xfee00000, 4 },               /* LAPIC page */
		{ HOLE - 8, 16 },                /* region 0 into the hole */
		{ HIGH - 8, 16 },                /* hole into region 1 */
		{ HOLE - 8, UINT32_MAX },        /* region 0 across to region 1 */
		{ RAM_END - 8, 16 },             /* past the end of RAM */
		{ RAM_END, 1 },
		{ 8 * GIB, 4096 },
		{ 0xfffffffffffffff8ull, 16 },   /* addr + len wraps past 2^64 */
		{ 0xffffffffffffffffull, 1 },
		{ 0xffffffff00000001ull, UINT32_MAX },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* As the only, the first readable, and a later writable buffer. */
		start(f, 8, false, false);
		put(f, f->desc, 0, bad[i].addr, bad[i].len, 0, 0);
		offer(f, 0);
		expect_malformed(f);
		start(f, 8, false, false);
		put(f, f->desc, 0, bad[i].addr, bad[i].len, VIRTQ_DESC_F_NEXT, 1);
		put(f, f->desc, 1, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
		offer(f, 0);
		expect_malformed(f);
		start(f, 8, false, false);
		put(f, f->desc, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
		put(f, f->desc, 1, bad[i].addr, bad[i].len, VIRTQ_DESC_F_WRITE, 0);
		offer(f, 0);
		expect_malformed(f);
	}

	/* The last bytes of each region are fine. */
	start(f, 8, false, false);
	put(f, f->desc, 0, HOLE - 16, 16, VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, RAM_END - 16, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put(f, f->desc, 2, HIGH, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	expect_seg(f, 0, HOLE - 16, 16, false);
	expect_seg(f, 1, RAM_END - 16, 16, true);
	expect_seg(f, 2, HIGH, 1, true);
}

static void test_zero_length(void **state)
{
	struct fx *f = *state;

	/* Zero-length descriptors are accepted wherever they point and give no segment. */
	start(f, 8, false, false);
	put(f, f->desc, 0, 0xdeadbeef00000000ull, 0, VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put(f, f->desc, 2, HOLE, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 1);
	assert_int_equal(f->c->nr_read, 0);
	expect_seg(f, 0, BUF, 8, true);

	/* A chain of nothing but a zero-length descriptor: no segments at all. */
	put(f, f->desc, 3, ~0ull, 0, 0, 0);
	offer(f, 3);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->head, 3);
	assert_int_equal(f->c->nr_segs, 0);
	assert_int_equal(f->c->read_bytes + f->c->write_bytes, 0);
	assert_int_equal(virtqueue_push(&f->vq, 3, 0), 0);

	/* They still follow the order rule. */
	put(f, f->desc, 4, BUF, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	put(f, f->desc, 5, BUF, 8, 0, 0);
	offer(f, 4);
	expect_malformed(f);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	/* Exactly size chains outstanding is fine. */
	start(f, 8, false, false);
	for (uint16_t i = 0; i < 8; i++) {
		put(f, f->desc, i, BUF + i, 1, 0, 0);
		offer(f, i);
	}
	for (uint16_t i = 0; i < 8; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c->head, i);
	}
	assert_int_equal(pop(f), 0);

	/* size + 1 ahead: refused, nothing consumed. */
	start(f, 8, false, false);
	set_avail_idx(f, 9);
	assert_int_equal(pop(f), -EINVAL);
	assert_true(f->vq.broken);
	assert_int_equal(f->vq.last_avail_idx, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* Across the 16-bit wrap: 0xfffc -> 0x0004 is 8 entries (fine), -> 0x0005 is 9. */
	start(f, 8, false, false);
	f->vq.last_avail_idx = 0xfffc;
	f->vq.used_idx = 0xfffc;
	f->avail_idx = 0xfffc;
	for (uint16_t i = 0; i < 8; i++) {
		put(f, f->desc, i, BUF, 1, 0, 0);
		offer(f, i);
	}
	assert_int_equal(f->avail_idx, 4);
	for (uint16_t i = 0; i < 8; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c->head, i);
		assert_int_equal(virtqueue_push(&f->vq, f->c->head, 1), 0);
	}
	assert_int_equal(f->vq.last_avail_idx, 4);
	assert_int_equal(pop(f), 0);
	assert_int_equal(rd16(f, f->used + 2), 4);

	start(f, 8, false, false);
	f->vq.last_avail_idx = 0xfffc;
	set_avail_idx(f, 5);
	assert_int_equal(pop(f), -EINVAL);
	/* The driver moving idx backwards looks like a huge jump. */
	start(f, 8, false, false);
	f->vq.last_avail_idx = 10;
	set_avail_idx(f, 9);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_segment_limit(void **state)
{
	struct fx *f = *state;

	/* VQ_MAX_SEGS segments from an indirect table is the most... */
	start(f, 8, false, true);
	for (uint32_t i = 0; i < VQ_MAX_SEGS + 1; i++)
		put(f, ITABLE, i, BUF + i, 1, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	put(f, ITABLE, VQ_MAX_SEGS - 1, BUF, 1, 0, 0);
	put(f, f->desc, 0, ITABLE, 16 * (VQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, VQ_MAX_SEGS);
	assert_int_equal(f->c->read_bytes, VQ_MAX_SEGS);
	/* ... one more is refused. */
	put(f, ITABLE, VQ_MAX_SEGS - 1, BUF, 1, VIRTQ_DESC_F_NEXT, VQ_MAX_SEGS);
	put(f, ITABLE, VQ_MAX_SEGS, BUF, 1, 0, 0);
	offer(f, 0);
	expect_malformed(f);

	/* The same for a direct chain in a bigger queue. */
	start(f, 2048, false, false);
	for (uint32_t i = 0; i < VQ_MAX_SEGS; i++)
		put(f, f->desc, i, BUF + i, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
		    (uint16_t)(i + 1));
	put(f, f->desc, VQ_MAX_SEGS, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 1); /* 1023 + 1 */
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, VQ_MAX_SEGS);
	assert_int_equal(f->c->nr_read, 0);
	offer(f, 0); /* 1025 */
	expect_malformed(f);

	/* Zero-length descriptors do not count as segments. */
	start(f, 2048, false, false);
	for (uint32_t i = 0; i < 2047; i++)
		put(f, f->desc, i, BUF, i < 1500 ? 0 : 1, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	put(f, f->desc, 2047, BUF, 1, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->nr_segs, 2048 - 1500);
}

static void test_chain_bytes_limit(void **state)
{
	struct fx *f = *state;

	/* 3 GiB + (1 GiB - 1) = UINT32_MAX bytes is the most (buffers may overlap). */
	start(f, 8, false, false);
	put(f, f->desc, 0, 0, 0xc0000000u, VIRTQ_DESC_F_NEXT, 1);
	put(f, f->desc, 1, 0, 0x3fffffffu, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c->read_bytes, 0xc0000000u);
	assert_int_equal(f->c->write_bytes, 0x3fffffffu);
	expect_seg(f, 0, 0, 0xc0000000u, false);
	/* One byte more is 4 GiB. */
	put(f, f->desc, 1, 0, 0x40000000u, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_malformed(f);

	/* Many large buffers: the running sum is checked, not just the last one. */
	start(f, 8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		put(f, f->desc, i, 0, 0xbfffffffu, i < 7 ? VIRTQ_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	offer(f, 0);
	expect_malformed(f);
}

/* ---- used ring and notifications ---- */

static void test_push(void **state)
{
	struct fx *f = *state;

	start(f, 4, false, false);
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), -EINVAL); /* nothing popped */
	for (uint16_t i = 0; i < 4; i++)
		put(f, f->desc, i, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	/* Ten rounds over a 4-entry ring: slot = used_idx % 4. */
	for (uint16_t n = 0; n < 10; n++) {
		uint16_t head = (uint16_t)((n * 3) & 3);

		offer(f, head);
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c->head, head);
		assert_int_equal(virtqueue_push(&f->vq, 5, 1), -EINVAL); /* head >= size */
		assert_int_equal(virtqueue_push(&f->vq, head, 10u + n), 0);
		assert_int_equal(f->vq.used_idx, n + 1);
		assert_int_equal(rd16(f, f->used + 2), n + 1);
		assert_int_equal(rd32(f, f->used + 4 + 8 * (n & 3)), head);
		assert_int_equal(rd32(f, f->used + 8 + 8 * (n & 3)), 10u + n);
		assert_int_equal(virtqueue_push(&f->vq, head, 0), -EINVAL); /* pushed already */
	}
	/* The device never writes used->flags or avail_event on its own. */
	assert_int_equal(rd16(f, f->used), 0);
	assert_int_equal(rd16(f, f->used + 4 + 8 * 4), 0);

	/* Out-of-order completion of two outstanding chains. */
	offer(f, 1);
	offer(f, 2);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(virtqueue_push(&f->vq, 2, 7), 0);
	assert_int_equal(virtqueue_push(&f->vq, 1, 8), 0);
	assert_int_equal(virtqueue_push(&f->vq, 1, 8), -EINVAL);
	assert_int_equal(rd16(f, f->used + 2), 12);
	assert_int_equal(rd32(f, f->used + 4 + 8 * 2), 2);
	assert_int_equal(rd32(f, f->used + 4 + 8 * 3), 1);
}

static void check_event(struct fx *f, uint16_t used_event, uint16_t old, uint16_t new,
			bool expect)
{
	wr16(f, f->avail + 4 + 2ull * f->size, used_event);
	f->vq.used_idx = new;
	assert_int_equal(virtqueue_should_notify(&f->vq, old), expect);
}

static void test_notify_event_idx(void **state)
{
	struct fx *f = *state;

	start(f, 8, true, false);
	check_event(f, 0, 0, 1, true);   /* used_event 0: after the first buffer */
	check_event(f, 0, 1, 2, false);
	check_event(f, 1, 1, 2, true);
	check_event(f, 1, 0, 3, true);   /* event inside a batch */
	check_event(f, 2, 0, 3, true);
	check_event(f, 3, 0, 3, false);  /* not yet: idx must reach event + 1 */
	check_event(f, 0xffff, 0, 3, false);
	check_event(f, 5, 5, 5, false);  /* nothing pushed */
	/* Wrap of the 16-bit indices: 0xfffe -> 0x0001 covers 0xfffe, 0xffff, 0x0000. */
	check_event(f, 0xfffe, 0xfffe, 0x0001, true);
	check_event(f, 0xffff, 0xfffe, 0x0001, true);
	check_event(f, 0x0000, 0xfffe, 0x0001, true);
	check_event(f, 0x0001, 0xfffe, 0x0001, false);
	check_event(f, 0xfffd, 0xfffe, 0x0001, false);
	check_event(f, 0x8000, 0xfffe, 0x0001, false);
	check_event(f, 0xffff, 0xffff, 0x0000, true);
	/* The NO_INTERRUPT flag is ignored with EVENT_IDX (2.7.7.2). */
	wr16(f, f->avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
	check_event(f, 7, 7, 8, true);
	check_event(f, 9, 7, 8, false);

	/* Through pop and push. */
	start(f, 8, true, false);
	put(f, f->desc, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	wr16(f, f->avail + 4 + 2 * 8, 1); /* interrupt after the second buffer */
	for (int n = 0; n < 3; n++) {
		uint16_t old = f->vq.used_idx;

		offer(f, 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(virtqueue_push(&f->vq, 0, 8), 0);
		assert_int_equal(virtqueue_should_notify(&f->vq, old), n == 1);
	}
}

static void test_notify_flags(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	wr16(f, f->avail + 4 + 2 * 8, 0x1234); /* used_event is ignored */
	f->vq.used_idx = 1;
	assert_true(virtqueue_should_notify(&f->vq, 0));
	assert_false(virtqueue_should_notify(&f->vq, 1)); /* nothing pushed */
	wr16(f, f->avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtqueue_should_notify(&f->vq, 0));
	wr16(f, f->avail, 0);
	f->vq.used_idx = 0;
	assert_true(virtqueue_should_notify(&f->vq, 0xffff));
}

static void test_set_notify(void **state)
{
	struct fx *f = *state;
	const uint64_t avail_event = USED + 4 + 8 * 8;

	/* EVENT_IDX: avail_event follows last_avail_idx when enabled. */
	start(f, 8, true, false);
	put(f, f->desc, 0, BUF, 8, 0, 0);
	for (int i = 0; i < 5; i++) {
		offer(f, 0);
		assert_int_equal(pop(f), 1);
	}
	assert_false(virtqueue_set_notify(&f->vq, true)); /* empty */
	assert_int_equal(rd16(f, avail_event), 5);
	assert_int_equal(rd16(f, USED), 0); /* flags stay 0 with EVENT_IDX */
	offer(f, 0);
	assert_true(virtqueue_set_notify(&f->vq, true)); /* a buffer is waiting */
	assert_int_equal(pop(f), 1);
	assert_false(virtqueue_set_notify(&f->vq, false));
	assert_int_equal(rd16(f, avail_event), 5); /* suppressing leaves it */
	assert_int_equal(rd16(f, USED), 0);
	virtqueue_set_avail_event(&f->vq, 0xbeef);
	assert_int_equal(rd16(f, avail_event), 0xbeef);

	/* Without EVENT_IDX: the NO_NOTIFY flag; avail_event is never written. */
	start(f, 8, false, false);
	assert_false(virtqueue_set_notify(&f->vq, false));
	assert_int_equal(rd16(f, USED), VIRTQ_USED_F_NO_NOTIFY);
	offer(f, 0);
	assert_true(virtqueue_set_notify(&f->vq, true));
	assert_int_equal(rd16(f, USED), 0);
	virtqueue_set_avail_event(&f->vq, 0xbeef);
	assert_int_equal(rd16(f, avail_event), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validate_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_rings_in_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simple_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rings_above_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_bytes_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_notify, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
