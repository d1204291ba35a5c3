/* virtio-pci modern transport; see virtio_pci.h. Register layout: virtio 1.2, 4.1.4. */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

/* struct virtio_pci_cap (4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_LEN 16
#define VIRTIO_PCI_NOTIFY_CAP_LEN 20

/* Common configuration register offsets (4.1.4.3). */
enum {
	CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c, CC_MSIX = 0x10,
	CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15, CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c, CC_Q_NOFF = 0x1e,
	CC_Q_DESCLO = 0x20, CC_Q_DESCHI = 0x24, CC_Q_AVAILLO = 0x28, CC_Q_AVAILHI = 0x2c,
	CC_Q_USEDLO = 0x30, CC_Q_USEDHI = 0x34,
};

#define TRANSPORT_FEATURES \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) | \
	 (1ull << VIRTIO_F_EVENT_IDX))

static uint64_t offered(const struct virtio_pci *t)
{
	return t->dev->host_features | TRANSPORT_FEATURES;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void send_vector(struct virtio_pci *t, uint16_t vector)
{
	uint64_t one = 1;

	if (vector >= t->nr_vectors || !msix_notify(&t->msix, vector))
		return;
	if (write(t->irqfd[vector], &one, sizeof(one)) < 0)
		log_ratelimited(LOG_WARN, "virtio", "%s: irqfd write: %s", t->dev->id,
				strerror(errno));
}

/* virtio_transport_ops; dev->lock held. */
static void tr_signal_used(void *opaque, unsigned int q)
{
	struct virtio_pci *t = opaque;

	if (!msix_enabled(&t->msix)) {
		atomic_fetch_or(&t->isr, 1);
		return; /* no INTx: the driver polls ISR, or uses MSI-X */
	}
	send_vector(t, t->queue_vector[q]);
}

static void tr_signal_config(void *opaque)
{
	struct virtio_pci *t = opaque;

	if (!msix_enabled(&t->msix)) {
		atomic_fetch_or(&t->isr, 2);
		return;
	}
	send_vector(t, t->config_vector);
}

static void tr_needs_reset(void *opaque)
{
	struct virtio_pci *t = opaque;

	if (!(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
		tr_signal_config(t);
	}
}

static const struct virtio_transport_ops transport_ops = {
	.signal_used = tr_signal_used,
	.signal_config = tr_signal_config,
	.needs_reset = tr_needs_reset,
};

/* MSI-X callbacks (msix mutex held). */
static void msix_vector_changed(void *opaque, unsigned int v, uint64_t addr, uint32_t data,
				bool masked)
{
	struct virtio_pci *t = opaque;
	int r;

	if (v >= t->nr_vectors || t->gsi[v] < 0)
		return;
	r = irq_routing_set_msi(t->env.routing, (uint32_t)t->gsi[v], addr, data, masked);
	if (r < 0)
		log_ratelimited(LOG_ERROR, "virtio", "%s: cannot route MSI-X vector %u: %s",
				t->dev->id, v, strerror(-r));
}

static void msix_fire(void *opaque, unsigned int v)
{
	struct virtio_pci *t = opaque;
	uint64_t one = 1;

	if (v < t->nr_vectors && write(t->irqfd[v], &one, sizeof(one)) < 0)
		log_ratelimited(LOG_WARN, "virtio", "%s: irqfd write: %s", t->dev->id,
				strerror(errno));
}

static const struct msix_ops msix_callbacks = {
	.vector_changed = msix_vector_changed,
	.fire = msix_fire,
};

/* PCI callbacks (bus mutex held). */
static void pci_config_written(struct pci_device *pdev, uint32_t offset, unsigned int len)
{
	struct virtio_pci *t = pdev->opaque;

	msix_config_write(&t->msix, offset, len);
}

static void pci_bar_moved(struct pci_device *pdev, unsigned int bar, uint64_t old_addr,
			  uint64_t new_addr)
{
	struct virtio_pci *t = pdev->opaque;

	if (bar == 0 && new_addr != PCI_BAR_UNMAPPED && new_addr != t->bar_addr)
		log_ratelimited(LOG_WARN, "virtio",
				"%s: the guest moved BAR 0 from %#llx to %#llx; kiln keeps virtio "
				"BARs where it placed them, so the device stops answering",
				t->dev->id, (unsigned long long)t->bar_addr,
				(unsigned long long)new_addr);
}

static const struct pci_device_ops pci_callbacks = {
	.bar_moved = pci_bar_moved,
	.config_write = pci_config_written,
};

static void reset_registers(struct virtio_pci *t)
{
	struct virtio_dev *d = t->dev;

	t->device_feature_select = t->driver_feature_select = 0;
	t->driver_features = 0;
	t->config_vector = VIRTIO_MSI_NO_VECTOR;
	t->queue_select = 0;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		t->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
		if (q < d->nr_queues)
			d->vqs[q].size = d->queue_max_size;
	}
	t->status = 0;
	atomic_store(&t->isr, 0);
}

static struct virtqueue *selected_queue(struct virtio_pci *t)
{
	return t->queue_select < t->dev->nr_queues ? &t->dev->vqs[t->queue_select] : NULL;
}

static void write_status(struct virtio_pci *t, uint8_t v)
{
	struct virtio_dev *d = t->dev;
	uint8_t old = t->status, now;

	if (v == 0) {
		virtio_dev_reset(d);
		reset_registers(t);
		return;
	}
	now = (uint8_t)((v & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
			(old & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* 3.1.1 step 5-6: accept only a subset of the offer, and VERSION_1 (a modern
		 * device refuses legacy drivers). Refusal: FEATURES_OK reads back clear. */
		if ((t->driver_features & ~offered(t)) ||
		    !(t->driver_features & (1ull << VIRTIO_F_VERSION_1)))
			now &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		else
			d->driver_features = t->driver_features;
	}
	t->status = now;
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(now & VIRTIO_STATUS_FAILED)) {
		if (!(now & VIRTIO_STATUS_FEATURES_OK) || virtio_dev_activate(d) < 0)
			tr_needs_reset(t);
	}
}

static void enable_queue(struct virtio_pci *t, struct virtqueue *vq)
{
	struct virtio_dev *d = t->dev;
	const char *why = NULL;

	if (!(t->status & VIRTIO_STATUS_FEATURES_OK) || (t->status & VIRTIO_STATUS_DRIVER_OK)) {
		/* 4.1.4.3.2: queues are set up between FEATURES_OK and DRIVER_OK */
		log_ratelimited(LOG_WARN, "virtio", "%s: queue %u enabled outside set-up; ignored",
				d->id, t->queue_select);
		return;
	}
	vq->event_idx = virtio_dev_has(d, VIRTIO_F_EVENT_IDX);
	vq->indirect = virtio_dev_has(d, VIRTIO_F_INDIRECT_DESC);
	if (virtqueue_enable(vq, d->queue_max_size, &why) < 0) {
		log_ratelimited(LOG_WARN, "virtio", "%s: queue %u: %s", d->id, t->queue_select, why);
		tr_needs_reset(t);
	}
}

static void set_half(uint64_t *field, bool hi, uint32_t v)
{
	*field = hi ? (*field & 0xffffffffull) | ((uint64_t)v << 32) :
		      (*field & ~0xffffffffull) | v;
}

static void common_write(struct virtio_pci *t, uint32_t off, uint64_t v, unsigned int len)
{
	struct virtio_dev *d = t->dev;
	struct virtqueue *vq = selected_queue(t);
	bool q_writable = vq && !vq->ready && !(t->status & VIRTIO_STATUS_DRIVER_OK);

	/* 64-bit queue addresses: one 8-byte or two 4-byte writes (Linux writes halves). */
	if (off >= CC_Q_DESCLO && off < CC_Q_USEDHI + 4 && (len == 4 || (len == 8 && !(off & 7)))) {
		uint64_t *field;

		if (!q_writable)
			return;
		field = off < CC_Q_AVAILLO ? &vq->desc_gpa :
			off < CC_Q_USEDLO ? &vq->avail_gpa : &vq->used_gpa;
		if (len == 8)
			*field = v;
		else
			set_half(field, off & 4, (uint32_t)v);
		return;
	}
	switch (off) {
	case CC_DFSELECT:
		if (len == 4)
			t->device_feature_select = (uint32_t)v;
		break;
	case CC_GFSELECT:
		if (len == 4)
			t->driver_feature_select = (uint32_t)v;
		break;
	case CC_GF:
		if (len == 4 && t->driver_feature_select < 2 && !(t->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&t->driver_features, t->driver_feature_select, (uint32_t)v);
		break;
	case CC_MSIX:
		if (len == 2)
			t->config_vector = v < t->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case CC_STATUS:
		if (len == 1)
			write_status(t, (uint8_t)v);
		break;
	case CC_Q_SELECT:
		if (len == 2)
			t->queue_select = (uint16_t)v;
		break;
	case CC_Q_SIZE:
		if (len == 2 && q_writable)
			vq->size = (uint16_t)v; /* checked when the queue is enabled */
		break;
	case CC_Q_MSIX:
		if (len == 2 && vq)
			t->queue_vector[t->queue_select] =
				v < t->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case CC_Q_ENABLE:
		if (len == 2 && v == 1 && q_writable)
			enable_queue(t, vq);
		break;
	default:
		break; /* read-only or unknown: ignored */
	}
	(void)d;
}

/* The register file as the driver reads it. */
static void common_image(struct virtio_pci *t, uint8_t img[VIRTIO_PCI_COMMON_LEN])
{
	struct virtio_dev *d = t->dev;
	struct virtqueue *vq = selected_queue(t);
	uint64_t f = offered(t);

	memset(img, 0, VIRTIO_PCI_COMMON_LEN);
	put_le(img + CC_DFSELECT, t->device_feature_select, 4);
	put_le(img + CC_DF, t->device_feature_select == 0 ? (uint32_t)f :
			    t->device_feature_select == 1 ? (uint32_t)(f >> 32) : 0, 4);
	put_le(img + CC_GFSELECT, t->driver_feature_select, 4);
	put_le(img + CC_GF, t->driver_feature_select == 0 ? (uint32_t)t->driver_features :
			    t->driver_feature_select == 1 ? (uint32_t)(t->driver_features >> 32) : 0,
	       4);
	put_le(img + CC_MSIX, t->config_vector, 2);
	put_le(img + CC_NUMQ, d->nr_queues, 2);
	img[CC_STATUS] = t->status;
	img[CC_CFGGEN] = t->config_generation;
	put_le(img + CC_Q_SELECT, t->queue_select, 2);
	if (!vq) {
		put_le(img + CC_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
		return; /* size 0: no such queue (4.1.4.3.1) */
	}
	put_le(img + CC_Q_SIZE, vq->size, 2);
	put_le(img + CC_Q_MSIX, t->queue_vector[t->queue_select], 2);
	put_le(img + CC_Q_ENABLE, vq->ready, 2);
	put_le(img + CC_Q_NOFF, t->queue_select, 2);
	put_le(img + CC_Q_DESCLO, vq->desc_gpa, 8);
	put_le(img + CC_Q_AVAILLO, vq->avail_gpa, 8);
	put_le(img + CC_Q_USEDLO, vq->used_gpa, 8);
}

static void kick_queue(struct virtio_pci *t, unsigned int q)
{
	uint64_t one = 1;

	if (q < t->dev->nr_queues && write(t->kickfd[q], &one, sizeof(one)) < 0)
		log_ratelimited(LOG_WARN, "virtio", "%s: kick eventfd: %s", t->dev->id,
				strerror(errno));
}

void virtio_pci_bar_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len,
			   bool is_write)
{
	struct virtio_pci *t = opaque;
	struct virtio_dev *d = t->dev;

	if (!is_write)
		memset(data, 0, len);
	if (__atomic_load_n(&t->pci.bars[0].mapped, __ATOMIC_RELAXED) != t->bar_addr) {
		if (!is_write)
			memset(data, 0xff, len); /* not decoding here: master abort */
		return;
	}
	if (len == 0 || len > 8)
		return;
	if (off + len <= VIRTIO_PCI_COMMON_LEN) {
		virtio_dev_lock(d);
		if (is_write) {
			common_write(t, (uint32_t)off, get_le(data, len), len);
		} else {
			uint8_t img[VIRTIO_PCI_COMMON_LEN];
			common_image(t, img);
			memcpy(data, img + off, len);
		}
		virtio_dev_unlock(d);
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		if (!is_write)
			data[0] = atomic_exchange(&t->isr, 0); /* read clears (4.1.4.5) */
	} else if (off >= VIRTIO_PCI_DEVICE_OFF &&
		   off - VIRTIO_PCI_DEVICE_OFF + len <= d->config_len) {
		uint32_t o = (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF);

		virtio_dev_lock(d);
		if (!is_write)
			d->ops->config_read(d, o, data, len);
		else if (d->ops->config_write)
			d->ops->config_write(d, o, data, len);
		virtio_dev_unlock(d);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF &&
		   off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * d->nr_queues) {
		if (is_write)
			kick_queue(t, (unsigned int)(off - VIRTIO_PCI_NOTIFY_OFF) /
					      VIRTIO_PCI_NOTIFY_MULT);
	} else {
		msix_bar_access(&t->msix, 0, off, data, len, is_write);
	}
}

/* Event loop: the driver notified queue q. */
static void kick_handler(void *opaque, int fd, uint32_t events)
{
	struct virtio_pci_kick *k = opaque;
	struct virtio_dev *d = k->t->dev;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	virtio_dev_lock(d);
	if (d->active && d->vqs[k->q].ready && d->ops->queue_notify)
		d->ops->queue_notify(d, k->q);
	virtio_dev_unlock(d);
}

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication controller, other */
	default:
		return 0xff0000; /* unassigned class */
	}
}

static int add_vendor_cap(struct pci_device *p, uint8_t type, uint32_t off, uint32_t len,
			  unsigned int cap_len)
{
	int c = pci_add_capability(p, PCI_CAP_ID_VNDR, cap_len);

	if (c < 0)
		return c;
	if (pci_config_set8(p, (uint32_t)c + 2, (uint8_t)cap_len) ||
	    pci_config_set8(p, (uint32_t)c + 3, type) ||
	    pci_config_set8(p, (uint32_t)c + 4, 0) || /* BAR 0 */
	    pci_config_set32(p, (uint32_t)c + 8, off) || pci_config_set32(p, (uint32_t)c + 12, len))
		return -EINVAL;
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG &&
	    pci_config_set32(p, (uint32_t)c + 16, VIRTIO_PCI_NOTIFY_MULT))
		return -EINVAL;
	return 0;
}

static int build_function(struct virtio_pci *t)
{
	struct virtio_dev *d = t->dev;
	const struct pci_device_info info = {
		.vendor_id = VIRTIO_PCI_VENDOR,
		.device_id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + d->device_id),
		.subsystem_vendor_id = VIRTIO_PCI_VENDOR,
		.subsystem_id = 0x40, /* as QEMU and Cloud Hypervisor: >= 0x40 means modern */
		.class_code = class_of(d->device_id),
		.revision_id = 1, /* 4.1.2.1: modern-only devices have revision >= 1 */
	};
	int r;

	r = pci_device_init(&t->pci, &info, &pci_callbacks, t);
	if (!r)
		r = pci_set_bar(&t->pci, 0, VIRTIO_PCI_BAR_SIZE, 0);
	if (!r)
		r = bar_alloc_alloc(t->env.mmio32, VIRTIO_PCI_BAR_SIZE, &t->bar_addr);
	if (!r)
		r = pci_bar_set_address(&t->pci, 0, t->bar_addr);
	if (!r)
		r = add_vendor_cap(&t->pci, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
				   VIRTIO_PCI_COMMON_LEN, VIRTIO_PCI_CAP_LEN);
	if (!r)
		r = add_vendor_cap(&t->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				   VIRTIO_PCI_NOTIFY_MULT * d->nr_queues,
				   VIRTIO_PCI_NOTIFY_CAP_LEN);
	if (!r)
		r = add_vendor_cap(&t->pci, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1,
				   VIRTIO_PCI_CAP_LEN);
	if (!r && d->config_len)
		r = add_vendor_cap(&t->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
				   d->config_len, VIRTIO_PCI_CAP_LEN);
	if (!r)
		r = msix_init(&t->msix, &t->pci, t->nr_vectors, 0, VIRTIO_PCI_MSIX_TABLE_OFF, 0,
			      VIRTIO_PCI_MSIX_PBA_OFF, &msix_callbacks, t);
	return r;
}

static int wire_eventfds(struct virtio_pci *t)
{
	struct virtio_dev *d = t->dev;
	int r;

	for (unsigned int v = 0; v < t->nr_vectors; v++) {
		t->gsi[v] = irq_routing_alloc_gsi(t->env.routing);
		if (t->gsi[v] < 0)
			return t->gsi[v];
		t->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->irqfd[v] < 0)
			return -errno;
		if (t->env.kvm) {
			r = kvm_vm_irqfd_assign(t->env.kvm, t->irqfd[v], (uint32_t)t->gsi[v]);
			if (r < 0)
				return r;
		}
	}
	for (unsigned int q = 0; q < d->nr_queues; q++) {
		t->kick[q] = (struct virtio_pci_kick){ .t = t, .q = q };
		t->kickfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->kickfd[q] < 0)
			return -errno;
		if (t->env.kvm) {
			r = kvm_vm_ioeventfd_assign(t->env.kvm, t->kickfd[q],
						    t->bar_addr + VIRTIO_PCI_NOTIFY_OFF +
							    VIRTIO_PCI_NOTIFY_MULT * q,
						    2, false, false, 0);
			if (r < 0)
				return r;
			t->kick_registered[q] = true;
		}
		r = event_loop_add(t->env.loop, t->kickfd[q], EPOLLIN, kick_handler, &t->kick[q]);
		if (r < 0)
			return r;
		t->loop_registered[q] = true;
	}
	return 0;
}

int virtio_pci_create(struct virtio_dev *d, const struct virtio_pci_env *env,
		      struct virtio_pci **out)
{
	struct virtio_pci *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->dev = d;
	t->env = *env;
	t->nr_vectors = d->nr_queues + 1;
	for (unsigned int i = 0; i <= VIRTIO_MAX_QUEUES; i++)
		t->gsi[i] = t->irqfd[i] = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->kickfd[i] = -1;
	reset_registers(t);

	r = build_function(t);
	if (r < 0) {
		log_error("virtio", "%s: cannot build its PCI function: %s", d->id, strerror(-r));
		goto fail;
	}
	r = wire_eventfds(t);
	if (r < 0) {
		log_error("virtio", "%s: cannot set up interrupts/notifications: %s", d->id,
			  strerror(-r));
		goto fail;
	}
	r = bus_register(env->mmio, t->bar_addr, VIRTIO_PCI_BAR_SIZE, virtio_pci_bar_access, t,
			 d->id);
	if (r < 0) {
		log_error("virtio", "%s: cannot map BAR 0 at %#llx: %s", d->id,
			  (unsigned long long)t->bar_addr, strerror(-r));
		goto fail;
	}
	virtio_dev_lock(d);
	d->transport_ops = &transport_ops;
	d->transport = t;
	virtio_dev_unlock(d);
	/* Past this point the MMIO range points at t: failures leave t to the VM's teardown,
	 * which never runs a vCPU against it. */
	r = pci_bus_add_device(env->pci, &t->pci, -1);
	if (r < 0) {
		log_error("virtio", "%s: no free PCI slot (at most 31 devices): %s", d->id,
			  strerror(-r));
		*out = t;
		return r;
	}
	*out = t;
	return 0;
fail:
	virtio_pci_destroy(t);
	return r;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (!t)
		return;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (t->loop_registered[q])
			event_loop_del(t->env.loop, t->kickfd[q]);
		if (t->kick_registered[q])
			kvm_vm_ioeventfd_deassign(t->env.kvm, t->kickfd[q],
						  t->bar_addr + VIRTIO_PCI_NOTIFY_OFF +
							  VIRTIO_PCI_NOTIFY_MULT * q,
						  2, false, false, 0);
		if (t->kickfd[q] >= 0)
			close(t->kickfd[q]);
	}
	for (unsigned int v = 0; v <= VIRTIO_MAX_QUEUES; v++) {
		if (t->irqfd[v] < 0)
			continue;
		if (t->env.kvm && t->gsi[v] >= 0)
			kvm_vm_irqfd_deassign(t->env.kvm, t->irqfd[v], (uint32_t)t->gsi[v]);
		close(t->irqfd[v]);
	}
	if (t->dev && t->dev->transport == t) {
		t->dev->transport_ops = NULL;
		t->dev->transport = NULL;
	}
	msix_destroy(&t->msix);
	free(t);
}
