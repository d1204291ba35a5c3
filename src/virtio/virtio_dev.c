/* Generic virtio device state; see virtio_dev.h. */
#include "virtio/virtio_dev.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

int virtio_dev_init(struct virtio_dev *d, const struct guest_mem *mem, struct event_loop *loop)
{
	int r;

	if (!d || !d->ops || d->nr_queues < 1 || d->nr_queues > VIRTIO_MAX_QUEUES ||
	    d->queue_max_size < 1 || d->queue_max_size > VIRTQ_MAX_SIZE ||
	    (d->queue_max_size & (d->queue_max_size - 1)) || d->config_len > 4096)
		return -EINVAL;
	r = pthread_mutex_init(&d->lock, NULL);
	if (r)
		return -r;
	d->mem = mem;
	d->loop = loop;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtqueue_init(&d->vqs[q], mem);
	d->driver_features = 0;
	d->active = false;
	d->fail_reason = NULL;
	d->transport_ops = NULL;
	d->transport = NULL;
	atomic_store(&d->read_bytes, 0);
	atomic_store(&d->write_bytes, 0);
	atomic_store(&d->read_ops, 0);
	atomic_store(&d->write_ops, 0);
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	if (!d)
		return;
	virtio_dev_lock(d);
	virtio_dev_reset(d);
	virtio_dev_unlock(d);
	pthread_mutex_destroy(&d->lock);
	if (d->ops && d->ops->destroy)
		d->ops->destroy(d);
}

int virtio_dev_activate(struct virtio_dev *d)
{
	int r;

	if (d->active)
		return 0;
	d->active = true;
	d->fail_reason = NULL;
	r = d->ops->activate ? d->ops->activate(d) : 0;
	if (r < 0) {
		d->active = false;
		d->fail_reason = "the device could not start its backend";
		log_error("virtio", "%s: cannot start: %s", d->id, strerror(-r));
	}
	return r;
}

void virtio_dev_reset(struct virtio_dev *d)
{
	if (d->active && d->ops->reset)
		d->ops->reset(d);
	d->active = false;
	d->fail_reason = NULL;
	d->driver_features = 0;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtqueue_init(&d->vqs[q], d->mem);
}

void virtio_dev_used(struct virtio_dev *d, unsigned int q, uint16_t old_used_idx)
{
	if (q >= d->nr_queues || !d->transport_ops || !d->transport_ops->signal_used)
		return;
	if (virtqueue_should_notify(&d->vqs[q], old_used_idx))
		d->transport_ops->signal_used(d->transport, q);
}

void virtio_dev_fail(struct virtio_dev *d, const char *reason)
{
	if (!d->active)
		return;
	log_ratelimited(LOG_WARN, "virtio", "%s: the guest driver broke the virtio protocol (%s); device "
		 "stopped until the driver resets it", d->id ? d->id : "?", reason ? reason : "?");
	if (d->ops->reset)
		d->ops->reset(d);
	d->active = false;
	d->fail_reason = reason;
	if (d->transport_ops && d->transport_ops->needs_reset)
		d->transport_ops->needs_reset(d->transport);
}
