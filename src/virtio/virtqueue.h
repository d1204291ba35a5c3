/* Split virtqueues (virtio 1.2, section 2.7): the device side of the ring protocol, shared by
 * every virtio device model. It takes descriptor chains the driver made available, checks them
 * and turns them into lists of host pointers (virtqueue_pop), returns them through the used
 * ring (virtqueue_push), and decides on notifications both ways (EVENT_IDX or flags).
 *
 * Trust: everything in guest memory is hostile and changes under us (the guest's vCPUs run
 * concurrently). Every guest field is read once into a local, converted from little-endian and
 * checked before it is used; ring indices and ring entries use __atomic accesses with an
 * acquire after reading avail->idx and a release before writing used->idx; every guest range is
 * resolved with guest_mem_ptr() (whole range in one RAM region, no wrap, no hole). A malformed
 * chain costs at most O(queue size + 32768) descriptor reads and never hangs kiln.
 *
 * Threads: a struct virtqueue is used by one device thread at a time (callers serialise); the
 * guest side is the only concurrency handled here.
 *
 * Errors: -EINVAL from virtqueue_pop() means the driver broke the spec; the device should set
 * DEVICE_NEEDS_RESET (2.1.2) and stop using the queue. The avail entry that held the bad chain
 * is consumed (nothing is written to the used ring for it) and the queue is "broken": every later
 * pop returns -EINVAL without touching guest memory until virtqueue_init() (device reset). */
#ifndef KILN_VIRTIO_VIRTQUEUE_H
#define KILN_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/guest_mem.h"

/* Feature bits (virtio 1.2, 6 "Reserved Feature Bits") that change the ring protocol. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29

#define VIRTQ_MAX_SIZE 32768u /* largest queue size, descriptors (2.7) */

/* Ring layouts, all fields little-endian in guest memory. */

/* struct virtq_desc (2.7.5): one descriptor, 16 bytes, in the descriptor table (16-byte
 * aligned, 16 * size bytes) or in an indirect table (2.7.5.3). */
#define VIRTQ_DESC_F_NEXT 1     /* the chain continues at `next` */
#define VIRTQ_DESC_F_WRITE 2    /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* addr/len is a table of descriptors */
struct virtq_desc {
	uint64_t addr;  /* guest physical address of the buffer */
	uint32_t len;   /* bytes */
	uint16_t flags; /* VIRTQ_DESC_F_* */
	uint16_t next;  /* index of the next descriptor when flags & NEXT */
};

/* struct virtq_avail (2.7.6): driver -> device, 2-byte aligned, 6 + 2 * size bytes. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* without EVENT_IDX: no used buffer notification (2.7.7) */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;    /* free-running: where the driver puts the next entry (mod size) */
	uint16_t ring[]; /* [size] heads of chains; then uint16_t used_event (EVENT_IDX) */
};

/* struct virtq_used (2.7.8): device -> driver, 4-byte aligned, 6 + 8 * size bytes. */
#define VIRTQ_USED_F_NO_NOTIFY 1 /* without EVENT_IDX: no available buffer notification (2.7.10) */
struct virtq_used_elem {
	uint32_t id;  /* head index of the used chain */
	uint32_t len; /* bytes written into the chain's device-writable buffers */
};
struct virtq_used {
	uint16_t flags;
	uint16_t idx; /* free-running: where the device puts the next entry (mod size) */
	struct virtq_used_elem ring[]; /* [size]; then uint16_t avail_event (EVENT_IDX) */
};

/* Most segments one chain may have. The spec lets a device limit this (2.7.4.1 "The device MAY
 * have a reasonable limit of descriptors it will allow in a chain"); devices advertise at most
 * this many (e.g. virtio-blk seg_max). QEMU's limit (VIRTQUEUE_MAX_SIZE) is the same. */
#define VQ_MAX_SEGS 1024u
/* Most bytes in one chain: the used ring's len is 32 bits, and 2.7.5.2 forbids chains longer
 * than 2^32 bytes. The sum over all segments (readable + writable) is at most this. */
#define VQ_MAX_CHAIN_BYTES UINT32_MAX
/* Longest indirect table, bytes (32768 descriptors, like the largest queue). */
#define VQ_MAX_INDIRECT_BYTES (16u * VIRTQ_MAX_SIZE)

/* One buffer of a chain: [gpa, gpa + len) is guest RAM, all in one region, at host address
 * hva. hva stays valid as long as the guest_mem (the VM's RAM) does. */
struct vq_seg {
	uint64_t gpa;
	void *hva;
	uint32_t len; /* bytes, > 0 (zero-length descriptors produce no segment) */
	bool write;   /* device-writable; all writable segments follow all readable ones */
};

/* A descriptor chain taken from the available ring. segs[0, nr_read) are device-readable,
 * segs[nr_read, nr_segs) device-writable. About 24 KiB: embed it or allocate it, do not put
 * it on a small stack. The contents are unspecified after virtqueue_pop() fails. */
struct vq_chain {
	uint16_t head;        /* index of the chain's first descriptor: give it to virtqueue_push */
	unsigned int nr_segs; /* <= VQ_MAX_SEGS */
	unsigned int nr_read; /* readable segments (they come first) */
	uint64_t read_bytes;  /* sum of readable segment lengths */
	uint64_t write_bytes; /* sum of writable segment lengths; read + write <= VQ_MAX_CHAIN_BYTES */
	struct vq_seg segs[VQ_MAX_SEGS];
};

/* One split virtqueue. The device model sets the driver-written configuration fields (from
 * the transport's registers and the negotiated features) while the queue is not ready, then
 * calls virtqueue_enable(). The struct may be copied only while not ready. */
struct virtqueue {
	/* Configuration written by the driver (2.7, 4.2.2 / 4.1.4.3). */
	uint32_t size;      /* descriptors: power of two, 1..VIRTQ_MAX_SIZE, <= device max */
	uint64_t desc_gpa;  /* Descriptor Area: descriptor table, 16-byte aligned */
	uint64_t avail_gpa; /* Driver Area: available ring, 2-byte aligned */
	uint64_t used_gpa;  /* Device Area: used ring, 4-byte aligned */
	bool event_idx;     /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;      /* VIRTIO_F_INDIRECT_DESC negotiated */

	/* Device state (read-only for callers). */
	bool ready;              /* virtqueue_enable() succeeded: the rings below are usable */
	bool broken;             /* a pop failed; pops fail until virtqueue_init() */
	const char *error;       /* why the queue broke (static string), else NULL */
	uint16_t last_avail_idx; /* next avail ring entry to consume (free-running) */
	uint16_t used_idx;       /* value of used->idx last written (free-running) */
	const struct guest_mem *mem; /* borrowed; outlives the queue */
	/* Host addresses of the three rings, set by virtqueue_enable(); valid while mem lives. */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
};

/* Zeroes the queue (initial state and device reset, 2.4) and binds it to guest memory `mem`.
 * Configuration, indices, ready and broken are all cleared. */
void virtqueue_init(struct virtqueue *vq, const struct guest_mem *mem);

/* Checks the driver-written configuration against the spec and guest RAM, without changing
 * the queue: size a power of two in 1..min(max_size, VIRTQ_MAX_SIZE); desc_gpa 16-, avail_gpa
 * 2-, used_gpa 4-byte aligned (2.7.1); each ring (sizes in the struct comments above, counting
 * used_event/avail_event whether or not EVENT_IDX is negotiated) wholly inside one RAM region
 * of vq->mem (no overflow, no hole). Overlapping rings are not refused: they only confuse the
 * guest itself. Returns 0, or -EINVAL with *reason (if reason is not NULL) set to a static
 * string. */
int virtqueue_validate(const struct virtqueue *vq, uint32_t max_size, const char **reason)
	__attribute__((warn_unused_result));

/* Validates (as above) and, on success, resolves the ring addresses and marks the queue ready;
 * call it when the driver sets the queue ready. Indices are kept (0 after virtqueue_init()).
 * Returns 0, or -EINVAL with *reason set, leaving the queue not ready. */
int virtqueue_enable(struct virtqueue *vq, uint32_t max_size, const char **reason)
	__attribute__((warn_unused_result));

/* Takes the next available chain. Reads avail->idx once (acquire); if it equals
 * last_avail_idx the queue is empty. Otherwise reads the head from the avail ring, consumes
 * the entry (last_avail_idx++), and walks the chain into *chain, reading each descriptor once.
 * Rules enforced (any violation is -EINVAL and breaks the queue, see the top of this file):
 * - avail->idx is at most `size` entries ahead of last_avail_idx (2.7.13: the ring cannot overrun);
 * - head and every `next` index lie inside their table (queue size, or len / 16 in an indirect
 *   table);
 * - a chain has at most `size` descriptors in the descriptor table, plus at most len / 16 in
 *   its indirect table, so loops (a->b->a, a->a) end in an error (2.7.5.2, 2.7.5.3.1);
 * - INDIRECT only when negotiated, never with NEXT, never inside an indirect table; its len a
 *   nonzero multiple of 16 up to VQ_MAX_INDIRECT_BYTES, its table wholly in RAM (any alignment);
 *   its WRITE flag is ignored (2.7.5.3.2). Direct descriptors followed by one INDIRECT are fine;
 * - no device-readable descriptor after a device-writable one (2.7.4.2);
 * - every nonzero-length buffer wholly inside one RAM region (a buffer spanning two regions is
 *   refused: kiln's regions are never adjacent, so such a buffer always covers the hole);
 * - at most VQ_MAX_SEGS segments and VQ_MAX_CHAIN_BYTES bytes in total.
 * Zero-length descriptors are allowed (their addr is not checked) and yield no segment; they
 * count toward the descriptor limits and the readable/writable order. A chain may thus have 0
 * segments. Returns 1 with *chain filled, 0 when empty or not ready, -EINVAL as above (reason in
 * vq->error). Does not write guest memory. */
int virtqueue_pop(struct virtqueue *vq, struct vq_chain *chain)
	__attribute__((warn_unused_result));

/* Returns a chain to the driver: writes used->ring[used_idx % size] = { head, written } and
 * then (release) used->idx = ++used_idx (2.7.8.2: len before idx). `written` is the number of
 * bytes the device wrote to the chain's writable segments, from the first one on; the caller
 * keeps it <= chain->write_bytes. Returns 0, or -EINVAL (nothing written) when the queue is not
 * ready, head >= size, or no popped chain is outstanding (more pushes than pops). */
int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t written)
	__attribute__((warn_unused_result));

/* Whether the driver wants a used buffer notification (interrupt) after the device advanced
 * used->idx from old_used_idx to vq->used_idx (2.7.7.2). Issues a full barrier first (the
 * used->idx store must be visible before the driver's flag/event is read). With EVENT_IDX:
 * vring_need_event(used_event, new, old), i.e. used_event lies in [old, new) modulo 2^16;
 * else: !(avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT). False when nothing was pushed or the
 * queue is not ready. */
bool virtqueue_should_notify(struct virtqueue *vq, uint16_t old_used_idx);

/* Device side of EVENT_IDX (2.7.10): writes used->avail_event, asking the driver to notify
 * only once avail->idx moves past `avail_event`. Followed by a full barrier, so a pop that
 * comes after it sees avail->idx no older than the store. No-op without EVENT_IDX or when not
 * ready. */
void virtqueue_set_avail_event(struct virtqueue *vq, uint16_t avail_event);

/* Enables (true) or suppresses (false) available buffer notifications (2.7.10): with
 * EVENT_IDX, enabling sets avail_event = last_avail_idx (notify on the next new buffer) and
 * suppressing leaves avail_event stale; without, it clears or sets VIRTQ_USED_F_NO_NOTIFY in
 * used->flags. Full barrier, then returns whether buffers are available (avail->idx !=
 * last_avail_idx): after enabling, the caller must pop those, as the driver may have skipped
 * their notification. False when not ready or broken. */
bool virtqueue_set_notify(struct virtqueue *vq, bool enable);

#endif
