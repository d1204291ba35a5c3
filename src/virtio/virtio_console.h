/* virtio-console (virtio 1.2, 5.3), a single port (no MULTIPORT): receiveq 0 carries host
 * input to the guest's hvc0, transmitq 1 the guest's output to the host. Output goes to
 * out_fd (a terminal or file); input comes from in_fd (the terminal) when there is one. */
#ifndef KILN_VIRTIO_VIRTIO_CONSOLE_H
#define KILN_VIRTIO_VIRTIO_CONSOLE_H

#include <stddef.h>

#include "virtio/virtio_dev.h"

/* Builds the device. out_fd and in_fd are borrowed (-1: output discarded / no input) and
 * must stay open while the device lives. *out: free with virtio_dev_destroy(). Returns 0, or
 * -errno with a message in err. */
int virtio_console_create(int out_fd, int in_fd, const struct guest_mem *mem,
			  struct event_loop *loop, struct virtio_dev **out, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

#endif
