/* virtio-rng (virtio 1.2, 5.4): one request queue; the device fills each chain's writable
 * buffers with bytes read from a host source (default /dev/urandom, as Cloud Hypervisor). */
#ifndef KILN_VIRTIO_VIRTIO_RNG_H
#define KILN_VIRTIO_VIRTIO_RNG_H

#include <stddef.h>

#include "virtio/virtio_dev.h"

#define VIRTIO_RNG_MAX_REQUEST (64u * 1024) /* bytes served per chain; the rest is left unused */

/* Opens `src` (a path, read-only) and builds the device. *out is owned by the caller: free it
 * with virtio_dev_destroy(). Returns 0, or -errno with a message naming the path in err. */
int virtio_rng_create(const char *src, const struct guest_mem *mem, struct event_loop *loop,
		      struct virtio_dev **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
