/* virtqueue: indirect tables, buffers outside RAM, zero lengths, the available index and the
 * segment/byte limits of a chain (virtio 1.2, 2.7.5.3 and 2.7.13). */
#include "vq_test_util.h"

/* ---- indirect tables and limits ---- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_TEST(test_indirect_good),
		VQ_TEST(test_indirect_errors),
		VQ_TEST(test_buffers_outside_ram),
		VQ_TEST(test_zero_length),
		VQ_TEST(test_avail_idx_jump),
		VQ_TEST(test_segment_limit),
		VQ_TEST(test_chain_bytes_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
