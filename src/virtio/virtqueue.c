/* Split virtqueues, device side (virtio 1.2, 2.7): see virtqueue.h for the rules enforced. */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(struct virtq_desc) == 16, "struct virtq_desc is 16 bytes (2.7.5)");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail header is flags + idx (2.7.6)");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "struct virtq_used_elem is 8 bytes (2.7.8)");
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used header is flags + idx (2.7.8)");
_Static_assert(VQ_MAX_SEGS <= VIRTQ_MAX_SIZE, "a chain's segment count fits the limits");

/* Ring sizes in bytes (2.7 table), including used_event / avail_event. */
static uint64_t desc_bytes(uint32_t size) { return 16ull * size; }
static uint64_t avail_bytes(uint32_t size) { return 6ull + 2ull * size; }
static uint64_t used_bytes(uint32_t size) { return 6ull + 8ull * size; }

/* used_event sits right after avail->ring[size], avail_event right after used->ring[size]. */
static uint16_t *used_event_ptr(const struct virtqueue *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *avail_event_ptr(const struct virtqueue *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->size];
}

void virtqueue_init(struct virtqueue *vq, const struct guest_mem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}

static int invalid(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -EINVAL;
}

int virtqueue_validate(const struct virtqueue *vq, uint32_t max_size, const char **reason)
{
	uint32_t max = max_size < VIRTQ_MAX_SIZE ? max_size : VIRTQ_MAX_SIZE;
	uint32_t size = vq->size;

	if (!vq->mem)
		return invalid(reason, "no guest memory");
	if (size == 0)
		return invalid(reason, "queue size 0");
	if (size & (size - 1))
		return invalid(reason, "queue size not a power of two");
	if (size > max)
		return invalid(reason, "queue size above the device maximum");
	/* Alignment (2.7, "Driver Requirements: Virtqueues", 2.7.1). */
	if (vq->desc_gpa & 15)
		return invalid(reason, "descriptor table not 16-byte aligned");
	if (vq->avail_gpa & 1)
		return invalid(reason, "available ring not 2-byte aligned");
	if (vq->used_gpa & 3)
		return invalid(reason, "used ring not 4-byte aligned");
	if (!guest_mem_ptr(vq->mem, vq->desc_gpa, desc_bytes(size)))
		return invalid(reason, "descriptor table not in guest RAM");
	if (!guest_mem_ptr(vq->mem, vq->avail_gpa, avail_bytes(size)))
		return invalid(reason, "available ring not in guest RAM");
	if (!guest_mem_ptr(vq->mem, vq->used_gpa, used_bytes(size)))
		return invalid(reason, "used ring not in guest RAM");
	return 0;
}

int virtqueue_enable(struct virtqueue *vq, uint32_t max_size, const char **reason)
{
	int rc = virtqueue_validate(vq, max_size, reason);

	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	if (rc)
		return rc;
	vq->desc = guest_mem_ptr(vq->mem, vq->desc_gpa, desc_bytes(vq->size));
	vq->avail = guest_mem_ptr(vq->mem, vq->avail_gpa, avail_bytes(vq->size));
	vq->used = guest_mem_ptr(vq->mem, vq->used_gpa, used_bytes(vq->size));
	vq->ready = true;
	return 0;
}

/* Guest-shared ring fields: single atomic accesses of naturally aligned little-endian words
 * (the ring alignments guarantee it), so each is read or written exactly once. */
static uint16_t load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void store16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

/* Reads the descriptor at host address src once into *d (host byte order). An indirect table
 * may be unaligned, so this copies bytes; the compiler barrier stops the compiler from
 * re-reading guest memory in place of the local copy. */
static void desc_read_once(const void *src, struct virtq_desc *d)
{
	struct virtq_desc raw;

	memcpy(&raw, src, sizeof(raw));
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

static int broken(struct virtqueue *vq, const char *why)
{
	vq->broken = true;
	vq->error = why;
	return -EINVAL;
}

/* Appends descriptor d (not INDIRECT) to the chain. *seen_write tracks the order rule. */
static int add_desc(struct virtqueue *vq, struct vq_chain *c, const struct virtq_desc *d,
		    bool *seen_write)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;

	if (write)
		*seen_write = true;
	else if (*seen_write)
		return broken(vq, "device-readable descriptor after a device-writable one");
	if (d->len == 0)
		return 0; /* no bytes, no segment; addr is meaningless */
	/* Both sums are at most VQ_MAX_CHAIN_BYTES < 2^32 before this, so no overflow. */
	if (c->read_bytes + c->write_bytes + d->len > VQ_MAX_CHAIN_BYTES)
		return broken(vq, "chain longer than 4 GiB");
	if (c->nr_segs >= VQ_MAX_SEGS)
		return broken(vq, "chain has too many segments");
	void *hva = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!hva)
		return broken(vq, "buffer not in guest RAM");
	c->segs[c->nr_segs++] = (struct vq_seg){
		.gpa = d->addr, .hva = hva, .len = d->len, .write = write };
	if (write) {
		c->write_bytes += d->len;
	} else {
		c->read_bytes += d->len;
		c->nr_read++;
	}
	return 0;
}

int virtqueue_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	if (!vq->ready)
		return 0;
	if (vq->broken)
		return -EINVAL;

	/* Read once; the acquire orders the ring entry and descriptor reads after it. */
	uint16_t avail_idx = load16(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);

	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return broken(vq, "available index moved more than the queue size");

	uint16_t slot = (uint16_t)(vq->last_avail_idx & (vq->size - 1));
	uint16_t head = load16(&vq->avail->ring[slot], __ATOMIC_RELAXED);

	vq->last_avail_idx++; /* consumed, even if the chain turns out malformed */
	if (head >= vq->size)
		return broken(vq, "head index out of range");

	chain->head = head;
	chain->nr_segs = 0;
	chain->nr_read = 0;
	chain->read_bytes = 0;
	chain->write_bytes = 0;

	/* Walk the descriptor table, then at most one indirect table. `walked` counts the
	 * descriptors read from the current table; more than it holds means a loop. */
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t table_len = vq->size, walked = 0, idx = head;
	bool in_indirect = false, seen_write = false;

	for (;;) {
		struct virtq_desc d;

		if (walked++ >= table_len)
			return broken(vq, in_indirect ? "indirect chain loops or is too long"
						      : "chain loops or is longer than the queue");
		desc_read_once(table + 16 * (size_t)idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect)
				return broken(vq, "indirect descriptor inside an indirect table");
			if (!vq->indirect)
				return broken(vq, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return broken(vq, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % 16 || d.len > VQ_MAX_INDIRECT_BYTES)
				return broken(vq, "indirect table length not a multiple of 16 in "
						  "16..512 KiB");
			table = guest_mem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return broken(vq, "indirect table not in guest RAM");
			/* The WRITE flag of this descriptor is ignored (2.7.5.3.2). */
			table_len = d.len / 16;
			walked = 0;
			idx = 0;
			in_indirect = true;
			continue;
		}

		int rc = add_desc(vq, chain, &d, &seen_write);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= table_len)
			return broken(vq, "next index out of range");
		idx = d.next;
	}
}

int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	if (!vq->ready || head >= vq->size)
		return -EINVAL;
	/* Chains popped and not yet pushed (entries consumed by a failed pop count too). */
	if ((uint16_t)(vq->last_avail_idx - vq->used_idx) == 0)
		return -EINVAL;

	struct virtq_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element (and the data written to the buffers) before the index. */
	store16(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* 2.7.7.2 / 2.7.10: notify iff event_idx lies in [old, new) modulo 2^16 (Linux's
 * vring_need_event()). */
static bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtqueue_should_notify(struct virtqueue *vq, uint16_t old_used_idx)
{
	if (!vq->ready || old_used_idx == vq->used_idx)
		return false;
	/* Store (used->idx) then load (flags / used_event): needs a full barrier, or the driver
	 * may re-enable interrupts unseen and wait forever. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx)
		return need_event(load16(used_event_ptr(vq), __ATOMIC_RELAXED), vq->used_idx,
				  old_used_idx);
	return !(load16(&vq->avail->flags, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtqueue_set_avail_event(struct virtqueue *vq, uint16_t avail_event)
{
	if (!vq->ready || !vq->event_idx)
		return;
	store16(avail_event_ptr(vq), avail_event, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtqueue_set_notify(struct virtqueue *vq, bool enable)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx) {
		if (enable)
			store16(avail_event_ptr(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
	} else {
		/* The device owns used->flags; with EVENT_IDX it stays 0 (2.7.10.2). */
		store16(&vq->used->flags, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	}
	/* The store, then the avail->idx load: full barrier (see virtqueue_should_notify()). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}
