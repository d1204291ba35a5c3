/* The transport-independent half of a virtio device (virtio 1.2 chapters 2 and 5): its
 * features, configuration space, virtqueues and the callbacks of its device model. The
 * virtio-pci transport (virtio/virtio_pci.h) turns the driver's register accesses into calls
 * here; a benchmark or unit test can drive the same struct with queues it builds itself.
 *
 * Threads and locking: `lock` serialises everything below between the vCPU thread that
 * writes the transport's registers (status, features, queue setup, reset) and the event-loop
 * thread that serves queue notifications and backend completions. Every ops callback is
 * called with `lock` held; a device's own event-loop handlers (backend fds) take it with
 * virtio_dev_lock(). A device does no work until `active` (DRIVER_OK, 3.1.1) and no work
 * after reset returns.
 *
 * Trust: the driver is hostile. A spec violation found in a queue (virtqueue_pop() -EINVAL)
 * or in a request the device cannot recover from ends in virtio_dev_fail(): the device
 * stops and reports DEVICE_NEEDS_RESET (2.1.2); it never affects kiln or another device. */
#ifndef KILN_VIRTIO_VIRTIO_DEV_H
#define KILN_VIRTIO_VIRTIO_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "virtio/virtqueue.h"

/* Device IDs (virtio 1.2, 5 "Device Types"). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* Reserved feature bits (6) the transport handles; VIRTIO_F_INDIRECT_DESC and
 * VIRTIO_F_EVENT_IDX are in virtqueue.h. */
#define VIRTIO_F_VERSION_1 32

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_MAX_QUEUES 64 /* queues per device kiln supports */

struct virtio_dev;

/* A device model's callbacks, all called with d->lock held. */
struct virtio_dev_ops {
	/* Reads `len` (1, 2, 4 or 8) bytes of device-specific configuration at `offset`; the
	 * transport has checked offset + len <= config_len. Little-endian fields (4.1.4.6). */
	void (*config_read)(struct virtio_dev *d, uint32_t offset, uint8_t *data, unsigned int len);
	/* Writes them; NULL when the configuration is read-only (writes are then ignored). */
	void (*config_write)(struct virtio_dev *d, uint32_t offset, const uint8_t *data,
			     unsigned int len);
	/* The driver set DRIVER_OK: d->driver_features is final and the queues it enabled are
	 * ready (vq->ready). Start the backend, then serve buffers already available. Return 0,
	 * or -errno: the transport then sets DEVICE_NEEDS_RESET. */
	int (*activate)(struct virtio_dev *d);
	/* The driver notified queue q (4.1.5.2); called on the event-loop thread while active. */
	void (*queue_notify)(struct virtio_dev *d, unsigned int q);
	/* Device reset (status 0, 2.4) or VM teardown while active: stop the backend, complete
	 * or cancel in-flight I/O and forget it; after return the device must not touch guest
	 * memory or the queues until the next activate. May block briefly (draining I/O). */
	void (*reset)(struct virtio_dev *d);
	/* Frees the device model (priv); the event loop no longer runs its handlers. May be NULL. */
	void (*destroy)(struct virtio_dev *d);
};

/* What the transport provides to the device, set by the transport before activation. */
struct virtio_transport_ops {
	/* Send queue q's used buffer notification (interrupt) now. */
	void (*signal_used)(void *transport, unsigned int q);
	/* Send a configuration change notification (4.1.4.5). */
	void (*signal_config)(void *transport);
	/* Set DEVICE_NEEDS_RESET and a configuration change notification (2.1.2). */
	void (*needs_reset)(void *transport);
};

struct virtio_dev {
	/* Identity and offer, set by the device model before the transport is created. */
	const char *id;            /* user-visible name (e.g. "disk0"), borrowed from the config */
	uint32_t device_id;        /* VIRTIO_ID_* */
	uint64_t host_features;    /* device-specific offer; the transport adds VERSION_1,
				    * INDIRECT_DESC and EVENT_IDX */
	uint32_t config_len;       /* bytes of device-specific configuration, <= 4096 */
	unsigned int nr_queues;    /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size;   /* per queue: power of two, <= VIRTQ_MAX_SIZE */
	const struct virtio_dev_ops *ops;
	void *priv;                /* the device model's state, owned by it (ops->destroy) */

	/* Runtime state, guarded by lock. */
	pthread_mutex_t lock;
	const struct guest_mem *mem;   /* borrowed: the VM's RAM */
	struct event_loop *loop;       /* borrowed: where the device registers its fds */
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
	uint64_t driver_features;      /* accepted at FEATURES_OK */
	bool active;                   /* activated (DRIVER_OK) and not failed or reset */
	const char *fail_reason;       /* why the device stopped (static string), or NULL */

	const struct virtio_transport_ops *transport_ops; /* borrowed, may be NULL */
	void *transport;

	/* Counters for vm.counters, bytes/requests, updated by the device model. */
	_Atomic uint64_t read_bytes, write_bytes, read_ops, write_ops;
};

/* Initialises the generic part: zeroes the runtime state, binds the queues to `mem`, keeps
 * `loop`. The caller has set the identity fields above. Returns 0, -EINVAL (nr_queues or
 * queue_max_size out of range, config_len > 4096, NULL ops), or -errno from
 * pthread_mutex_init. */
int virtio_dev_init(struct virtio_dev *d, const struct guest_mem *mem, struct event_loop *loop)
	__attribute__((warn_unused_result));

/* Resets (if active, via ops->reset) and frees: ops->destroy, the mutex. */
void virtio_dev_destroy(struct virtio_dev *d);

/* Transport side, d->lock held: activation at DRIVER_OK (sets active, calls ops->activate; on
 * failure marks the device failed and returns -errno) and reset (ops->reset if active, every
 * queue back to virtqueue_init, driver_features 0). */
int virtio_dev_activate(struct virtio_dev *d) __attribute__((warn_unused_result));
void virtio_dev_reset(struct virtio_dev *d);

static inline void virtio_dev_lock(struct virtio_dev *d) { pthread_mutex_lock(&d->lock); }
static inline void virtio_dev_unlock(struct virtio_dev *d) { pthread_mutex_unlock(&d->lock); }

/* Whether feature `bit` was negotiated. */
static inline bool virtio_dev_has(const struct virtio_dev *d, unsigned int bit)
{
	return bit < 64 && (d->driver_features >> bit) & 1;
}

/* After pushing buffers to queue q: sends the used buffer notification if the driver asked
 * for it (virtqueue_should_notify() since old_used_idx). d->lock held. */
void virtio_dev_used(struct virtio_dev *d, unsigned int q, uint16_t old_used_idx);

/* The driver broke the protocol (reason: static string, logged once): the device stops
 * (ops->reset), stays inactive and reports DEVICE_NEEDS_RESET. d->lock held. */
void virtio_dev_fail(struct virtio_dev *d, const char *reason);

#endif
