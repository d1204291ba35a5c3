/* An epoll event loop on its own thread: the device thread. Virtio devices register their
 * ioeventfds (queue notifications), backend fds (a TAP, an io_uring completion eventfd, a
 * listening socket) and timers here, so guest I/O is served without returning to a vCPU
 * thread. One loop serves every device of a VM (see docs/architecture.md for why one thread).
 *
 * Callbacks run on the loop thread, one at a time; a callback may add or remove handlers
 * (its own included) from inside. event_loop_add/_del are also safe from other threads, but
 * a handler removed from another thread may still be running or about to run once: remove
 * from the loop thread (or after event_loop_stop()) when the opaque is about to be freed. */
#ifndef KILN_UTIL_EVENT_LOOP_H
#define KILN_UTIL_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR) that fired on fd. */
typedef void (*event_fn)(void *opaque, int fd, uint32_t events);

#define EVENT_LOOP_MAX_HANDLERS 1024

struct event_handler {
	int fd;          /* -1 when the slot is free */
	event_fn fn;
	void *opaque;    /* borrowed */
	uint64_t gen;    /* bumped on every (re)use, so stale epoll events are dropped */
};

struct event_loop {
	int epfd;                 /* owned */
	int stop_fd;              /* eventfd: wakes the thread to stop, owned */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;     /* handlers[] */
	struct event_handler handlers[EVENT_LOOP_MAX_HANDLERS];
};

/* Creates the epoll instance (no thread yet). Returns 0, or -errno from epoll_create1/eventfd
 * or pthread_mutex_init. */
int event_loop_init(struct event_loop *l) __attribute__((warn_unused_result));

/* Starts the thread (named `name`, <= 15 chars). Returns 0 or -errno. */
int event_loop_start(struct event_loop *l, const char *name) __attribute__((warn_unused_result));

/* Stops and joins the thread; no callback runs after it returns. Safe when not started. */
void event_loop_stop(struct event_loop *l);

/* Stops the thread and closes the loop's own fds. Registered fds stay their owners'. */
void event_loop_destroy(struct event_loop *l);

/* Watches `fd` for `events` (EPOLLIN and/or EPOLLOUT; level-triggered) and calls fn(opaque,
 * fd, events) when they fire. Returns 0, -EEXIST (fd already watched), -ENOSPC (table full),
 * or -errno from epoll_ctl. */
int event_loop_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *opaque)
	__attribute__((warn_unused_result));

/* Changes the events watched on fd. Returns 0, -ENOENT, or -errno from epoll_ctl. */
int event_loop_modify(struct event_loop *l, int fd, uint32_t events);

/* Stops watching fd (before its owner closes it). Returns 0 or -ENOENT. */
int event_loop_del(struct event_loop *l, int fd);

/* Runs the callbacks of ready fds once, waiting up to timeout_ms (-1 forever) — what the
 * thread does in a loop; for tests and benchmarks that drive a loop on their own thread.
 * Returns the number of callbacks run, or -errno from epoll_wait (-EINTR is 0). */
int event_loop_run_once(struct event_loop *l, int timeout_ms);

#endif
