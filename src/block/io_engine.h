/* Asynchronous file I/O for block devices: reads and writes straight from/to caller buffers
 * (guest RAM), data syncs and fallocate, completed through an eventfd that an event loop
 * polls. Two implementations behind one interface:
 * - io_uring (liburing): one ring per engine, readv/writev/fsync(DATASYNC)/fallocate SQEs,
 *   completions signalled on an eventfd registered with io_uring_register_eventfd();
 * - a pool of IO_ENGINE_NR_THREADS threads doing preadv/pwritev/fdatasync/fallocate, chosen when
 *   io_uring is unavailable (io_uring_queue_init fails, e.g. ENOSYS or EPERM under seccomp;
 *   or an opcode is missing) or when the environment has KILN_NO_IO_URING=1.
 *
 * Threads: an engine is used by one thread at a time (the caller serialises, e.g. with the
 * device lock); the pool's workers are internal. Ops are owned by the caller and must stay
 * valid, untouched, from io_engine_submit() until they come back through a completion
 * callback (io_engine_reap/_drain). */
#ifndef KILN_BLOCK_IO_ENGINE_H
#define KILN_BLOCK_IO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define IO_ENGINE_NR_THREADS 4    /* workers of the thread-pool engine */
#define IO_ENGINE_MAX_DEPTH 32768 /* most ops in flight (io_uring's IORING_MAX_ENTRIES) */
/* io_uring ops queued by io_engine_submit() are started in groups of this many: one
 * io_uring_enter of 32 O_DIRECT reads holds them all in the block layer's plug until the
 * last is issued, so the disk idles meanwhile; groups of 4 keep it busy (measured with
 * bench/blk-throughput: ~+15% 4 KiB random-read IOPS at queue depth 32). */
#define IO_ENGINE_SUBMIT_BATCH 4

enum io_op_kind {
	IO_OP_READ,      /* preadv(iov, iovcnt) at offset */
	IO_OP_WRITE,     /* pwritev(iov, iovcnt) at offset */
	IO_OP_FLUSH,     /* fdatasync() */
	IO_OP_FALLOCATE, /* fallocate(mode, offset, len) */
};

/* One request to the engine. The caller fills the first block; the engine owns the rest. */
struct io_op {
	enum io_op_kind kind;
	uint64_t offset;    /* bytes into the file (READ, WRITE, FALLOCATE) */
	struct iovec *iov;  /* READ/WRITE buffers, caller-owned; the engine may rewrite these
			     * entries in place to continue a short transfer */
	int iovcnt;         /* READ/WRITE: 1..IOV_MAX entries */
	uint64_t len;       /* bytes: the sum of the iov lengths (READ/WRITE) or the range
			     * (FALLOCATE, > 0) */
	int mode;           /* FALLOCATE: FALLOC_FL_* flags */
	void *cookie;       /* the caller's */

	int result;         /* at completion: 0 when all `len` bytes were transferred (or the
			     * sync/fallocate succeeded), else -errno; a read that hits the end
			     * of the file early is -EIO */

	/* Engine-private. */
	uint64_t done;      /* bytes transferred so far */
	struct iovec *cur;  /* first iov entry not yet fully transferred */
	int curcnt;
	struct io_op *next;
};

/* Which implementation. */
enum io_engine_kind {
	IO_ENGINE_AUTO,    /* io_uring unless unavailable or KILN_NO_IO_URING=1 */
	IO_ENGINE_URING,   /* io_uring or fail */
	IO_ENGINE_THREADS, /* the thread pool */
};

struct io_engine;

/* Called for each completed op (op->result set). May submit new ops (io_engine_submit);
 * they are started before io_engine_reap() returns. */
typedef void (*io_done_fn)(void *opaque, struct io_op *op);

/* Creates an engine for I/O on `fd` (borrowed: it must outlive the engine) with room for
 * `depth` ops in flight (1..IO_ENGINE_MAX_DEPTH), choosing the implementation like
 * IO_ENGINE_AUTO. Returns 0 with *out set, or -EINVAL, -ENOMEM, or -errno from eventfd or
 * pthread_create. */
int io_engine_create(int fd, unsigned int depth, struct io_engine **out)
	__attribute__((warn_unused_result));

/* Same with an explicit choice: IO_ENGINE_URING fails with the -errno of io_uring's set-up
 * (-ENOSYS, -EPERM, -EOPNOTSUPP for a missing opcode) instead of falling back. */
int io_engine_create_kind(int fd, unsigned int depth, enum io_engine_kind kind,
			  struct io_engine **out) __attribute__((warn_unused_result));

/* "io_uring" or "threads". */
const char *io_engine_name(const struct io_engine *e);

/* The eventfd (engine-owned) that is readable while completions wait for io_engine_reap(). */
int io_engine_completion_fd(const struct io_engine *e);

/* Ops submitted and not yet returned through a callback. */
unsigned int io_engine_inflight(const struct io_engine *e);

/* Queues `op`. io_uring ops start once IO_ENGINE_SUBMIT_BATCH are queued, else at the next
 * io_engine_flush() (or at the end of a reap): a caller submitting several calls flush once
 * at the end. The pool starts them at once.
 * Returns 0, -EAGAIN when `depth` ops are in flight (or, for io_uring, no SQE could be had),
 * or -EINVAL for a malformed op: bad kind; READ/WRITE with iovcnt outside 1..IOV_MAX, iov
 * lengths not summing to `len`, or len 0; FALLOCATE with len 0; offset + len beyond
 * INT64_MAX. Nothing is queued on error (the op is not called back). */
int io_engine_submit(struct io_engine *e, struct io_op *op) __attribute__((warn_unused_result));

/* Starts the queued ops (io_uring_submit); a no-op for the pool. */
void io_engine_flush(struct io_engine *e);

/* Clears the completion eventfd and calls fn for every op completed so far, without
 * blocking; then flushes. Returns the number of callbacks made. */
unsigned int io_engine_reap(struct io_engine *e, io_done_fn fn, void *opaque);

/* Flushes and waits until no op is in flight, calling fn for each as it completes (fn may
 * be NULL to just drop them). Used by device reset. */
void io_engine_drain(struct io_engine *e, io_done_fn fn, void *opaque);

/* Drains (dropping results), stops the workers or the ring, closes the eventfd, frees.
 * Safe on NULL. */
void io_engine_destroy(struct io_engine *e);

#endif
