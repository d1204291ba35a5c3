/* epoll event loop thread; see event_loop.h. The epoll data carries the handler's slot and
 * generation, so an event that was already fetched for a handler removed (or replaced) by an
 * earlier callback in the same batch is dropped instead of reaching a stale opaque. */
#include "util/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

#define STOP_SLOT UINT32_MAX

static uint64_t pack(uint32_t slot, uint64_t gen)
{
	return (gen << 32) | slot;
}

int event_loop_init(struct event_loop *l)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->epfd = l->stop_fd = -1;
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++)
		l->handlers[i].fd = -1;
	r = pthread_mutex_init(&l->lock, NULL);
	if (r)
		return -r;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = pack(STOP_SLOT, 0) };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	r = -errno;
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->stop_fd = -1;
	pthread_mutex_destroy(&l->lock);
	return r;
}

static void *loop_thread(void *arg)
{
	struct event_loop *l = arg;

	for (;;) {
		int r = event_loop_run_once(l, -1);
		if (r == -ESHUTDOWN)
			break;
		if (r < 0) {
			log_error("event-loop", "epoll_wait failed: %s", strerror(-r));
			break;
		}
	}
	return NULL;
}

int event_loop_start(struct event_loop *l, const char *name)
{
	int r = pthread_create(&l->thread, NULL, loop_thread, l);

	if (r)
		return -r;
	if (name)
		pthread_setname_np(l->thread, name);
	l->running = true;
	return 0;
}

void event_loop_stop(struct event_loop *l)
{
	uint64_t one = 1;

	if (!l->running)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) < 0)
		log_error("event-loop", "cannot wake the thread: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	l->running = false;
	/* Leave the stop eventfd readable-cleared so the loop can be driven by hand again. */
	if (read(l->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("event-loop", "stop eventfd: %s", strerror(errno));
}

void event_loop_destroy(struct event_loop *l)
{
	if (l->epfd < 0)
		return;
	event_loop_stop(l);
	close(l->stop_fd);
	close(l->epfd);
	l->epfd = l->stop_fd = -1;
	pthread_mutex_destroy(&l->lock);
}

static int find_slot(const struct event_loop *l, int fd)
{
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++)
		if (l->handlers[i].fd == fd)
			return (int)i;
	return -1;
}

int event_loop_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *opaque)
{
	int slot, r = 0;

	if (fd < 0 || !fn)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	if (find_slot(l, fd) >= 0) {
		r = -EEXIST;
		goto out;
	}
	slot = find_slot(l, -1);
	if (slot < 0) {
		r = -ENOSPC;
		goto out;
	}
	struct event_handler *h = &l->handlers[slot];
	h->gen++;
	struct epoll_event ev = { .events = events, .data.u64 = pack((uint32_t)slot, h->gen) };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		goto out;
	}
	h->fd = fd;
	h->fn = fn;
	h->opaque = opaque;
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

int event_loop_modify(struct event_loop *l, int fd, uint32_t events)
{
	int slot, r = 0;

	pthread_mutex_lock(&l->lock);
	slot = fd < 0 ? -1 : find_slot(l, fd);
	if (slot < 0) {
		r = -ENOENT;
	} else {
		struct epoll_event ev = { .events = events,
					  .data.u64 = pack((uint32_t)slot, l->handlers[slot].gen) };
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			r = -errno;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int event_loop_del(struct event_loop *l, int fd)
{
	int slot, r = 0;

	pthread_mutex_lock(&l->lock);
	slot = fd < 0 ? -1 : find_slot(l, fd);
	if (slot < 0) {
		r = -ENOENT;
	} else {
		/* The fd may already be closed by a careless owner; the slot is freed anyway. */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		l->handlers[slot].fd = -1;
		l->handlers[slot].fn = NULL;
		l->handlers[slot].opaque = NULL;
		l->handlers[slot].gen++;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int event_loop_run_once(struct event_loop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n, ran = 0;

	n = epoll_wait(l->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)evs[i].data.u64;
		uint64_t gen = evs[i].data.u64 >> 32;
		event_fn fn;
		void *opaque;
		int fd;

		if (slot == STOP_SLOT)
			return -ESHUTDOWN;
		if (slot >= EVENT_LOOP_MAX_HANDLERS)
			continue;
		pthread_mutex_lock(&l->lock);
		struct event_handler *h = &l->handlers[slot];
		bool live = h->fd >= 0 && (h->gen & 0xffffffffu) == gen;
		fn = h->fn;
		opaque = h->opaque;
		fd = h->fd;
		pthread_mutex_unlock(&l->lock);
		if (!live)
			continue;
		fn(opaque, fd, evs[i].events);
		ran++;
	}
	return ran;
}
