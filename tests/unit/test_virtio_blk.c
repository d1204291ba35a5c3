/* virtio-blk (virtio 1.2, 5.2) on a raw image, driven like a guest driver would: split rings
 * in a guest_mem, chains in the available ring, queue_notify, completions from the event loop
 * (run by hand, no thread). Every device test runs twice: with the io_uring engine and with
 * the thread-pool engine (KILN_NO_IO_URING=1). Also raw_image's errors and locking, and the
 * I/O engines on their own. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "block/io_engine.h"
#include "block/raw_image.h"
#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtqueue.h"

#define MIB (1ull << 20)
#define RAM (32 * MIB)
#define RINGS 0x100000ull          /* queue q's rings at RINGS + q * RING_STRIDE */
#define RING_STRIDE 0x40000ull
#define BUF 0x1000000ull           /* data buffers: [16 MiB, 32 MiB) */
#define IMG_BYTES (1 * MIB)
#define IMG_SECTORS (IMG_BYTES / 512)
#define SERIAL "kiln-serial-0123"

static bool use_threads; /* this pass's engine: KILN_NO_IO_URING=1 */

struct fx {
	struct guest_mem m;
	struct event_loop loop;
	struct virtio_dev *d;
	struct disk_config cfg;
	char path[64];
	int fd;                 /* the test's own view of the image (no lock) */
	uint32_t qsize;
	uint16_t avail_idx[4];
	uint16_t next_desc[4];
	unsigned int signals, needs_reset;
	bool event_idx;
};

struct opts {
	bool readonly, direct, no_flush, event_idx;
	unsigned int queues;
	uint32_t qsize;
	const char *serial;
	const char *dir;        /* where the image goes; default /var/tmp */
	uint64_t img_bytes;     /* default IMG_BYTES */
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 512 + 1);
}

/* ---- transport stand-in ---- */

static void t_signal_used(void *t, unsigned int q)
{
	((struct fx *)t)->signals++;
}

static void t_signal_config(void *t)
{
}

static void t_needs_reset(void *t)
{
	((struct fx *)t)->needs_reset++;
}

static const struct virtio_transport_ops tops = {
	.signal_used = t_signal_used,
	.signal_config = t_signal_config,
	.needs_reset = t_needs_reset,
};

/* ---- guest side ---- */

static uint64_t desc_gpa(unsigned int q) { return RINGS + q * RING_STRIDE; }
static uint64_t avail_gpa(unsigned int q) { return desc_gpa(q) + 0x10000; }
static uint64_t used_gpa(unsigned int q) { return desc_gpa(q) + 0x20000; }

static uint8_t *host(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static void wr16(struct fx *f, uint64_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	memcpy(host(f, gpa, 2), &le, 2);
}

static uint16_t rd16(struct fx *f, uint64_t gpa)
{
	uint16_t le;

	memcpy(&le, host(f, gpa, 2), 2);
	return le16toh(le);
}

static uint32_t rd32(struct fx *f, uint64_t gpa)
{
	uint32_t le;

	memcpy(&le, host(f, gpa, 4), 4);
	return le32toh(le);
}

static uint16_t used_idx(struct fx *f, unsigned int q)
{
	return rd16(f, used_gpa(q) + 2);
}

/* The used element for the n-th completion (free-running n). */
static void used_elem(struct fx *f, unsigned int q, uint16_t n, uint32_t *id, uint32_t *len)
{
	uint64_t e = used_gpa(q) + 4 + 8ull * (n & (f->qsize - 1));

	*id = rd32(f, e);
	*len = rd32(f, e + 4);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Writes a chain into fresh descriptors and makes it available; returns its head. */
static uint16_t post(struct fx *f, unsigned int q, const struct seg *s, unsigned int n)
{
	uint16_t head = f->next_desc[q];

	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) & (f->qsize - 1));
		uint16_t next = (uint16_t)((idx + 1) & (f->qsize - 1));
		struct virtq_desc dsc = {
			.addr = htole64(s[i].gpa),
			.len = htole32(s[i].len),
			.flags = htole16((uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					 (s[i].write ? VIRTQ_DESC_F_WRITE : 0))),
			.next = htole16(next),
		};
		memcpy(host(f, desc_gpa(q) + 16ull * idx, 16), &dsc, 16);
	}
	f->next_desc[q] = (uint16_t)((head + n) & (f->qsize - 1));
	wr16(f, avail_gpa(q) + 4 + 2ull * (f->avail_idx[q] & (f->qsize - 1)), head);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	f->avail_idx[q]++;
	wr16(f, avail_gpa(q) + 2, f->avail_idx[q]);
	return head;
}

static void notify(struct fx *f, unsigned int q)
{
	virtio_dev_lock(f->d);
	if (f->d->active)
		f->d->ops->queue_notify(f->d, q);
	virtio_dev_unlock(f->d);
}

/* Runs the event loop until queue q's used index reaches `idx`. */
static void wait_used(struct fx *f, unsigned int q, uint16_t idx)
{
	for (int i = 0; i < 1000 && used_idx(f, q) != idx; i++)
		assert_true(event_loop_run_once(&f->loop, 10) >= 0);
	assert_int_equal(used_idx(f, q), idx);
}

/* Writes a request header at gpa. */
static void hdr(struct fx *f, uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };

	memcpy(host(f, gpa, sizeof(h)), &h, sizeof(h));
}

/* ---- fixture ---- */

static void image_create(struct fx *f, const char *dir, uint64_t bytes)
{
	uint8_t buf[4096];

	snprintf(f->path, sizeof(f->path), "%s/kiln-blk-test-XXXXXX", dir ? dir : "/var/tmp");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(off + i);
		size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);
		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	f->fd = fd;
}

static void queue_setup(struct fx *f, unsigned int q)
{
	struct virtqueue *vq = &f->d->vqs[q];
	const char *reason = NULL;

	memset(host(f, desc_gpa(q), 16ull * f->qsize), 0, 16ull * f->qsize);
	memset(host(f, avail_gpa(q), 6 + 2ull * f->qsize), 0, 6 + 2ull * f->qsize);
	memset(host(f, used_gpa(q), 6 + 8ull * f->qsize), 0, 6 + 8ull * f->qsize);
	vq->size = f->qsize;
	vq->desc_gpa = desc_gpa(q);
	vq->avail_gpa = avail_gpa(q);
	vq->used_gpa = used_gpa(q);
	vq->event_idx = f->event_idx;
	assert_int_equal(virtqueue_enable(vq, f->d->queue_max_size, &reason), 0);
	f->avail_idx[q] = 0;
	f->next_desc[q] = 0;
}

/* Driver set-up: features, queues, DRIVER_OK. */
static void activate(struct fx *f, bool no_flush)
{
	struct virtio_dev *d = f->d;

	virtio_dev_lock(d);
	d->driver_features = d->host_features | 1ull << VIRTIO_F_VERSION_1;
	if (f->event_idx)
		d->driver_features |= 1ull << VIRTIO_F_EVENT_IDX;
	if (no_flush)
		d->driver_features &= ~(1ull << VIRTIO_BLK_F_FLUSH);
	for (unsigned int q = 0; q < d->nr_queues; q++)
		queue_setup(f, q);
	assert_int_equal(virtio_dev_activate(d), 0);
	assert_true(d->active);
	virtio_dev_unlock(d);
	const char *engine = virtio_blk_engine_name(d);
	assert_non_null(engine);
	if (use_threads)
		assert_string_equal(engine, "threads");
}

static struct fx *fx_new(const struct opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256] = "";

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->m, RAM, 3ull << 30), 0);
	assert_int_equal(event_loop_init(&f->loop), 0);
	image_create(f, o->dir, o->img_bytes ? o->img_bytes : IMG_BYTES);
	f->qsize = o->qsize ? o->qsize : 16;
	f->event_idx = o->event_idx;
	f->cfg = (struct disk_config){
		.path = f->path, .readonly = o->readonly, .direct = o->direct, .id = "disk0",
		.serial = (char *)(o->serial ? o->serial : SERIAL),
		.num_queues = o->queues ? o->queues : 1, .queue_size = f->qsize,
	};
	int r = virtio_blk_create(&f->cfg, 0, &f->m, &f->loop, &f->d, err, sizeof(err));
	if (r != 0)
		fail_msg("virtio_blk_create: %d %s", r, err);
	f->d->transport_ops = &tops;
	f->d->transport = f;
	activate(f, o->no_flush);
	return f;
}

static void fx_free(struct fx *f)
{
	virtio_dev_destroy(f->d);
	event_loop_destroy(&f->loop);
	guest_mem_free(&f->m);
	close(f->fd);
	unlink(f->path);
	free(f);
}

/* One request: header at H, data segments as given, status at S. Returns the status byte and
 * the used length. */
#define H 0x1000000ull
#define S 0x1001000ull
#define D 0x1100000ull

static uint8_t run(struct fx *f, unsigned int q, const struct seg *s, unsigned int n,
		   uint32_t *len)
{
	uint16_t before = used_idx(f, q);
	uint32_t id, l;
	uint16_t head;

	*host(f, S, 1) = 0xee;
	head = post(f, q, s, n);
	notify(f, q);
	wait_used(f, q, (uint16_t)(before + 1));
	assert_int_equal(virtio_blk_inflight(f->d), 0);
	used_elem(f, q, before, &id, &l);
	assert_int_equal(id, head);
	if (len)
		*len = l;
	return *host(f, S, 1);
}

static uint8_t rw(struct fx *f, uint32_t type, uint64_t sector, uint64_t data, uint32_t bytes,
		  uint32_t *len)
{
	struct seg s[3] = {
		{ H, 16, false },
		{ data, bytes, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID },
		{ S, 1, true },
	};

	hdr(f, H, type, sector);
	if (bytes == 0) {
		s[1] = s[2];
		return run(f, 0, s, 2, len);
	}
	return run(f, 0, s, 3, len);
}

static void expect_file(struct fx *f, uint64_t off, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n);

	assert_non_null(got);
	assert_int_equal(pread(f->fd, got, n, (off_t)off), (ssize_t)n);
	assert_memory_equal(got, want, n);
	free(got);
}

static void expect_pattern(const uint8_t *p, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			fail_msg("byte %zu (offset %llu): %#x, want %#x", i,
				 (unsigned long long)(off + i), p[i], pattern(off + i));
}

static void expect_zero_file(struct fx *f, uint64_t off, size_t n)
{
	uint8_t *zero = calloc(1, n);

	assert_non_null(zero);
	expect_file(f, off, zero, n);
	free(zero);
}

/* ---- device tests ---- */

static void test_config_and_features(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	struct virtio_dev *d = f->d;
	struct virtio_blk_config c;

	assert_int_equal(d->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(d->config_len, 72);
	assert_int_equal(d->nr_queues, 1);
	assert_int_equal(d->queue_max_size, 16);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_FLUSH);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_SEG_MAX);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_DISCARD);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(d->host_features & 1ull << VIRTIO_BLK_F_RO);
	assert_false(d->host_features & 1ull << VIRTIO_BLK_F_MQ);
	virtio_dev_lock(d);
	for (uint32_t off = 0; off < sizeof(c); off += 4)
		d->ops->config_read(d, off, (uint8_t *)&c + off, 4);
	virtio_dev_unlock(d);
	assert_int_equal(le64toh(c.capacity), IMG_SECTORS);
	assert_int_equal(le32toh(c.seg_max), 14);
	assert_true(le32toh(c.seg_max) <= VQ_MAX_SEGS - 2);
	assert_int_equal(le32toh(c.blk_size), 512);
	assert_int_equal(le32toh(c.max_discard_seg), VIRTIO_BLK_MAX_DWZ_SEG);
	assert_int_equal(le32toh(c.max_discard_sectors), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(le32toh(c.max_write_zeroes_sectors), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(c.write_zeroes_may_unmap, 1);
	assert_int_equal(c.unused0, 0);
	fx_free(f);

	struct opts o2 = { .readonly = true, .queues = 4, .qsize = 1024 };
	f = fx_new(&o2);
	d = f->d;
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_RO);
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_MQ);
	assert_false(d->host_features & 1ull << VIRTIO_BLK_F_DISCARD);
	assert_false(d->host_features & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	virtio_dev_lock(d);
	uint16_t nq;
	uint32_t seg_max;
	d->ops->config_read(d, 34, (uint8_t *)&nq, 2);
	d->ops->config_read(d, 12, (uint8_t *)&seg_max, 4);
	virtio_dev_unlock(d);
	assert_int_equal(le16toh(nq), 4);
	assert_int_equal(le32toh(seg_max), VQ_MAX_SEGS - 2);
	fx_free(f);
}

static void test_read(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	/* 8 sectors at sector 3, into two data descriptors. */
	hdr(f, H, VIRTIO_BLK_T_IN, 3);
	struct seg s[] = { { H, 16, false }, { D, 1024, true }, { D + 0x10000, 3072, true },
			   { S, 1, true } };
	assert_int_equal(run(f, 0, s, 4, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 4097);
	expect_pattern(host(f, D, 1024), 3 * 512, 1024);
	expect_pattern(host(f, D + 0x10000, 3072), 3 * 512 + 1024, 3072);
	assert_int_equal(atomic_load(&f->d->read_ops), 1);
	assert_int_equal(atomic_load(&f->d->read_bytes), 4096);
	assert_true(f->signals >= 1);

	/* The last sector, and a zero-length read. */
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, D, 512, &len), VIRTIO_BLK_S_OK);
	expect_pattern(host(f, D, 512), IMG_BYTES - 512, 512);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	fx_free(f);
}

static void test_write(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint8_t *p = host(f, D, 8192);
	uint32_t len;

	for (int i = 0; i < 8192; i++)
		p[i] = (uint8_t)(0xa5 ^ i);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 100, D, 8192, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	expect_file(f, 100 * 512, p, 8192);
	assert_int_equal(atomic_load(&f->d->write_ops), 1);
	assert_int_equal(atomic_load(&f->d->write_bytes), 8192);

	/* Header and data in one readable descriptor, data and status... */
	uint8_t *hp = host(f, D + 0x100000, 16 + 512);
	hdr(f, D + 0x100000, VIRTIO_BLK_T_OUT, 7);
	memset(hp + 16, 0x3c, 512);
	struct seg s[] = { { D + 0x100000, 16 + 512, false }, { S, 1, true } };
	assert_int_equal(run(f, 0, s, 2, &len), VIRTIO_BLK_S_OK);
	expect_file(f, 7 * 512, hp + 16, 512);
	/* ...and the neighbours untouched. */
	uint8_t before[512];
	assert_int_equal(pread(f->fd, before, 512, 6 * 512), 512);
	expect_pattern(before, 6 * 512, 512);
	fx_free(f);
}

static void test_write_without_flush_feature(void **state)
{
	struct opts o = { .no_flush = true };
	struct fx *f = fx_new(&o);
	uint8_t *p = host(f, D, 4096);

	memset(p, 0x77, 4096);
	/* Writes are then synced before completion (5.2.6.3 case 1); the result is the same. */
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, D, 4096, NULL), VIRTIO_BLK_S_OK);
	expect_file(f, 0, p, 4096);
	fx_free(f);
}

static void test_flush(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	assert_int_equal(rw(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	fx_free(f);
}

static void test_get_id(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;
	uint8_t want[20] = SERIAL;

	memset(host(f, D, 64), 0xff, 64);
	assert_int_equal(rw(f, VIRTIO_BLK_T_GET_ID, 0, D, 20, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(host(f, D, 20), want, 20);
	assert_int_equal(*host(f, D + 20, 1), 0xff); /* nothing past the buffer */
	fx_free(f);

	/* A 20-byte serial has no NUL; no serial gives the image's identity. */
	struct opts o2 = { .serial = "abcdefghijklmnopqrst" };
	f = fx_new(&o2);
	assert_int_equal(rw(f, VIRTIO_BLK_T_GET_ID, 0, D, 20, &len), VIRTIO_BLK_S_OK);
	assert_memory_equal(host(f, D, 20), "abcdefghijklmnopqrst", 20);
	fx_free(f);
}

static void test_get_id_default_serial(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->m, RAM, 3ull << 30), 0);
	assert_int_equal(event_loop_init(&f->loop), 0);
	image_create(f, NULL, IMG_BYTES);
	f->qsize = 16;
	f->cfg = (struct disk_config){ .path = f->path, .num_queues = 1, .queue_size = 16 };
	assert_int_equal(virtio_blk_create(&f->cfg, 3, &f->m, &f->loop, &f->d, err,
					   sizeof(err)), 0);
	assert_string_equal(f->d->id, "_disk3");
	activate(f, false);
	memset(host(f, D, 20), 0xff, 20);
	assert_int_equal(rw(f, VIRTIO_BLK_T_GET_ID, 0, D, 20, NULL), VIRTIO_BLK_S_OK);
	assert_true(host(f, D, 1)[0] != 0 && host(f, D, 1)[0] != 0xff);
	fx_free(f);
}

static void put_dwz(struct fx *f, uint64_t gpa, uint64_t sector, uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { htole64(sector), htole32(num),
						     htole32(flags) };

	memcpy(host(f, gpa, sizeof(s)), &s, sizeof(s));
}

static uint8_t dwz(struct fx *f, uint32_t type, unsigned int nseg, uint32_t *len)
{
	struct seg s[] = { { H, 16, false }, { D, 16 * nseg, false }, { S, 1, true } };

	hdr(f, H, type, 0);
	return run(f, 0, s, 3, len);
}

static void test_discard_write_zeroes(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	/* Discard two ranges (4 KiB-aligned, so the file system really punches). */
	put_dwz(f, D, 8, 16, 0);
	put_dwz(f, D + 16, 64, 8, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 2, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	expect_zero_file(f, 8 * 512, 16 * 512);
	expect_zero_file(f, 64 * 512, 8 * 512);
	uint8_t b[512];
	assert_int_equal(pread(f->fd, b, 512, 7 * 512), 512);
	expect_pattern(b, 7 * 512, 512);
	assert_int_equal(pread(f->fd, b, 512, 24 * 512), 512);
	expect_pattern(b, 24 * 512, 512);

	/* Write zeroes, unaligned and with UNMAP; the size stays. */
	put_dwz(f, D, 201, 3, 0);
	put_dwz(f, D + 16, 300, 9, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 2, &len), VIRTIO_BLK_S_OK);
	expect_zero_file(f, 201 * 512, 3 * 512);
	expect_zero_file(f, 300 * 512, 9 * 512);
	assert_int_equal(pread(f->fd, b, 512, 200 * 512), 512);
	expect_pattern(b, 200 * 512, 512);
	assert_int_equal(pread(f->fd, b, 512, 309 * 512), 512);
	expect_pattern(b, 309 * 512, 512);
	struct stat st;
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_BYTES);

	/* Invalid: UNMAP on a discard, unknown flags, out of range, too many segments, a
	 * partial segment, too large. */
	put_dwz(f, D, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	put_dwz(f, D, 0, 1, 2);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	put_dwz(f, D, IMG_SECTORS - 1, 2, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_IOERR);
	put_dwz(f, D, UINT64_MAX, 2, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 1, NULL), VIRTIO_BLK_S_IOERR);
	for (unsigned int i = 0; i <= VIRTIO_BLK_MAX_DWZ_SEG; i++)
		put_dwz(f, D + 16 * i, i, 1, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_MAX_DWZ_SEG + 1, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_MAX_DWZ_SEG, NULL),
			 VIRTIO_BLK_S_OK);
	struct seg part[] = { { H, 16, false }, { D, 24, false }, { S, 1, true } };
	hdr(f, H, VIRTIO_BLK_T_DISCARD, 0);
	assert_int_equal(run(f, 0, part, 3, NULL), VIRTIO_BLK_S_IOERR);
	struct seg none[] = { { H, 16, false }, { S, 1, true } };
	assert_int_equal(run(f, 0, none, 2, NULL), VIRTIO_BLK_S_IOERR);
	put_dwz(f, D, 0, VIRTIO_BLK_MAX_DWZ_SECTORS + 1, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_IOERR);
	fx_free(f);
}

/* On tmpfs, fallocate cannot zero a range (EOPNOTSUPP): WRITE_ZEROES falls back to writing
 * zeros, in chunks, and remembers; punching holes works there. */
static void test_write_zeroes_fallback(void **state)
{
	struct statfs sfs;

	if (statfs("/dev/shm", &sfs) != 0 || sfs.f_type != TMPFS_MAGIC) {
		print_message("/dev/shm is not tmpfs; skipped\n");
		skip();
	}
	struct opts o = { .dir = "/dev/shm", .img_bytes = 4 * MIB };
	struct fx *f = fx_new(&o);

	put_dwz(f, D, 3, 5, 0);
	put_dwz(f, D + 16, 1000, 4100, 0); /* over 2 MiB: three zero-write chunks */
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 2, NULL), VIRTIO_BLK_S_OK);
	uint8_t b[512];
	expect_zero_file(f, 3 * 512, 5 * 512);
	expect_zero_file(f, 1000 * 512, 4100 * 512);
	assert_int_equal(pread(f->fd, b, 512, 5100 * 512), 512);
	expect_pattern(b, 5100 * 512, 512);
	assert_int_equal(pread(f->fd, b, 512, 2 * 512), 512);
	expect_pattern(b, 2 * 512, 512);
	assert_int_equal(pread(f->fd, b, 512, 8 * 512), 512);
	expect_pattern(b, 8 * 512, 512);
	/* Again, now without trying fallocate first; and a discard (a real hole). */
	put_dwz(f, D, 20, 1, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_OK);
	expect_zero_file(f, 20 * 512, 512);
	put_dwz(f, D, 40, 8, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 1, NULL), VIRTIO_BLK_S_OK);
	expect_zero_file(f, 40 * 512, 8 * 512);
	fx_free(f);
}

/* The image shrinks under the device (another process truncates it): reads past the new
 * end are I/O errors, not crashes. */
static void test_io_error(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	assert_int_equal(ftruncate(f->fd, IMG_BYTES / 2), 0);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 8, D, 4096, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 4097);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, IMG_SECTORS / 2 - 1, D, 1024, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(atomic_load(&f->d->read_ops), 0);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 4096, NULL), VIRTIO_BLK_S_OK);
	assert_true(f->d->active);
	fx_free(f);
}

/* More data segments than a request holds inline (48 of 512 bytes, reversed in RAM). */
static void test_many_segments(void **state)
{
	struct opts o = { .qsize = 64 };
	struct fx *f = fx_new(&o);
	struct seg s[50];
	uint32_t len;

	hdr(f, H, VIRTIO_BLK_T_IN, 100);
	s[0] = (struct seg){ H, 16, false };
	for (unsigned int i = 0; i < 48; i++)
		s[1 + i] = (struct seg){ D + 0x1000ull * (47 - i), 512, true };
	s[49] = (struct seg){ S, 1, true };
	assert_int_equal(run(f, 0, s, 50, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 48 * 512 + 1);
	for (unsigned int i = 0; i < 48; i++)
		expect_pattern(host(f, D + 0x1000ull * (47 - i), 512), (100 + i) * 512, 512);

	/* And a write from them. */
	hdr(f, H, VIRTIO_BLK_T_OUT, 300);
	for (unsigned int i = 0; i < 48; i++) {
		s[1 + i].write = false;
		memset(host(f, s[1 + i].gpa, 512), (int)i, 512);
	}
	assert_int_equal(run(f, 0, s, 50, &len), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 48; i++)
		expect_file(f, (300 + i) * 512, host(f, s[1 + i].gpa, 512), 512);
	fx_free(f);
}

static void test_write_zeroes_without_flush_feature(void **state)
{
	struct opts o = { .no_flush = true };
	struct fx *f = fx_new(&o);

	put_dwz(f, D, 16, 16, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_OK);
	expect_zero_file(f, 16 * 512, 16 * 512);
	fx_free(f);
}

static void test_out_of_range(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;
	uint8_t *p = host(f, D, 1024);

	memset(p, 0x11, 1024);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, IMG_SECTORS, D, 512, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, D, 1024, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, D, 1024, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, UINT64_MAX, D, 512, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, D, 1024, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 1ull << 55, D, 512, NULL), VIRTIO_BLK_S_IOERR);
	/* Not whole sectors. */
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 511, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, D, 513, NULL), VIRTIO_BLK_S_IOERR);
	/* Nothing read or written. */
	for (int i = 0; i < 1024; i++)
		assert_int_equal(p[i], 0x11);
	uint8_t b[1024];
	assert_int_equal(pread(f->fd, b, 1024, IMG_BYTES - 1024), 1024);
	expect_pattern(b, IMG_BYTES - 1024, 1024);
	assert_int_equal(atomic_load(&f->d->read_ops), 0);
	assert_int_equal(atomic_load(&f->d->write_ops), 0);
	assert_true(f->d->active);
	fx_free(f);
}

static void test_readonly(void **state)
{
	struct opts o = { .readonly = true };
	struct fx *f = fx_new(&o);
	uint8_t *p = host(f, D, 4096);

	memset(p, 0x99, 4096);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, D, 4096, NULL), VIRTIO_BLK_S_IOERR);
	uint8_t b[4096];
	assert_int_equal(pread(f->fd, b, 4096, 0), 4096);
	expect_pattern(b, 0, 4096);
	put_dwz(f, D, 0, 8, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(pread(f->fd, b, 4096, 0), 4096);
	expect_pattern(b, 0, 4096);
	/* Reads and flushes work. */
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 4096, NULL), VIRTIO_BLK_S_OK);
	expect_pattern(p, 0, 4096);
	assert_int_equal(rw(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	fx_free(f);
}

static void test_malformed(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;
	uint16_t before;

	/* No writable byte at all: returned with len 0, nothing written. */
	hdr(f, H, VIRTIO_BLK_T_IN, 0);
	struct seg s1[] = { { H, 16, false }, { D, 512, false } };
	memset(host(f, D, 512), 0x42, 512);
	before = used_idx(f, 0);
	post(f, 0, s1, 2);
	notify(f, 0);
	wait_used(f, 0, (uint16_t)(before + 1));
	uint32_t id;
	used_elem(f, 0, before, &id, &len);
	assert_int_equal(len, 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(host(f, D, 512)[i], 0x42);

	/* Header only (no status): same. */
	struct seg s2[] = { { H, 16, false } };
	before = used_idx(f, 0);
	post(f, 0, s2, 1);
	notify(f, 0);
	wait_used(f, 0, (uint16_t)(before + 1));
	used_elem(f, 0, before, &id, &len);
	assert_int_equal(len, 0);

	/* Short header (15 bytes), or none: IOERR in the status byte. */
	struct seg s3[] = { { H, 15, false }, { D, 512, true }, { S, 1, true } };
	assert_int_equal(run(f, 0, s3, 3, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	struct seg s4[] = { { S, 1, true } };
	assert_int_equal(run(f, 0, s4, 1, &len), VIRTIO_BLK_S_IOERR);
	/* A read whose only writable byte is the status: zero-length read. */
	hdr(f, H, VIRTIO_BLK_T_IN, 0);
	struct seg s5[] = { { H, 16, false }, { S, 1, true } };
	assert_int_equal(run(f, 0, s5, 2, &len), VIRTIO_BLK_S_OK);
	/* Unknown types, GET_LIFETIME and SECURE_ERASE: UNSUPP. */
	static const uint32_t types[] = { 2, 3, 5, 9, VIRTIO_BLK_T_GET_LIFETIME,
					  VIRTIO_BLK_T_SECURE_ERASE, 0x80000000u, UINT32_MAX };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		hdr(f, H, types[i], 0);
		struct seg s6[] = { { H, 16, false }, { D, 512, true }, { S, 1, true } };
		assert_int_equal(run(f, 0, s6, 3, &len), VIRTIO_BLK_S_UNSUPP);
		assert_int_equal(len, 1);
	}
	assert_true(f->d->active);
	assert_int_equal(f->needs_reset, 0);
	fx_free(f);
}

static void test_split_header(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	/* Header over three descriptors (3 + 8 + 5 bytes); data and status share one (513). */
	struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_IN), 0, htole64(5) };
	memcpy(host(f, H, 3), &h, 3);
	memcpy(host(f, H + 0x100, 8), (uint8_t *)&h + 3, 8);
	memcpy(host(f, H + 0x200, 5), (uint8_t *)&h + 11, 5);
	uint8_t *ds = host(f, D, 513);
	memset(ds, 0xee, 513);
	struct seg s[] = { { H, 3, false }, { H + 0x100, 8, false }, { H + 0x200, 5, false },
			   { D, 513, true } };
	uint16_t before = used_idx(f, 0);
	post(f, 0, s, 4);
	notify(f, 0);
	wait_used(f, 0, (uint16_t)(before + 1));
	uint32_t id;
	used_elem(f, 0, before, &id, &len);
	assert_int_equal(len, 513);
	assert_int_equal(ds[512], VIRTIO_BLK_S_OK);
	expect_pattern(ds, 5 * 512, 512);

	/* A write whose header and data share descriptors unevenly: 10 | 6 + 100 | 412. */
	uint8_t data[512];
	for (int i = 0; i < 512; i++)
		data[i] = (uint8_t)(i * 13);
	struct virtio_blk_outhdr w = { htole32(VIRTIO_BLK_T_OUT), 0, htole64(9) };
	memcpy(host(f, H, 10), &w, 10);
	memcpy(host(f, H + 0x100, 6), (uint8_t *)&w + 10, 6);
	memcpy(host(f, H + 0x106, 100), data, 100);
	memcpy(host(f, H + 0x300, 412), data + 100, 412);
	struct seg s2[] = { { H, 10, false }, { H + 0x100, 106, false }, { H + 0x300, 412, false },
			    { S, 1, true } };
	assert_int_equal(run(f, 0, s2, 4, &len), VIRTIO_BLK_S_OK);
	expect_file(f, 9 * 512, data, 512);
	fx_free(f);
}

/* Many requests in one notification, over several rounds (the ring indices wrap), with
 * EVENT_IDX: reads and writes of distinct sectors, each with its own status byte. */
static void test_many(void **state)
{
	struct opts o = { .qsize = 64, .event_idx = true };
	struct fx *f = fx_new(&o);

	for (unsigned int round = 0; round < 8; round++) {
		uint16_t before = used_idx(f, 0);

		for (unsigned int i = 0; i < 21; i++) {
			uint64_t h = H + 0x100 * i, st = S + 0x10 * i, buf = D + 0x1000 * i;
			bool wr = (i + round) % 3 == 0;
			hdr(f, h, wr ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 8 * i + round);
			if (wr)
				memset(host(f, buf, 512), (int)(round * 21 + i), 512);
			struct seg s[] = { { h, 16, false }, { buf, 512, !wr }, { st, 1, true } };
			*host(f, st, 1) = 0xee;
			post(f, 0, s, 3);
		}
		notify(f, 0);
		wait_used(f, 0, (uint16_t)(before + 21));
		for (unsigned int i = 0; i < 21; i++) {
			uint64_t buf = D + 0x1000 * i, sector = 8 * i + round;
			assert_int_equal(*host(f, S + 0x10 * i, 1), VIRTIO_BLK_S_OK);
			if ((i + round) % 3 == 0) {
				expect_file(f, sector * 512, host(f, buf, 512), 512);
			} else {
				uint8_t file[512];
				assert_int_equal(pread(f->fd, file, 512, (off_t)(sector * 512)), 512);
				assert_memory_equal(host(f, buf, 512), file, 512);
			}
		}
	}
	assert_true(f->d->active);
	fx_free(f);
}

/* The driver offers more chains than there are requests while the first ones are in flight
 * (a buggy or hostile driver re-offering a head): serve them as requests free up. */
static void test_overcommit(void **state)
{
	struct opts o = { .qsize = 2 };
	struct fx *f = fx_new(&o);

	/* Queue size 2: a 2-descriptor chain, data and status in one 513-byte buffer. */
	hdr(f, H, VIRTIO_BLK_T_IN, 1);
	struct seg s2[] = { { H, 16, false }, { D, 513, true } };
	uint16_t before = used_idx(f, 0);
	for (unsigned int round = 0; round < 2; round++) {
		f->next_desc[0] = 0;
		post(f, 0, s2, 2);
		f->next_desc[0] = 0;
		post(f, 0, s2, 2);
		notify(f, 0); /* both taken, both in flight */
	}
	/* Second notify found the pool empty unless the first two completed already. */
	wait_used(f, 0, (uint16_t)(before + 4));
	assert_int_equal(*host(f, D + 512, 1), VIRTIO_BLK_S_OK);
	expect_pattern(host(f, D, 512), 512, 512);
	assert_true(f->d->active);
	fx_free(f);
}

static void test_multiqueue(void **state)
{
	struct opts o = { .queues = 3 };
	struct fx *f = fx_new(&o);
	uint32_t len;

	for (unsigned int q = 0; q < 3; q++) {
		hdr(f, H, VIRTIO_BLK_T_IN, 10 + q);
		struct seg s[] = { { H, 16, false }, { D, 512, true }, { S, 1, true } };
		assert_int_equal(run(f, q, s, 3, &len), VIRTIO_BLK_S_OK);
		expect_pattern(host(f, D, 512), (10 + q) * 512, 512);
	}
	assert_int_equal(atomic_load(&f->d->read_ops), 3);
	fx_free(f);
}

/* A ring violation fails the device (DEVICE_NEEDS_RESET) from queue_notify. */
static void test_ring_violation(void **state)
{
	struct opts o = { 0 };
	struct fx *f = fx_new(&o);

	wr16(f, avail_gpa(0) + 4, 999); /* head out of the table */
	f->avail_idx[0]++;
	wr16(f, avail_gpa(0) + 2, f->avail_idx[0]);
	notify(f, 0);
	assert_false(f->d->active);
	assert_int_equal(f->needs_reset, 1);
	assert_null(virtio_blk_engine_name(f->d));
	/* The driver resets and starts over: the device works again. */
	virtio_dev_lock(f->d);
	virtio_dev_reset(f->d);
	virtio_dev_unlock(f->d);
	activate(f, false);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 512, NULL), VIRTIO_BLK_S_OK);
	fx_free(f);
}

/* A ring violation found while resuming a stalled queue from the completion handler: the
 * device resets itself from inside its own handler (engine drained and freed mid-handler). */
static void test_violation_in_completion(void **state)
{
	struct opts o = { .qsize = 2 };
	struct fx *f = fx_new(&o);
	struct seg s[] = { { H, 16, false }, { D, 513, true } };

	hdr(f, H, VIRTIO_BLK_T_IN, 0);
	for (int i = 0; i < 2; i++) {
		f->next_desc[0] = 0;
		post(f, 0, s, 2);
	}
	notify(f, 0);
	/* Two bad entries while both requests are (probably) in flight. */
	for (int i = 0; i < 2; i++) {
		wr16(f, avail_gpa(0) + 4 + 2ull * (f->avail_idx[0] & 1), 7);
		f->avail_idx[0]++;
	}
	wr16(f, avail_gpa(0) + 2, f->avail_idx[0]);
	notify(f, 0);
	for (int i = 0; i < 200 && f->d->active; i++)
		assert_true(event_loop_run_once(&f->loop, 10) >= 0);
	assert_false(f->d->active);
	assert_int_equal(f->needs_reset, 1);
	/* Nothing runs any more. */
	for (int i = 0; i < 5; i++)
		assert_true(event_loop_run_once(&f->loop, 1) >= 0);
	fx_free(f);
}

/* Reset with I/O in flight: waits for it, forgets it; destroy after that. */
static void test_reset_in_flight(void **state)
{
	struct opts o = { .qsize = 64 };
	struct fx *f = fx_new(&o);

	for (unsigned int i = 0; i < 20; i++) {
		uint64_t h = H + 0x100 * i;
		hdr(f, h, i & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 8 * i);
		struct seg s[] = { { h, 16, false }, { D + 0x1000 * i, 4096, !(i & 1) },
				   { S + i, 1, true } };
		post(f, 0, s, 3);
	}
	notify(f, 0);
	virtio_dev_lock(f->d);
	virtio_dev_reset(f->d);
	virtio_dev_unlock(f->d);
	assert_false(f->d->active);
	for (int i = 0; i < 5; i++)
		assert_true(event_loop_run_once(&f->loop, 1) >= 0);
	activate(f, false);
	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, D, 512, NULL), VIRTIO_BLK_S_OK);
	/* And destroy while active with I/O in flight. */
	hdr(f, H, VIRTIO_BLK_T_IN, 0);
	struct seg s[] = { { H, 16, false }, { D, 65536, true }, { S, 1, true } };
	post(f, 0, s, 3);
	notify(f, 0);
	fx_free(f);
}

/* O_DIRECT: aligned buffers go straight to guest RAM, unaligned ones through a bounce
 * buffer. Skipped when the temporary directory's file system has no O_DIRECT. */
static void test_direct(void **state)
{
	char path[] = "/var/tmp/kiln-blk-direct-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	int dfd = open(path, O_RDWR | O_DIRECT);
	close(fd);
	unlink(path);
	if (dfd < 0) {
		print_message("no O_DIRECT in /var/tmp; skipped\n");
		skip();
	}
	close(dfd);

	struct opts o = { .direct = true };
	struct fx *f = fx_new(&o);
	uint32_t len;

	assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 16, D, 4096, &len), VIRTIO_BLK_S_OK);
	expect_pattern(host(f, D, 4096), 16 * 512, 4096);
	/* Unaligned address and uneven segments. */
	hdr(f, H, VIRTIO_BLK_T_IN, 2);
	struct seg s[] = { { H, 16, false }, { D + 1, 700, true }, { D + 0x2003, 324, true },
			   { S, 1, true } };
	assert_int_equal(run(f, 0, s, 4, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1025);
	expect_pattern(host(f, D + 1, 700), 1024, 700);
	expect_pattern(host(f, D + 0x2003, 324), 1024 + 700, 324);
	/* Unaligned write. */
	uint8_t *p = host(f, D + 0x4001, 1024);
	for (int i = 0; i < 1024; i++)
		p[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 40, D + 0x4001, 1024, NULL), VIRTIO_BLK_S_OK);
	expect_file(f, 40 * 512, p, 1024);
	/* Aligned write. */
	p = host(f, D + 0x8000, 4096);
	memset(p, 0xc3, 4096);
	assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 80, D + 0x8000, 4096, NULL), VIRTIO_BLK_S_OK);
	expect_file(f, 80 * 512, p, 4096);
	/* Discard and write zeroes work with O_DIRECT too. */
	put_dwz(f, D, 80, 8, 0);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, NULL), VIRTIO_BLK_S_OK);
	expect_zero_file(f, 80 * 512, 4096);
	fx_free(f);
}

static void test_create_errors(void **state)
{
	struct guest_mem m;
	struct event_loop loop;
	struct virtio_dev *d = (struct virtio_dev *)1;
	char err[256];

	assert_int_equal(guest_mem_init(&m, RAM, 3ull << 30), 0);
	assert_int_equal(event_loop_init(&loop), 0);
	struct disk_config cfg = { .path = "/nonexistent/kiln.img", .num_queues = 1,
				   .queue_size = 128 };
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d, err, sizeof(err)), -ENOENT);
	assert_null(d);
	assert_non_null(strstr(err, "/nonexistent/kiln.img"));
	assert_non_null(strstr(err, "does not exist"));
	cfg.path = "/dev/null";
	cfg.queue_size = 100;
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "queue_size"));
	cfg.queue_size = 128;
	cfg.num_queues = 0;
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d, err, sizeof(err)), -EINVAL);
	cfg.num_queues = 1;
	cfg.serial = "123456789012345678901";
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d, err, sizeof(err)), -EINVAL);
	cfg.serial = NULL;
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file or block device"));
	event_loop_destroy(&loop);
	guest_mem_free(&m);
}

/* ---- raw images ---- */

static void temp_image(char *path, size_t n, uint64_t bytes)
{
	snprintf(path, n, "/var/tmp/kiln-raw-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

static void test_raw_image_errors(void **state)
{
	struct raw_image img;
	struct disk_config cfg = { 0 };
	char err[256], dir[] = "/var/tmp/kiln-raw-dir-XXXXXX";

	cfg.path = "/var/tmp/kiln-does-not-exist.img";
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, cfg.path));
	assert_int_equal(img.fd, -1);

	assert_non_null(mkdtemp(dir));
	cfg.path = dir;
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "is a directory"));
	cfg.readonly = true; /* O_RDONLY opens a directory: fstat catches it */
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), -EISDIR);
	rmdir(dir);

	cfg.path = "/dev/null";
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file or block device"));
	cfg.readonly = false;

	cfg.path = NULL;
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), -EINVAL);
}

static void test_raw_image_lock(void **state)
{
	struct raw_image a, b;
	struct disk_config rw = { 0 }, ro = { .readonly = true };
	char path[64], err[256];

	temp_image(path, sizeof(path), 4096 + 100);
	rw.path = ro.path = path;

	assert_int_equal(raw_image_open(&rw, &a, err, sizeof(err)), 0);
	assert_int_equal(a.size, 4196);
	assert_int_equal(a.sectors, 8); /* the trailing 100 bytes are not usable */
	assert_false(a.readonly);
	/* A second open file description, even in this process, conflicts (OFD locks). */
	err[0] = '\0';
	assert_int_equal(raw_image_open(&rw, &b, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "is in use by another process (locked)"));
	assert_non_null(strstr(err, path));
	assert_int_equal(b.fd, -1);
	assert_int_equal(raw_image_open(&ro, &b, err, sizeof(err)), -EBUSY);
	raw_image_close(&a);
	raw_image_close(&a); /* twice is fine */

	/* Readers share. */
	assert_int_equal(raw_image_open(&ro, &a, err, sizeof(err)), 0);
	assert_true(a.readonly);
	assert_int_equal(raw_image_open(&ro, &b, err, sizeof(err)), 0);
	struct raw_image c;
	assert_int_equal(raw_image_open(&rw, &c, err, sizeof(err)), -EBUSY);
	raw_image_close(&a);
	raw_image_close(&b);
	/* Closing released the locks. */
	assert_int_equal(raw_image_open(&rw, &c, err, sizeof(err)), 0);
	raw_image_close(&c);

	/* The same through virtio_blk_create. */
	struct guest_mem m;
	struct event_loop loop;
	struct virtio_dev *d1, *d2;
	assert_int_equal(guest_mem_init(&m, RAM, 3ull << 30), 0);
	assert_int_equal(event_loop_init(&loop), 0);
	struct disk_config cfg = { .path = path, .num_queues = 1, .queue_size = 8 };
	assert_int_equal(virtio_blk_create(&cfg, 0, &m, &loop, &d1, err, sizeof(err)), 0);
	assert_int_equal(virtio_blk_create(&cfg, 1, &m, &loop, &d2, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in use by another process"));
	virtio_dev_destroy(d1);
	assert_int_equal(virtio_blk_create(&cfg, 1, &m, &loop, &d2, err, sizeof(err)), 0);
	virtio_dev_destroy(d2);
	event_loop_destroy(&loop);
	guest_mem_free(&m);
	unlink(path);
}

static void test_raw_image_small(void **state)
{
	struct raw_image img;
	struct disk_config cfg = { 0 };
	char path[64], err[256];

	temp_image(path, sizeof(path), 100);
	cfg.path = path;
	assert_int_equal(raw_image_open(&cfg, &img, err, sizeof(err)), 0);
	assert_int_equal(img.sectors, 0);
	assert_true(img.phys_block >= 512 && (img.phys_block & (img.phys_block - 1)) == 0);
	raw_image_close(&img);
	unlink(path);
}

/* ---- the engines on their own ---- */

struct done_log {
	unsigned int n;
	int results[8];
};

static void log_done(void *opaque, struct io_op *op)
{
	struct done_log *l = opaque;

	if (l->n < 8)
		l->results[l->n] = op->result;
	l->n++;
}

static void test_engine(void **state)
{
	char path[64];
	struct io_engine *e;
	uint8_t a[1000], b[3000], c[4000];

	temp_image(path, sizeof(path), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(io_engine_create(fd, 4, &e), 0);
	if (use_threads)
		assert_string_equal(io_engine_name(e), "threads");
	assert_true(io_engine_completion_fd(e) >= 0);

	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct io_op w = { .kind = IO_OP_WRITE, .offset = 96, .iov = wv, .iovcnt = 2, .len = 4000 };
	struct io_op bad = { .kind = IO_OP_WRITE, .offset = 0, .iov = wv, .iovcnt = 2, .len = 5 };
	assert_int_equal(io_engine_submit(e, &bad), -EINVAL); /* len != sum of iov */
	assert_int_equal(io_engine_submit(e, &w), 0);
	io_engine_flush(e);
	struct done_log l = { 0 };
	io_engine_drain(e, log_done, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.results[0], 0);
	assert_int_equal(io_engine_inflight(e), 0);

	/* Read back, plus a read past the end of the file (-EIO), a flush and a fallocate. */
	struct iovec rv = { c, sizeof(c) };
	struct io_op r = { .kind = IO_OP_READ, .offset = 96, .iov = &rv, .iovcnt = 1, .len = 4000 };
	uint8_t x[512];
	struct iovec xv = { x, sizeof(x) };
	struct io_op past = { .kind = IO_OP_READ, .offset = 8192, .iov = &xv, .iovcnt = 1,
			      .len = 512 };
	struct io_op fl = { .kind = IO_OP_FLUSH };
	struct io_op fa = { .kind = IO_OP_FALLOCATE, .offset = 0, .len = 4096,
			    .mode = FALLOC_FL_KEEP_SIZE };
	assert_int_equal(io_engine_submit(e, &r), 0);
	assert_int_equal(io_engine_submit(e, &past), 0);
	assert_int_equal(io_engine_submit(e, &fl), 0);
	assert_int_equal(io_engine_submit(e, &fa), 0);
	struct io_op extra = { .kind = IO_OP_FLUSH };
	assert_int_equal(io_engine_submit(e, &extra), -EAGAIN); /* depth 4 */
	io_engine_flush(e);
	l.n = 0;
	for (int i = 0; i < 1000 && io_engine_inflight(e); i++) {
		usleep(1000);
		io_engine_reap(e, log_done, &l);
	}
	assert_int_equal(l.n, 4);
	assert_int_equal(r.result, 0);
	assert_int_equal(past.result, -EIO);
	assert_int_equal(fl.result, 0);
	assert_int_equal(fa.result, 0);
	assert_memory_equal(c, a, sizeof(a));
	assert_memory_equal(c + sizeof(a), b, sizeof(b));

	/* Short transfers: a read across the end of the file (4096) gets 96 bytes, is continued
	 * for the rest from the right place, hits the end: -EIO. A bad buffer: -EFAULT. */
	struct iovec sv[3] = { { c, 50 }, { c + 50, 100 }, { c + 150, 362 } };
	struct io_op shortr = { .kind = IO_OP_READ, .offset = 4000, .iov = sv, .iovcnt = 3,
				.len = 512 };
	struct iovec fv = { (void *)16, 512 };
	struct io_op fault = { .kind = IO_OP_READ, .offset = 0, .iov = &fv, .iovcnt = 1,
			       .len = 512 };
	assert_int_equal(io_engine_submit(e, &shortr), 0);
	assert_int_equal(io_engine_submit(e, &fault), 0);
	l.n = 0;
	io_engine_drain(e, log_done, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(shortr.result, -EIO);
	assert_int_equal(shortr.done, 96);
	assert_int_equal(fault.result, -EFAULT);
	assert_memory_equal(c, b + sizeof(b) - 96, 96); /* the file's last 96 bytes */
	io_engine_destroy(e);
	close(fd);
	unlink(path);

	/* An explicit choice. */
	fd = open("/dev/null", O_RDWR);
	assert_int_equal(io_engine_create_kind(fd, 1, IO_ENGINE_THREADS, &e), 0);
	assert_string_equal(io_engine_name(e), "threads");
	io_engine_destroy(e);
	assert_int_equal(io_engine_create_kind(fd, 0, IO_ENGINE_THREADS, &e), -EINVAL);
	close(fd);
	io_engine_destroy(NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_config_and_features),
	cmocka_unit_test(test_read),
	cmocka_unit_test(test_write),
	cmocka_unit_test(test_write_without_flush_feature),
	cmocka_unit_test(test_flush),
	cmocka_unit_test(test_get_id),
	cmocka_unit_test(test_get_id_default_serial),
	cmocka_unit_test(test_discard_write_zeroes),
	cmocka_unit_test(test_write_zeroes_fallback),
	cmocka_unit_test(test_io_error),
	cmocka_unit_test(test_many_segments),
	cmocka_unit_test(test_write_zeroes_without_flush_feature),
	cmocka_unit_test(test_out_of_range),
	cmocka_unit_test(test_readonly),
	cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_split_header),
	cmocka_unit_test(test_many),
	cmocka_unit_test(test_overcommit),
	cmocka_unit_test(test_multiqueue),
	cmocka_unit_test(test_ring_violation),
	cmocka_unit_test(test_violation_in_completion),
	cmocka_unit_test(test_reset_in_flight),
	cmocka_unit_test(test_direct),
	cmocka_unit_test(test_engine),
};

static const struct CMUnitTest image_tests[] = {
	cmocka_unit_test(test_create_errors),
	cmocka_unit_test(test_raw_image_errors),
	cmocka_unit_test(test_raw_image_lock),
	cmocka_unit_test(test_raw_image_small),
};

int main(void)
{
	int failed = 0;

	use_threads = false;
	unsetenv("KILN_NO_IO_URING");
	failed += cmocka_run_group_tests_name("virtio_blk (io_uring engine)", tests, NULL, NULL);
	use_threads = true;
	setenv("KILN_NO_IO_URING", "1", 1);
	failed += cmocka_run_group_tests_name("virtio_blk (thread engine)", tests, NULL, NULL);
	unsetenv("KILN_NO_IO_URING");
	failed += cmocka_run_group_tests_name("raw_image", image_tests, NULL, NULL);
	return failed;
}
