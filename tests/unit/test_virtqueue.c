/* virtqueue: queue validation, basic chains (order rule, loops, length, index ranges), the used
 * ring, and both notification-suppression schemes (virtio 1.2, 2.7). */
#include "vq_test_util.h"

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
		VQ_TEST(test_validate_sizes),
		VQ_TEST(test_validate_alignment),
		VQ_TEST(test_validate_rings_in_ram),
		VQ_TEST(test_not_ready),
		VQ_TEST(test_simple_chain),
		VQ_TEST(test_rings_above_hole),
		VQ_TEST(test_order_rule),
		VQ_TEST(test_loops),
		VQ_TEST(test_chain_length),
		VQ_TEST(test_next_out_of_range),
		VQ_TEST(test_head_out_of_range),
		VQ_TEST(test_push),
		VQ_TEST(test_notify_event_idx),
		VQ_TEST(test_notify_flags),
		VQ_TEST(test_set_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
