/* virtio-rng; see virtio_rng.h. */
#include "virtio/virtio_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

struct virtio_rng {
	struct virtio_dev dev;
	int fd;
	struct vq_chain chain; /* scratch for the one queue */
};

static void rng_config_read(struct virtio_dev *d, uint32_t offset, uint8_t *data,
			    unsigned int len)
{
	memset(data, 0, len); /* no configuration space */
}

/* Fills the chain's writable segments; returns bytes written. */
static uint32_t fill(struct virtio_rng *rng, const struct vq_chain *c)
{
	uint32_t done = 0;

	for (unsigned int i = c->nr_read; i < c->nr_segs; i++) {
		uint32_t want = c->segs[i].len;
		ssize_t n;

		if (want > VIRTIO_RNG_MAX_REQUEST - done)
			want = VIRTIO_RNG_MAX_REQUEST - done;
		if (!want)
			break;
		n = read(rng->fd, c->segs[i].hva, want);
		if (n <= 0) {
			log_ratelimited(LOG_WARN, "virtio", "%s: reading the entropy source: %s",
					rng->dev.id, n < 0 ? strerror(errno) : "end of file");
			break;
		}
		done += (uint32_t)n;
		if ((uint32_t)n < want)
			break;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_rng *rng = d->priv;
	struct virtqueue *vq = &d->vqs[0];
	uint16_t old = vq->used_idx;
	int r;

	if (q != 0)
		return;
	for (;;) {
		while ((r = virtqueue_pop(vq, &rng->chain)) > 0) {
			uint32_t n = fill(rng, &rng->chain);

			if (virtqueue_push(vq, rng->chain.head, n) < 0)
				break;
			atomic_fetch_add(&d->read_bytes, n);
			atomic_fetch_add(&d->read_ops, 1);
		}
		if (r < 0) {
			virtio_dev_fail(d, vq->error);
			return;
		}
		if (!virtqueue_set_notify(vq, true))
			break;
	}
	virtio_dev_used(d, 0, old);
}

static int rng_activate(struct virtio_dev *d)
{
	rng_queue_notify(d, 0); /* buffers made available before DRIVER_OK */
	return 0;
}

static void rng_destroy(struct virtio_dev *d)
{
	struct virtio_rng *rng = d->priv;

	close(rng->fd);
	free(rng);
}

static const struct virtio_dev_ops rng_ops = {
	.config_read = rng_config_read,
	.activate = rng_activate,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int virtio_rng_create(const char *src, const struct guest_mem *mem, struct event_loop *loop,
		      struct virtio_dev **out, char *err, size_t errlen)
{
	struct virtio_rng *rng;
	struct stat st;
	int r;

	rng = calloc(1, sizeof(*rng));
	if (!rng) {
		snprintf(err, errlen, "--rng: out of memory");
		return -ENOMEM;
	}
	rng->fd = open(src, O_RDONLY | O_CLOEXEC);
	if (rng->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--rng src=%s: cannot open: %s", src, strerror(errno));
		free(rng);
		return r;
	}
	if (fstat(rng->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--rng src=%s: is a directory; give a file or character "
			 "device such as /dev/urandom", src);
		r = -EISDIR;
		goto fail;
	}
	rng->dev = (struct virtio_dev){
		.id = "_rng",
		.device_id = VIRTIO_ID_RNG,
		.nr_queues = 1,
		.queue_max_size = 256,
		.ops = &rng_ops,
		.priv = rng,
	};
	r = virtio_dev_init(&rng->dev, mem, loop);
	if (r < 0) {
		snprintf(err, errlen, "--rng: cannot initialise the device: %s", strerror(-r));
		goto fail;
	}
	*out = &rng->dev;
	return 0;
fail:
	close(rng->fd);
	free(rng);
	return r;
}
