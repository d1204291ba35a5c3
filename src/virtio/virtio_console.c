/* virtio-console; see virtio_console.h. */
#include "virtio/virtio_console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/log.h"

#define RXQ 0
#define TXQ 1

struct virtio_console {
	struct virtio_dev dev;
	int out_fd, in_fd;
	bool in_watched;  /* in_fd is on the event loop */
	bool in_enabled;  /* ... with EPOLLIN (off while the guest has no receive buffer) */
	bool in_eof;
	struct vq_chain chain;
};

/* struct virtio_console_config (5.3.4): cols, rows, max_nr_ports, emerg_wr; all zero. */
#define CONSOLE_CONFIG_LEN 12

static void con_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned int len)
{
	memset(data, 0, len);
}

static void write_all(struct virtio_console *c, const uint8_t *p, size_t n)
{
	while (n && c->out_fd >= 0) {
		ssize_t w = write(c->out_fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_ratelimited(LOG_WARN, "console", "writing guest output: %s",
					w < 0 ? strerror(errno) : "no progress");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void serve_tx(struct virtio_console *c)
{
	struct virtio_dev *d = &c->dev;
	struct virtqueue *vq = &d->vqs[TXQ];
	uint16_t old = vq->used_idx;
	int r;

	for (;;) {
		while ((r = virtqueue_pop(vq, &c->chain)) > 0) {
			for (unsigned int i = 0; i < c->chain.nr_read; i++)
				write_all(c, c->chain.segs[i].hva, c->chain.segs[i].len);
			atomic_fetch_add(&d->write_bytes, c->chain.read_bytes);
			atomic_fetch_add(&d->write_ops, 1);
			if (virtqueue_push(vq, c->chain.head, 0) < 0)
				break;
		}
		if (r < 0) {
			virtio_dev_fail(d, vq->error);
			return;
		}
		if (!virtqueue_set_notify(vq, true))
			break;
	}
	virtio_dev_used(d, TXQ, old);
}

static void set_input(struct virtio_console *c, bool on)
{
	if (!c->in_watched || c->in_enabled == on)
		return;
	if (event_loop_modify(c->dev.loop, c->in_fd, on ? EPOLLIN : 0) == 0)
		c->in_enabled = on;
}

/* Input is waiting: moves one read of it into the next receive buffer. Without a buffer,
 * stops watching the input until the driver adds one (queue notification). */
static void serve_rx(struct virtio_console *c)
{
	struct virtio_dev *d = &c->dev;
	struct virtqueue *vq = &d->vqs[RXQ];
	uint16_t old = vq->used_idx;
	const struct vq_seg *seg;
	ssize_t n = 0;
	int r;

	if (!vq->ready || !c->in_watched)
		return;
	r = virtqueue_pop(vq, &c->chain);
	if (r == 0 && virtqueue_set_notify(vq, true))
		r = virtqueue_pop(vq, &c->chain);
	if (r < 0) {
		virtio_dev_fail(d, vq->error);
		return;
	}
	if (r == 0) {
		set_input(c, false);
		return;
	}
	if (c->chain.nr_segs > c->chain.nr_read) {
		seg = &c->chain.segs[c->chain.nr_read];
		n = read(c->in_fd, seg->hva, seg->len);
		if (n == 0) { /* end of input: stop watching it for good */
			event_loop_del(d->loop, c->in_fd);
			c->in_watched = c->in_enabled = false;
			c->in_eof = true;
		}
		if (n < 0)
			n = 0; /* EAGAIN/EINTR: the buffer goes back empty, which drivers accept */
	}
	if (virtqueue_push(vq, c->chain.head, (uint32_t)n) < 0)
		return;
	if (n > 0) {
		atomic_fetch_add(&d->read_bytes, (uint64_t)n);
		atomic_fetch_add(&d->read_ops, 1);
	}
	virtio_dev_used(d, RXQ, old);
}

static void input_ready(void *opaque, int fd, uint32_t events)
{
	struct virtio_console *c = opaque;
	struct virtio_dev *d = &c->dev;

	virtio_dev_lock(d);
	if (d->active) {
		if (events & (EPOLLHUP | EPOLLERR)) {
			event_loop_del(d->loop, c->in_fd);
			c->in_watched = false;
		} else {
			serve_rx(c);
		}
	}
	virtio_dev_unlock(d);
}

static void con_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_console *c = d->priv;

	if (q == TXQ)
		serve_tx(c);
	else if (q == RXQ)
		set_input(c, true); /* new receive buffers: take input again */
}

static int con_activate(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	if (c->in_fd >= 0 && !c->in_eof && d->loop &&
	    event_loop_add(d->loop, c->in_fd, EPOLLIN, input_ready, c) == 0) {
		c->in_watched = true;
		c->in_enabled = true;
	}
	serve_tx(c);
	return 0;
}

static void con_reset(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	if (c->in_watched)
		event_loop_del(d->loop, c->in_fd);
	c->in_watched = c->in_enabled = false;
}

static void con_destroy(struct virtio_dev *d)
{
	free(d->priv);
}

static const struct virtio_dev_ops console_ops = {
	.config_read = con_config_read,
	.activate = con_activate,
	.queue_notify = con_queue_notify,
	.reset = con_reset,
	.destroy = con_destroy,
};

int virtio_console_create(int out_fd, int in_fd, const struct guest_mem *mem,
			  struct event_loop *loop, struct virtio_dev **out, char *err,
			  size_t errlen)
{
	struct virtio_console *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		snprintf(err, errlen, "--console: out of memory");
		return -ENOMEM;
	}
	c->out_fd = out_fd;
	c->in_fd = in_fd;
	c->dev = (struct virtio_dev){
		.id = "_console",
		.device_id = VIRTIO_ID_CONSOLE,
		.config_len = CONSOLE_CONFIG_LEN,
		.nr_queues = 2,
		.queue_max_size = 256,
		.ops = &console_ops,
		.priv = c,
	};
	r = virtio_dev_init(&c->dev, mem, loop);
	if (r < 0) {
		snprintf(err, errlen, "--console: cannot initialise the device: %s", strerror(-r));
		free(c);
		return r;
	}
	*out = &c->dev;
	return 0;
}
