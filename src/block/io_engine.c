/* Asynchronous file I/O: io_uring or a thread pool; see io_engine.h. */
#include "block/io_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef KILN_HAVE_LIBURING
#include <liburing.h>
#endif

#include "util/log.h"

struct io_engine {
	enum io_engine_kind kind; /* URING or THREADS */
	int fd;                   /* borrowed */
	int efd;                  /* completion eventfd, owned */
	unsigned int depth;
	unsigned int inflight;    /* submitted, not yet returned by a callback */

#ifdef KILN_HAVE_LIBURING
	struct io_uring ring;
	bool ring_ready;
	unsigned int unsubmitted; /* SQEs prepared since the last io_uring_submit */
#endif

	/* Thread pool. */
	pthread_mutex_t lock;
	pthread_cond_t work;      /* pending non-empty or stop */
	pthread_cond_t done_cond; /* done non-empty */
	bool pool_ready;
	struct io_op *pending, *pending_tail;
	struct io_op *done, *done_tail;
	bool stop;
	pthread_t threads[IO_ENGINE_NR_THREADS];
	unsigned int nr_threads;
};

/* ---- shared helpers ---- */

/* Moves op->cur/curcnt past `n` more transferred bytes, trimming a partial entry in place. */
static void advance(struct io_op *op, uint64_t n)
{
	op->done += n;
	while (n && op->curcnt > 0) {
		if (n >= op->cur->iov_len) {
			n -= op->cur->iov_len;
			op->cur++;
			op->curcnt--;
		} else {
			op->cur->iov_base = (uint8_t *)op->cur->iov_base + n;
			op->cur->iov_len -= n;
			n = 0;
		}
	}
	/* Skip empty entries so a continuation never starts with a zero-length iov list. */
	while (op->curcnt > 0 && op->cur->iov_len == 0) {
		op->cur++;
		op->curcnt--;
	}
}

static bool is_rw(const struct io_op *op)
{
	return op->kind == IO_OP_READ || op->kind == IO_OP_WRITE;
}

/* Accounts `res` (bytes or -errno) to a read/write; returns true when the op is finished
 * (result set) and false when the rest must be submitted again. */
static bool rw_progress(struct io_op *op, long long res)
{
	if (res < 0) {
		op->result = (int)res;
		return true;
	}
	if (res == 0 || (uint64_t)res > op->len - op->done) {
		op->result = -EIO; /* end of file, or a kernel answer we do not understand */
		return true;
	}
	advance(op, (uint64_t)res);
	if (op->done == op->len || op->curcnt == 0) {
		op->result = op->done == op->len ? 0 : -EIO;
		return true;
	}
	return false;
}

static void drain_eventfd(int efd)
{
	uint64_t v;

	while (read(efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* ---- thread pool ---- */

static void pool_execute(struct io_engine *e, struct io_op *op)
{
	switch (op->kind) {
	case IO_OP_READ:
	case IO_OP_WRITE:
		for (;;) {
			ssize_t n;

			if (op->kind == IO_OP_READ)
				n = preadv(e->fd, op->cur, op->curcnt, (off_t)(op->offset + op->done));
			else
				n = pwritev(e->fd, op->cur, op->curcnt, (off_t)(op->offset + op->done));
			if (n < 0 && errno == EINTR)
				continue;
			if (rw_progress(op, n < 0 ? -errno : n))
				break;
		}
		break;
	case IO_OP_FLUSH:
		op->result = fdatasync(e->fd) < 0 ? -errno : 0;
		break;
	case IO_OP_FALLOCATE:
		op->result = fallocate(e->fd, op->mode, (off_t)op->offset, (off_t)op->len) < 0 ?
			     -errno : 0;
		break;
	}
}

static void *pool_worker(void *arg)
{
	struct io_engine *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->pending && !e->stop)
			pthread_cond_wait(&e->work, &e->lock);
		if (!e->pending)
			break; /* stop, and nothing left to do */
		struct io_op *op = e->pending;
		e->pending = op->next;
		if (!e->pending)
			e->pending_tail = NULL;
		pthread_mutex_unlock(&e->lock);

		pool_execute(e, op);

		pthread_mutex_lock(&e->lock);
		op->next = NULL;
		if (e->done_tail)
			e->done_tail->next = op;
		else
			e->done = op;
		e->done_tail = op;
		pthread_cond_broadcast(&e->done_cond);
		uint64_t one = 1;
		if (write(e->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_ratelimited(LOG_ERROR, "block", "I/O completion eventfd: %s",
					strerror(errno));
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static int pool_init(struct io_engine *e)
{
	sigset_t all, old;
	int r;

	r = pthread_mutex_init(&e->lock, NULL);
	if (r)
		return -r;
	r = pthread_cond_init(&e->work, NULL);
	if (r) {
		pthread_mutex_destroy(&e->lock);
		return -r;
	}
	r = pthread_cond_init(&e->done_cond, NULL);
	if (r) {
		pthread_cond_destroy(&e->work);
		pthread_mutex_destroy(&e->lock);
		return -r;
	}
	e->pool_ready = true;
	/* Workers take no signals: kiln's vCPU kicks and SIGINT belong to other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned int i = 0; i < IO_ENGINE_NR_THREADS; i++) {
		r = pthread_create(&e->threads[i], NULL, pool_worker, e);
		if (r)
			break;
		pthread_setname_np(e->threads[i], "kiln-blk-io");
		e->nr_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e->nr_threads ? 0 : -r;
}

static void pool_submit(struct io_engine *e, struct io_op *op)
{
	pthread_mutex_lock(&e->lock);
	if (e->pending_tail)
		e->pending_tail->next = op;
	else
		e->pending = op;
	e->pending_tail = op;
	pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
}

/* Takes the list of completed ops (oldest first). */
static struct io_op *pool_take_done(struct io_engine *e, bool wait)
{
	struct io_op *list;

	pthread_mutex_lock(&e->lock);
	while (wait && !e->done)
		pthread_cond_wait(&e->done_cond, &e->lock);
	list = e->done;
	e->done = e->done_tail = NULL;
	pthread_mutex_unlock(&e->lock);
	return list;
}

static unsigned int pool_complete(struct io_engine *e, struct io_op *list, io_done_fn fn,
				  void *opaque)
{
	unsigned int n = 0;

	while (list) {
		struct io_op *op = list;

		list = op->next;
		op->next = NULL;
		e->inflight--;
		n++;
		if (fn)
			fn(opaque, op);
	}
	return n;
}

static void pool_fini(struct io_engine *e)
{
	if (!e->pool_ready)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	for (unsigned int i = 0; i < e->nr_threads; i++)
		pthread_join(e->threads[i], NULL);
	pthread_cond_destroy(&e->done_cond);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->lock);
	e->pool_ready = false;
}

/* ---- io_uring ---- */

#ifdef KILN_HAVE_LIBURING
static int uring_init(struct io_engine *e)
{
	static const int needed[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				      IORING_OP_FALLOCATE };
	struct io_uring_probe *probe;
	int r;

	r = io_uring_queue_init(e->depth, &e->ring, 0);
	if (r < 0)
		return r;
	e->ring_ready = true;
	probe = io_uring_get_probe_ring(&e->ring);
	if (!probe)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!io_uring_opcode_supported(probe, needed[i])) {
			io_uring_free_probe(probe);
			return -EOPNOTSUPP;
		}
	}
	io_uring_free_probe(probe);
	return io_uring_register_eventfd(&e->ring, e->efd);
}

static void uring_fini(struct io_engine *e)
{
	if (e->ring_ready)
		io_uring_queue_exit(&e->ring);
	e->ring_ready = false;
}

static void uring_flush(struct io_engine *e)
{
	while (e->unsubmitted) {
		int r = io_uring_submit(&e->ring);

		if (r > 0) {
			e->unsubmitted -= (unsigned int)r < e->unsubmitted ? (unsigned int)r :
									     e->unsubmitted;
			continue;
		}
		if (r == -EINTR)
			continue;
		/* -EAGAIN/-EBUSY: the kernel is short of resources or completions are backed
		 * up; the SQEs stay queued and the next flush (every reap ends with one)
		 * retries. Anything else is logged and retried the same way. */
		if (r != -EAGAIN && r != -EBUSY)
			log_ratelimited(LOG_ERROR, "block", "io_uring_submit: %s", strerror(-r));
		break;
	}
}

static struct io_uring_sqe *uring_sqe(struct io_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) {
		/* The SQ ring is full of prepared entries: start them and try again. */
		uring_flush(e);
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe;
}

/* Prepares the SQE for (the rest of) op. Returns 0 or -EAGAIN (no SQE). */
static int uring_prep(struct io_engine *e, struct io_op *op)
{
	struct io_uring_sqe *sqe = uring_sqe(e);

	if (!sqe)
		return -EAGAIN;
	switch (op->kind) {
	case IO_OP_READ:
		io_uring_prep_readv(sqe, e->fd, op->cur, (unsigned int)op->curcnt,
				    op->offset + op->done);
		break;
	case IO_OP_WRITE:
		io_uring_prep_writev(sqe, e->fd, op->cur, (unsigned int)op->curcnt,
				     op->offset + op->done);
		break;
	case IO_OP_FLUSH:
		io_uring_prep_fsync(sqe, e->fd, IORING_FSYNC_DATASYNC);
		break;
	case IO_OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, e->fd, op->mode, (off_t)op->offset, (off_t)op->len);
		break;
	}
	io_uring_sqe_set_data(sqe, op);
	e->unsubmitted++;
	return 0;
}

/* Handles one CQE; returns the op when it is finished, NULL when it was resubmitted. */
static struct io_op *uring_cqe(struct io_engine *e, struct io_uring_cqe *cqe)
{
	struct io_op *op = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	io_uring_cqe_seen(&e->ring, cqe);
	if (!op)
		return NULL;
	if (is_rw(op)) {
		if (res == -EAGAIN || res == -EINTR) {
			if (uring_prep(e, op) == 0)
				return NULL;
			op->result = res;
			return op;
		}
		if (!rw_progress(op, res) && uring_prep(e, op) == 0)
			return NULL; /* short transfer: the rest goes out again */
		if (op->result == 0 && op->done != op->len)
			op->result = -EIO;
		return op;
	}
	op->result = res < 0 ? res : 0;
	return op;
}

static unsigned int uring_reap(struct io_engine *e, io_done_fn fn, void *opaque)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&e->ring, &cqe) == 0 && cqe) {
		struct io_op *op = uring_cqe(e, cqe);

		if (!op)
			continue;
		e->inflight--;
		n++;
		if (fn)
			fn(opaque, op);
	}
	return n;
}
#endif

/* ---- interface ---- */

int io_engine_create_kind(int fd, unsigned int depth, enum io_engine_kind kind,
			  struct io_engine **out)
{
	struct io_engine *e;
	int r;

	*out = NULL;
	if (fd < 0 || depth < 1 || depth > IO_ENGINE_MAX_DEPTH)
		return -EINVAL;
	if (kind == IO_ENGINE_AUTO) {
		const char *no = getenv("KILN_NO_IO_URING");

		if (no && strcmp(no, "1") == 0)
			kind = IO_ENGINE_THREADS;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->depth = depth;
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		r = -errno;
		free(e);
		return r;
	}

	if (kind != IO_ENGINE_THREADS) {
#ifdef KILN_HAVE_LIBURING
		r = uring_init(e);
#else
		r = -ENOSYS;
#endif
		if (r == 0) {
			e->kind = IO_ENGINE_URING;
			*out = e;
			return 0;
		}
#ifdef KILN_HAVE_LIBURING
		uring_fini(e);
#endif
		if (kind == IO_ENGINE_URING)
			goto fail;
		log_info("block", "io_uring unavailable (%s); using %u I/O threads", strerror(-r),
			 IO_ENGINE_NR_THREADS);
	}
	e->kind = IO_ENGINE_THREADS;
	r = pool_init(e);
	if (r < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	pool_fini(e);
	close(e->efd);
	free(e);
	return r;
}

int io_engine_create(int fd, unsigned int depth, struct io_engine **out)
{
	return io_engine_create_kind(fd, depth, IO_ENGINE_AUTO, out);
}

const char *io_engine_name(const struct io_engine *e)
{
	return e->kind == IO_ENGINE_URING ? "io_uring" : "threads";
}

int io_engine_completion_fd(const struct io_engine *e)
{
	return e->efd;
}

unsigned int io_engine_inflight(const struct io_engine *e)
{
	return e->inflight;
}

int io_engine_submit(struct io_engine *e, struct io_op *op)
{
	if (e->inflight >= e->depth)
		return -EAGAIN;
	switch (op->kind) {
	case IO_OP_READ:
	case IO_OP_WRITE: {
		uint64_t sum = 0;

		if (!op->iov || op->iovcnt < 1 || op->iovcnt > IOV_MAX)
			return -EINVAL;
		for (int i = 0; i < op->iovcnt; i++)
			sum += op->iov[i].iov_len;
		if (sum != op->len || sum == 0 || op->len > INT64_MAX ||
		    op->offset > INT64_MAX - op->len)
			return -EINVAL;
		break;
	}
	case IO_OP_FLUSH:
		break;
	case IO_OP_FALLOCATE:
		if (op->len == 0 || op->len > INT64_MAX || op->offset > INT64_MAX - op->len)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	op->result = 0;
	op->done = 0;
	op->cur = op->iov;
	op->curcnt = op->iovcnt;
	op->next = NULL;
	if (is_rw(op))
		advance(op, 0); /* skip leading empty entries */
#ifdef KILN_HAVE_LIBURING
	if (e->kind == IO_ENGINE_URING) {
		if (uring_prep(e, op) < 0)
			return -EAGAIN;
		e->inflight++;
		if (e->unsubmitted >= IO_ENGINE_SUBMIT_BATCH)
			uring_flush(e);
		return 0;
	}
#endif
	e->inflight++;
	pool_submit(e, op);
	return 0;
}

void io_engine_flush(struct io_engine *e)
{
#ifdef KILN_HAVE_LIBURING
	if (e->kind == IO_ENGINE_URING)
		uring_flush(e);
#else
	(void)e;
#endif
}

unsigned int io_engine_reap(struct io_engine *e, io_done_fn fn, void *opaque)
{
	unsigned int n;

	drain_eventfd(e->efd);
#ifdef KILN_HAVE_LIBURING
	if (e->kind == IO_ENGINE_URING) {
		n = uring_reap(e, fn, opaque);
		uring_flush(e);
		return n;
	}
#endif
	n = pool_complete(e, pool_take_done(e, false), fn, opaque);
	return n;
}

void io_engine_drain(struct io_engine *e, io_done_fn fn, void *opaque)
{
	while (e->inflight > 0) {
#ifdef KILN_HAVE_LIBURING
		if (e->kind == IO_ENGINE_URING) {
			struct io_uring_cqe *cqe;
			int r;

			r = io_uring_submit_and_wait(&e->ring, 1);
			if (r >= 0) {
				unsigned int s = (unsigned int)r;
				e->unsubmitted -= s < e->unsubmitted ? s : e->unsubmitted;
			} else if (r != -EINTR && r != -EAGAIN && r != -EBUSY &&
				   io_uring_peek_cqe(&e->ring, &cqe) != 0) {
				log_error("block", "io_uring: waiting for in-flight I/O: %s; giving up "
					  "on %u requests", strerror(-r), e->inflight);
				e->inflight = 0;
				break;
			}
			uring_reap(e, fn, opaque);
			continue;
		}
#endif
		pool_complete(e, pool_take_done(e, true), fn, opaque);
	}
	drain_eventfd(e->efd);
}

void io_engine_destroy(struct io_engine *e)
{
	if (!e)
		return;
	io_engine_drain(e, NULL, NULL);
#ifdef KILN_HAVE_LIBURING
	uring_fini(e);
#endif
	pool_fini(e);
	close(e->efd);
	free(e);
}
