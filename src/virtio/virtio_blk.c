/* virtio-blk on a raw image; see virtio_blk.h.
 *
 * Per queue, a pool of requests as large as the queue (so at most `size` are in flight);
 * when it is empty the queue stalls, with notifications off, until a completion frees one.
 * A request copies its chain's layout into an iovec array (inline for a few segments, else
 * allocated) and runs as a small state machine over one io_op: the data transfer, then a
 * data sync when the driver did not negotiate FLUSH (5.2.6.3: writes are then stable when
 * completed), or one fallocate per DISCARD/WRITE_ZEROES segment (zero writes when the file
 * system cannot zero a range). */
#include "virtio/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "block/io_engine.h"
#include "block/raw_image.h"
#include "util/log.h"

#define SECTOR RAW_SECTOR_SIZE
#define HDR_BYTES 16u
#define DWZ_BYTES 16u
#define INLINE_IOVS 16          /* iovec entries a request holds without allocating */
#define DIRECT_ALIGN 512u       /* O_DIRECT alignment assumed for buffers and lengths */
#define BOUNCE_ALIGN 4096u
#define BOUNCE_BUDGET (64ull << 20) /* most bounce-buffer bytes in flight per device */
#define ZERO_BUF_BYTES (1u << 20)   /* zero-write fallback chunk */

_Static_assert(sizeof(struct virtio_blk_config) == 72, "virtio_blk_config layout (5.2.4)");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "blk_size offset");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "num_queues offset");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36, "discard offset");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56, "wz offset");
_Static_assert(sizeof(struct virtio_blk_outhdr) == HDR_BYTES, "request header");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == DWZ_BYTES, "dwz segment");

struct virtio_blk;
struct blk_queue;

/* A DISCARD/WRITE_ZEROES range in bytes, and the fallocate mode that does it. */
struct blk_range {
	uint64_t offset;
	uint64_t len;
	int mode;
};

enum blk_phase {
	PH_DATA,  /* read, write or flush */
	PH_SYNC,  /* data sync after a write (FLUSH not negotiated) */
	PH_RANGE, /* fallocate of ranges[cur_range] */
	PH_ZERO,  /* zero writes over ranges[cur_range] from zero_pos */
};

struct blk_req {
	struct io_op op;            /* op.cookie = this request */
	struct blk_queue *bq;
	struct blk_req *next_free;
	uint16_t head;              /* chain head, for the used ring */
	uint32_t type;
	enum blk_phase phase;
	uint8_t *status;            /* the status byte, in guest RAM */
	uint32_t used_len;          /* bytes written to the writable part, status included */
	uint64_t offset, len;       /* data transfer: image offset, bytes */
	struct iovec *iov;          /* guest buffers of the data (iov_inline or iov_heap) */
	unsigned int iovcnt;
	struct iovec *iov_heap;
	void *bounce;               /* O_DIRECT copy of unaligned guest buffers, or NULL */
	size_t bounce_len;
	struct iovec one_iov;       /* the op's single iovec (bounce or zero buffer) */
	bool sync_after;
	unsigned int nr_ranges, cur_range;
	uint64_t zero_pos;
	union {
		struct iovec iov_inline[INLINE_IOVS];
		struct blk_range ranges[VIRTIO_BLK_MAX_DWZ_SEG];
	};
};

struct blk_queue {
	struct virtio_blk *blk;
	unsigned int index;
	struct blk_req *reqs;       /* nr_reqs = the queue's size at activation */
	unsigned int nr_reqs;
	struct blk_req *free;
	bool stalled;               /* out of requests while chains may wait */
};

struct virtio_blk {
	struct virtio_dev dev;
	struct raw_image img;
	char *id;                               /* owned; dev.id points here */
	uint8_t serial[VIRTIO_BLK_ID_BYTES];    /* NUL-padded */
	struct virtio_blk_config config;        /* little-endian, as the driver reads it */
	struct io_engine *engine;               /* while active */
	int engine_fd;                          /* its completion fd, registered with the loop */
	struct vq_chain *chain;                 /* pop scratch */
	struct blk_queue queues[VIRTIO_MAX_QUEUES];
	void *zero_buf;                         /* ZERO_BUF_BYTES of zeros, allocated on use */
	uint64_t bounce_bytes;                  /* bounce bytes in flight */
	unsigned int inflight;                  /* requests taken from the pools */
	bool no_punch_hole, no_zero_range;      /* the file system refused these modes */
};

static inline struct virtio_blk *to_blk(struct virtio_dev *d)
{
	return d->priv;
}

/* ---- guest buffers ---- */

/* Copies `len` bytes at byte `skip` of segments [first, first + n) of c into dst. Returns the
 * number of bytes copied (less than len when the segments end first). */
static size_t gather(const struct vq_chain *c, unsigned int first, unsigned int n, uint64_t skip,
		     void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t done = 0;

	for (unsigned int i = first; i < first + n && done < len; i++) {
		const struct vq_seg *s = &c->segs[i];

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		size_t take = s->len - skip;
		if (take > len - done)
			take = len - done;
		memcpy(out + done, (const uint8_t *)s->hva + skip, take);
		done += take;
		skip = 0;
	}
	return done;
}

/* Points req->iov at bytes [skip, skip + len) of segments [first, first + n) of c. Returns 0
 * or -ENOMEM. */
static int map_iov(struct blk_req *req, const struct vq_chain *c, unsigned int first,
		   unsigned int n, uint64_t skip, uint64_t len)
{
	unsigned int count = 0;
	uint64_t s_skip = skip, left = len;

	for (unsigned int i = first; i < first + n && left; i++) {
		uint32_t sl = c->segs[i].len;

		if (s_skip >= sl) {
			s_skip -= sl;
			continue;
		}
		uint64_t take = sl - s_skip;
		left -= take < left ? take : left;
		s_skip = 0;
		count++;
	}
	if (count > INLINE_IOVS) {
		req->iov_heap = calloc(count, sizeof(struct iovec));
		if (!req->iov_heap)
			return -ENOMEM;
		req->iov = req->iov_heap;
	} else {
		req->iov = req->iov_inline;
	}
	req->iovcnt = 0;
	left = len;
	for (unsigned int i = first; i < first + n && left; i++) {
		const struct vq_seg *s = &c->segs[i];

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		uint64_t take = s->len - skip;
		if (take > left)
			take = left;
		req->iov[req->iovcnt++] = (struct iovec){ (uint8_t *)s->hva + skip, take };
		left -= take;
		skip = 0;
	}
	return 0;
}

static bool iov_aligned(const struct blk_req *req)
{
	for (unsigned int i = 0; i < req->iovcnt; i++)
		if (((uintptr_t)req->iov[i].iov_base | req->iov[i].iov_len) & (DIRECT_ALIGN - 1))
			return false;
	return true;
}

/* Copies between the bounce buffer and the guest buffers. */
static void bounce_copy(struct blk_req *req, bool to_guest)
{
	uint8_t *b = req->bounce;

	for (unsigned int i = 0; i < req->iovcnt; i++) {
		if (to_guest)
			memcpy(req->iov[i].iov_base, b, req->iov[i].iov_len);
		else
			memcpy(b, req->iov[i].iov_base, req->iov[i].iov_len);
		b += req->iov[i].iov_len;
	}
}

/* ---- request life cycle ---- */

static void release(struct blk_req *req)
{
	struct virtio_blk *blk = req->bq->blk;

	free(req->iov_heap);
	req->iov_heap = NULL;
	req->iov = NULL;
	if (req->bounce) {
		free(req->bounce);
		blk->bounce_bytes -= req->bounce_len;
		req->bounce = NULL;
	}
	req->next_free = req->bq->free;
	req->bq->free = req;
	blk->inflight--;
}

/* Writes the status, returns the chain to the driver and frees the request. */
static void finish(struct blk_req *req, uint8_t status)
{
	struct virtio_blk *blk = req->bq->blk;
	struct virtio_dev *d = &blk->dev;
	struct virtqueue *vq = &d->vqs[req->bq->index];

	if (status == VIRTIO_BLK_S_OK) {
		if (req->type == VIRTIO_BLK_T_IN) {
			if (req->bounce)
				bounce_copy(req, true);
			atomic_fetch_add(&d->read_ops, 1);
			atomic_fetch_add(&d->read_bytes, req->len);
		} else if (req->type == VIRTIO_BLK_T_OUT) {
			atomic_fetch_add(&d->write_ops, 1);
			atomic_fetch_add(&d->write_bytes, req->len);
		}
	}
	__atomic_store_n(req->status, status, __ATOMIC_RELAXED);
	if (virtqueue_push(vq, req->head, req->used_len) < 0)
		log_ratelimited(LOG_ERROR, "virtio-blk", "%s: cannot return request %u to queue %u",
				d->id, req->head, req->bq->index);
	release(req);
}

static uint8_t errno_status(int r)
{
	return r == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* Submits req->op; on refusal completes the request with IOERR. */
static void submit(struct blk_req *req)
{
	struct virtio_blk *blk = req->bq->blk;
	int r;

	req->op.cookie = req;
	r = io_engine_submit(blk->engine, &req->op);
	if (r < 0) {
		log_ratelimited(LOG_ERROR, "virtio-blk", "%s: cannot submit I/O: %s", blk->dev.id,
				strerror(-r));
		finish(req, VIRTIO_BLK_S_IOERR);
	}
}

static void submit_flush(struct blk_req *req)
{
	req->op = (struct io_op){ .kind = IO_OP_FLUSH };
	submit(req);
}

static int zero_buffer(struct virtio_blk *blk)
{
	if (blk->zero_buf)
		return 0;
	if (posix_memalign(&blk->zero_buf, BOUNCE_ALIGN, ZERO_BUF_BYTES))
		return -ENOMEM;
	memset(blk->zero_buf, 0, ZERO_BUF_BYTES);
	return 0;
}

/* Starts the next step of a DISCARD/WRITE_ZEROES request, or finishes it. */
static void next_range(struct blk_req *req)
{
	struct virtio_blk *blk = req->bq->blk;

	while (req->cur_range < req->nr_ranges) {
		struct blk_range *rg = &req->ranges[req->cur_range];

		if (req->phase == PH_ZERO) {
			if (req->zero_pos >= rg->len) {
				req->cur_range++;
				req->phase = PH_RANGE;
				continue;
			}
			uint64_t chunk = rg->len - req->zero_pos;
			if (chunk > ZERO_BUF_BYTES)
				chunk = ZERO_BUF_BYTES;
			req->one_iov = (struct iovec){ blk->zero_buf, chunk };
			req->op = (struct io_op){ .kind = IO_OP_WRITE, .offset = rg->offset + req->zero_pos,
						  .iov = &req->one_iov, .iovcnt = 1, .len = chunk };
			req->zero_pos += chunk;
			submit(req);
			return;
		}
		bool punch = rg->mode & FALLOC_FL_PUNCH_HOLE;
		if (punch && blk->no_punch_hole) {
			if (req->type == VIRTIO_BLK_T_DISCARD) {
				req->cur_range++; /* discarding is optional (5.2.6.3) */
				continue;
			}
			rg->mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
			punch = false;
		}
		if (!punch && blk->no_zero_range) {
			if (zero_buffer(blk) < 0) {
				finish(req, VIRTIO_BLK_S_IOERR);
				return;
			}
			req->phase = PH_ZERO;
			req->zero_pos = 0;
			continue;
		}
		req->op = (struct io_op){ .kind = IO_OP_FALLOCATE, .offset = rg->offset,
					  .len = rg->len, .mode = rg->mode };
		submit(req);
		return;
	}
	if (req->sync_after && req->type == VIRTIO_BLK_T_WRITE_ZEROES) {
		req->sync_after = false;
		req->phase = PH_SYNC;
		submit_flush(req);
		return;
	}
	finish(req, VIRTIO_BLK_S_OK);
}

/* Completion of req->op (engine callback, d->lock held). Never fails the device. */
static void io_done(void *opaque, struct io_op *op)
{
	struct blk_req *req = op->cookie;
	struct virtio_blk *blk = opaque;
	int r = op->result;

	switch (req->phase) {
	case PH_DATA:
		if (r == 0 && req->sync_after) {
			req->phase = PH_SYNC;
			submit_flush(req);
			return;
		}
		break;
	case PH_SYNC:
		break;
	case PH_RANGE:
		if (r == -EOPNOTSUPP || r == -ENOSYS) {
			struct blk_range *rg = &req->ranges[req->cur_range];

			if (rg->mode & FALLOC_FL_PUNCH_HOLE)
				blk->no_punch_hole = true;
			else
				blk->no_zero_range = true;
			bool punch = rg->mode & FALLOC_FL_PUNCH_HOLE;
			log_ratelimited(LOG_INFO, "virtio-blk", "%s: the image's file system cannot "
					"%s; %s", blk->dev.id, punch ? "punch holes" : "zero ranges",
					punch ? "discard does nothing" : "writing zeros instead");
			next_range(req); /* retries this range the other way */
			return;
		}
		if (r == 0) {
			req->cur_range++;
			next_range(req);
			return;
		}
		break;
	case PH_ZERO:
		if (r == 0) {
			next_range(req);
			return;
		}
		break;
	}
	if (r < 0)
		log_ratelimited(LOG_WARN, "virtio-blk", "%s: I/O error (request type %u): %s",
				blk->dev.id, req->type, strerror(-r));
	finish(req, errno_status(r));
}

/* Checks [sector, sector + sectors) against the capacity, without overflow. */
static bool in_range(const struct virtio_blk *blk, uint64_t sector, uint64_t sectors)
{
	return sector <= blk->img.sectors && sectors <= blk->img.sectors - sector;
}

static void start_rw(struct virtio_blk *blk, struct blk_req *req, const struct vq_chain *c,
		     uint64_t sector)
{
	bool in = req->type == VIRTIO_BLK_T_IN;
	uint64_t len;
	int r;

	if (in)
		len = c->write_bytes - 1;
	else
		len = c->read_bytes - HDR_BYTES;
	if (!in && blk->img.readonly) {
		finish(req, VIRTIO_BLK_S_IOERR); /* 5.2.6.3: no data written */
		return;
	}
	if (len % SECTOR || !in_range(blk, sector, len / SECTOR)) {
		log_ratelimited(LOG_WARN, "virtio-blk", "%s: %s of %llu bytes at sector %llu is "
				"beyond the disk (%llu sectors) or not whole sectors", blk->dev.id,
				in ? "read" : "write", (unsigned long long)len,
				(unsigned long long)sector, (unsigned long long)blk->img.sectors);
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	req->offset = sector * SECTOR;
	req->len = len;
	req->sync_after = !in && !virtio_dev_has(&blk->dev, VIRTIO_BLK_F_FLUSH);
	if (len == 0) {
		finish(req, VIRTIO_BLK_S_OK);
		return;
	}
	if (in)
		r = map_iov(req, c, c->nr_read, c->nr_segs - c->nr_read, 0, len);
	else
		r = map_iov(req, c, 0, c->nr_read, HDR_BYTES, len);
	if (r < 0) {
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (in)
		req->used_len = (uint32_t)(len + 1); /* the data area is the transfer's */

	req->op = (struct io_op){ .kind = in ? IO_OP_READ : IO_OP_WRITE, .offset = req->offset,
				  .iov = req->iov, .iovcnt = (int)req->iovcnt, .len = len };
	if (blk->img.direct && !iov_aligned(req)) {
		if (len > BOUNCE_BUDGET - blk->bounce_bytes ||
		    posix_memalign(&req->bounce, BOUNCE_ALIGN, len)) {
			req->bounce = NULL;
			log_ratelimited(LOG_WARN, "virtio-blk", "%s: no memory to align a %llu-byte "
					"request for O_DIRECT", blk->dev.id, (unsigned long long)len);
			finish(req, VIRTIO_BLK_S_IOERR);
			return;
		}
		req->bounce_len = len;
		blk->bounce_bytes += len;
		if (!in)
			bounce_copy(req, false);
		req->one_iov = (struct iovec){ req->bounce, len };
		req->op.iov = &req->one_iov;
		req->op.iovcnt = 1;
	}
	submit(req);
}

static void do_get_id(struct virtio_blk *blk, struct blk_req *req, const struct vq_chain *c)
{
	uint64_t len = c->write_bytes - 1, done = 0;
	unsigned int first = c->nr_read;

	/* The serial, then zeros over the rest of the data area (the driver gives 20 bytes). */
	for (unsigned int i = first; i < c->nr_segs && done < len; i++) {
		const struct vq_seg *s = &c->segs[i];
		uint64_t take = s->len;

		if (take > len - done)
			take = len - done;
		uint64_t id = done < VIRTIO_BLK_ID_BYTES ? VIRTIO_BLK_ID_BYTES - done : 0;
		if (id > take)
			id = take;
		if (id)
			memcpy(s->hva, blk->serial + done, id);
		memset((uint8_t *)s->hva + id, 0, take - id);
		done += take;
	}
	req->used_len = (uint32_t)(len + 1);
	finish(req, VIRTIO_BLK_S_OK);
}

static void start_dwz(struct virtio_blk *blk, struct blk_req *req, const struct vq_chain *c)
{
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	unsigned int bit = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
	uint64_t bytes = c->read_bytes - HDR_BYTES, n;
	uint8_t status = VIRTIO_BLK_S_OK;

	if (!virtio_dev_has(&blk->dev, bit) || blk->img.readonly) {
		finish(req, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (bytes == 0 || bytes % DWZ_BYTES) {
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	n = bytes / DWZ_BYTES;
	if (n > VIRTIO_BLK_MAX_DWZ_SEG) {
		finish(req, VIRTIO_BLK_S_UNSUPP); /* more than max_*_seg */
		return;
	}
	req->nr_ranges = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct virtio_blk_discard_write_zeroes seg;

		gather(c, 0, c->nr_read, HDR_BYTES + i * DWZ_BYTES, &seg, sizeof(seg));
		uint64_t sector = le64toh(seg.sector);
		uint32_t num = le32toh(seg.num_sectors), flags = le32toh(seg.flags);

		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
			status = VIRTIO_BLK_S_UNSUPP; /* 5.2.6.3 */
			break;
		}
		if (num > VIRTIO_BLK_MAX_DWZ_SECTORS || !in_range(blk, sector, num)) {
			status = VIRTIO_BLK_S_IOERR;
			continue; /* an unknown flag later still makes it UNSUPP */
		}
		if (num == 0)
			continue;
		struct blk_range *rg = &req->ranges[req->nr_ranges++];
		rg->offset = sector * SECTOR;
		rg->len = (uint64_t)num * SECTOR;
		if (discard || (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			rg->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		else
			rg->mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	}
	if (status != VIRTIO_BLK_S_OK) {
		finish(req, status);
		return;
	}
	req->sync_after = !discard && !virtio_dev_has(&blk->dev, VIRTIO_BLK_F_FLUSH);
	req->cur_range = 0;
	req->phase = PH_RANGE;
	next_range(req);
}

/* Parses one popped chain (5.2.6) and starts it, or completes it at once. */
static void start_request(struct virtio_blk *blk, struct blk_queue *bq, const struct vq_chain *c)
{
	struct blk_req *req = bq->free;
	struct virtio_blk_outhdr hdr;

	bq->free = req->next_free;
	req->next_free = NULL;
	blk->inflight++;
	req->head = c->head;
	req->type = UINT32_MAX;
	req->phase = PH_DATA;
	req->used_len = 1;
	req->len = 0;
	req->iov = NULL;
	req->iovcnt = 0;
	req->sync_after = false;
	req->nr_ranges = req->cur_range = 0;

	if (c->write_bytes == 0) {
		/* No status byte: nothing to answer in. Return the chain untouched. */
		log_ratelimited(LOG_WARN, "virtio-blk", "%s: request without a status byte",
				blk->dev.id);
		if (virtqueue_push(&blk->dev.vqs[bq->index], c->head, 0) < 0)
			log_ratelimited(LOG_ERROR, "virtio-blk", "%s: cannot return request %u",
					blk->dev.id, c->head);
		release(req);
		return;
	}
	const struct vq_seg *last = &c->segs[c->nr_segs - 1]; /* writable: they come last */
	req->status = (uint8_t *)last->hva + last->len - 1;

	if (c->read_bytes < HDR_BYTES) {
		log_ratelimited(LOG_WARN, "virtio-blk", "%s: request without a full header",
				blk->dev.id);
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	gather(c, 0, c->nr_read, 0, &hdr, sizeof(hdr));
	req->type = le32toh(hdr.type);
	uint64_t sector = le64toh(hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		start_rw(blk, req, c, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		submit_flush(req);
		break;
	case VIRTIO_BLK_T_GET_ID:
		do_get_id(blk, req, c);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		start_dwz(blk, req, c);
		break;
	default:
		finish(req, VIRTIO_BLK_S_UNSUPP);
		break;
	}
}

/* Serves queue q until it is empty (re-enabling notifications, 2.7.10) or out of requests.
 * d->lock held. May fail the device (ring violation): check d->active afterwards. */
static void process_queue(struct virtio_blk *blk, unsigned int q)
{
	struct virtio_dev *d = &blk->dev;
	struct virtqueue *vq = &d->vqs[q];
	struct blk_queue *bq = &blk->queues[q];
	uint16_t old = vq->used_idx;
	int r;

	if (!d->active || !blk->engine || !vq->ready || !bq->reqs)
		return;
	bq->stalled = false;
	(void)virtqueue_set_notify(vq, false);
	for (;;) {
		while (bq->free) {
			r = virtqueue_pop(vq, blk->chain);
			if (r < 0) {
				io_engine_flush(blk->engine);
				virtio_dev_fail(d, vq->error); /* resets us: nothing to touch after */
				return;
			}
			if (r == 0)
				break;
			start_request(blk, bq, blk->chain);
		}
		if (!bq->free) {
			bq->stalled = true; /* a completion resumes; notifications stay off */
			break;
		}
		if (!virtqueue_set_notify(vq, true))
			break;
	}
	io_engine_flush(blk->engine);
	virtio_dev_used(d, q, old);
}

/* The engine's completion eventfd is readable (event-loop thread). */
static void io_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	struct virtio_dev *d = &blk->dev;
	uint16_t old[VIRTIO_MAX_QUEUES];

	virtio_dev_lock(d);
	/* A reset may have come first (the handler was then already unregistered). */
	if (!d->active || !blk->engine || io_engine_completion_fd(blk->engine) != fd)
		goto out;
	for (unsigned int q = 0; q < d->nr_queues; q++)
		old[q] = d->vqs[q].used_idx;
	io_engine_reap(blk->engine, io_done, blk);
	for (unsigned int q = 0; q < d->nr_queues && d->active; q++) {
		if (d->vqs[q].used_idx != old[q])
			virtio_dev_used(d, q, old[q]);
		if (blk->queues[q].stalled && blk->queues[q].free)
			process_queue(blk, q);
	}
out:
	virtio_dev_unlock(d);
}

/* ---- virtio_dev_ops ---- */

static void blk_config_read(struct virtio_dev *d, uint32_t offset, uint8_t *data,
			    unsigned int len)
{
	struct virtio_blk *blk = to_blk(d);

	/* The transport checked offset + len <= config_len; stay safe regardless. */
	if (offset > sizeof(blk->config) || len > sizeof(blk->config) - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&blk->config + offset, len);
}

static void free_queues(struct virtio_blk *blk)
{
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct blk_queue *bq = &blk->queues[q];

		for (unsigned int i = 0; bq->reqs && i < bq->nr_reqs; i++) {
			free(bq->reqs[i].iov_heap);
			free(bq->reqs[i].bounce);
		}
		free(bq->reqs);
		bq->reqs = NULL;
		bq->nr_reqs = 0;
		bq->free = NULL;
		bq->stalled = false;
	}
	blk->bounce_bytes = 0;
	blk->inflight = 0;
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *blk = to_blk(d);

	if (blk->engine) {
		/* In-flight I/O may still write guest RAM: wait for it, then forget it. */
		io_engine_drain(blk->engine, NULL, NULL);
		if (d->loop && blk->engine_fd >= 0)
			event_loop_del(d->loop, blk->engine_fd);
		io_engine_destroy(blk->engine);
		blk->engine = NULL;
		blk->engine_fd = -1;
	}
	free_queues(blk);
}

static int blk_activate(struct virtio_dev *d)
{
	struct virtio_blk *blk = to_blk(d);
	unsigned int depth = 0;
	int r;

	blk_reset(d); /* nothing should be left, but never leak a previous run */
	for (unsigned int q = 0; q < d->nr_queues; q++) {
		struct blk_queue *bq = &blk->queues[q];
		struct virtqueue *vq = &d->vqs[q];

		bq->blk = blk;
		bq->index = q;
		if (!vq->ready)
			continue;
		bq->reqs = calloc(vq->size, sizeof(*bq->reqs));
		if (!bq->reqs) {
			r = -ENOMEM;
			goto fail;
		}
		bq->nr_reqs = vq->size;
		for (unsigned int i = vq->size; i-- > 0;) {
			bq->reqs[i].bq = bq;
			bq->reqs[i].next_free = bq->free;
			bq->free = &bq->reqs[i];
		}
		depth += vq->size;
	}
	if (depth > IO_ENGINE_MAX_DEPTH)
		depth = IO_ENGINE_MAX_DEPTH;
	r = io_engine_create(blk->img.fd, depth ? depth : 1, &blk->engine);
	if (r < 0) {
		log_error("virtio-blk", "%s: cannot set up asynchronous I/O: %s", d->id, strerror(-r));
		goto fail;
	}
	blk->engine_fd = io_engine_completion_fd(blk->engine);
	if (!d->loop) {
		r = -EINVAL;
		goto fail;
	}
	r = event_loop_add(d->loop, blk->engine_fd, EPOLLIN, io_event, blk);
	if (r < 0) {
		log_error("virtio-blk", "%s: cannot watch I/O completions: %s", d->id, strerror(-r));
		blk->engine_fd = -1; /* not registered */
		goto fail;
	}
	log_debug("virtio-blk", "%s: active, %s engine, %u requests in flight at most", d->id,
		  io_engine_name(blk->engine), depth);
	for (unsigned int q = 0; q < d->nr_queues && d->active; q++)
		process_queue(blk, q);
	return 0;
fail:
	if (blk->engine) {
		io_engine_destroy(blk->engine);
		blk->engine = NULL;
	}
	blk->engine_fd = -1;
	free_queues(blk);
	return r;
}

static void blk_queue_notify(struct virtio_dev *d, unsigned int q)
{
	if (q >= d->nr_queues)
		return;
	process_queue(to_blk(d), q);
}

static void blk_destroy(struct virtio_dev *d)
{
	struct virtio_blk *blk = to_blk(d);

	blk_reset(d);
	raw_image_close(&blk->img);
	free(blk->zero_buf);
	free(blk->chain);
	free(blk->id);
	free(blk);
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.destroy = blk_destroy,
};

const char *virtio_blk_engine_name(struct virtio_dev *d)
{
	struct virtio_blk *blk = to_blk(d);

	return blk->engine ? io_engine_name(blk->engine) : NULL;
}

unsigned int virtio_blk_inflight(struct virtio_dev *d)
{
	return to_blk(d)->inflight;
}

/* ---- creation ---- */

static void fill_config(struct virtio_blk *blk, const struct disk_config *cfg)
{
	struct virtio_blk_config *c = &blk->config;
	uint32_t seg_max = cfg->queue_size > 2 ? cfg->queue_size - 2 : 1;
	unsigned int exp = 0;

	if (seg_max > VQ_MAX_SEGS - 2)
		seg_max = VQ_MAX_SEGS - 2;
	while ((SECTOR << (exp + 1)) <= blk->img.phys_block && exp < 15)
		exp++;
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(blk->img.sectors);
	c->seg_max = htole32(seg_max);
	c->blk_size = htole32(SECTOR);
	c->topology.physical_block_exp = (uint8_t)exp;
	c->topology.min_io_size = htole16(1);
	c->topology.opt_io_size = htole32(0);
	c->num_queues = htole16((uint16_t)cfg->num_queues);
	if (!cfg->readonly) {
		c->max_discard_sectors = htole32(VIRTIO_BLK_MAX_DWZ_SECTORS);
		c->max_discard_seg = htole32(VIRTIO_BLK_MAX_DWZ_SEG);
		c->discard_sector_alignment = htole32(blk->img.phys_block / SECTOR);
		c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_DWZ_SECTORS);
		c->max_write_zeroes_seg = htole32(VIRTIO_BLK_MAX_DWZ_SEG);
		c->write_zeroes_may_unmap = 1;
	}
}

int virtio_blk_create(const struct disk_config *cfg, unsigned int index,
		      const struct guest_mem *mem, struct event_loop *loop,
		      struct virtio_dev **out, char *err, size_t errlen)
{
	struct virtio_blk *blk;
	char name[32];
	int r;

	*out = NULL;
	snprintf(name, sizeof(name), "_disk%u", index);
	const char *id = cfg->id ? cfg->id : name;
	if (cfg->num_queues < 1 || cfg->num_queues > VIRTIO_MAX_QUEUES) {
		snprintf(err, errlen, "--disk %s: num_queues=%u is out of range 1..%u", id,
			 cfg->num_queues, VIRTIO_MAX_QUEUES);
		return -EINVAL;
	}
	if (cfg->queue_size < 1 || cfg->queue_size > VIRTQ_MAX_SIZE ||
	    (cfg->queue_size & (cfg->queue_size - 1))) {
		snprintf(err, errlen, "--disk %s: queue_size=%u must be a power of two up to %u", id,
			 cfg->queue_size, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	if (cfg->serial && strlen(cfg->serial) > VIRTIO_BLK_ID_BYTES) {
		snprintf(err, errlen, "--disk %s: serial= is longer than %u bytes", id,
			 VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		goto nomem;
	blk->img.fd = -1;
	blk->engine_fd = -1;
	blk->id = strdup(id);
	blk->chain = calloc(1, sizeof(*blk->chain));
	if (!blk->id || !blk->chain)
		goto nomem;
	r = raw_image_open(cfg, &blk->img, err, errlen);
	if (r < 0)
		goto fail;
	if (cfg->serial) {
		memcpy(blk->serial, cfg->serial, strlen(cfg->serial));
	} else {
		/* Like Cloud Hypervisor: the image's identity, so it is stable across boots. */
		char s[64];

		snprintf(s, sizeof(s), "%llx%llx", (unsigned long long)blk->img.st_dev,
			 (unsigned long long)blk->img.st_ino);
		memcpy(blk->serial, s, strnlen(s, VIRTIO_BLK_ID_BYTES));
	}
	fill_config(blk, cfg);

	uint64_t features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;
	if (cfg->num_queues > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	if (cfg->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;

	blk->dev = (struct virtio_dev){
		.id = blk->id,
		.device_id = VIRTIO_ID_BLOCK,
		.host_features = features,
		.config_len = sizeof(struct virtio_blk_config),
		.nr_queues = cfg->num_queues,
		.queue_max_size = (uint16_t)cfg->queue_size,
		.ops = &blk_ops,
		.priv = blk,
	};
	r = virtio_dev_init(&blk->dev, mem, loop);
	if (r < 0) {
		snprintf(err, errlen, "--disk %s: cannot initialise the device: %s", id, strerror(-r));
		goto fail;
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		blk->queues[q].blk = blk;
		blk->queues[q].index = q;
	}
	*out = &blk->dev;
	return 0;
nomem:
	snprintf(err, errlen, "--disk %s: out of memory", id);
	r = -ENOMEM;
fail:
	if (blk) {
		raw_image_close(&blk->img);
		free(blk->chain);
		free(blk->id);
		free(blk);
	}
	return r;
}
