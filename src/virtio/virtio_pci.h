/* The virtio 1.2 PCI transport, modern interface only (4.1): a PCI function 1af4:(1040 + device
 * ID), revision 1, with one 32-bit memory BAR (BAR 0, VIRTIO_PCI_BAR_SIZE bytes) holding the
 * four virtio structures and the MSI-X table:
 *   0x0000 common configuration (4.1.4.3), 0x1000 ISR status (4.1.4.5),
 *   0x2000 device-specific configuration (4.1.4.6), 0x3000 notifications (4.1.4.4: queue q at
 *   0x3000 + 4 q, notify_off_multiplier 4), 0x4000 MSI-X table, 0x5000 Pending Bit Array.
 * Vector v of the MSI-X table has its own KVM GSI and irqfd; queue q's notification address
 * has an ioeventfd, served on the event loop, so the data path never exits to a vCPU thread.
 * Accesses the ioeventfd does not catch (other widths) reach the same eventfd via the MMIO exit.
 *
 * Not implemented: VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9; Linux does not use it), legacy and
 * transitional interfaces, INTx (the function has no interrupt pin: MSI-X only), moving BAR 0
 * (a guest that reprograms it elsewhere loses the device; Linux keeps firmware's address). */
#ifndef KILN_VIRTIO_VIRTIO_PCI_H
#define KILN_VIRTIO_VIRTIO_PCI_H

#include <stdint.h>

#include "hw/bus.h"
#include "kvm/kvm.h"
#include "pci/bar_alloc.h"
#include "pci/msix.h"
#include "pci/pci.h"
#include "util/event_loop.h"
#include "virtio/virtio_dev.h"
#include "vmm/irq_routing.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + device ID (4.1.2.1) */
#define VIRTIO_PCI_BAR_SIZE 0x8000u

#define VIRTIO_PCI_COMMON_OFF 0x0000u
#define VIRTIO_PCI_COMMON_LEN 0x38u
#define VIRTIO_PCI_ISR_OFF 0x1000u
#define VIRTIO_PCI_DEVICE_OFF 0x2000u
#define VIRTIO_PCI_NOTIFY_OFF 0x3000u
#define VIRTIO_PCI_NOTIFY_MULT 4u
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000u
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000u
#define VIRTIO_MSI_NO_VECTOR 0xffffu

/* What a transport needs from the VM; all borrowed, outliving the transport. */
struct virtio_pci_env {
	struct kvm_vm *kvm;             /* ioeventfd/irqfd; NULL in unit tests (MMIO path only) */
	struct pci_bus *pci;
	struct bus *mmio;               /* BAR 0 is registered here at its allocated address */
	struct bar_alloc *mmio32;       /* BAR 0 comes from here */
	struct irq_routing *routing;
	struct event_loop *loop;
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_dev *dev;          /* borrowed: the caller destroys it after the transport */
	struct virtio_pci_env env;
	uint64_t bar_addr;               /* where BAR 0 was placed */
	unsigned int nr_vectors;         /* nr_queues + 1 */
	/* Common configuration registers (guarded by dev->lock). */
	uint32_t device_feature_select, driver_feature_select;
	uint64_t driver_features;        /* as written, before FEATURES_OK */
	uint16_t config_vector;
	uint16_t queue_select;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t status;
	uint8_t config_generation;
	_Atomic uint8_t isr;             /* bit 0 queue, bit 1 configuration (4.1.4.5) */
	/* One GSI + irqfd per MSI-X vector, one ioeventfd per queue. */
	int gsi[VIRTIO_MAX_QUEUES + 1];
	int irqfd[VIRTIO_MAX_QUEUES + 1];
	int kickfd[VIRTIO_MAX_QUEUES];
	bool kick_registered[VIRTIO_MAX_QUEUES]; /* ioeventfd assigned in KVM */
	bool loop_registered[VIRTIO_MAX_QUEUES];
	struct virtio_pci_kick {
		struct virtio_pci *t;
		unsigned int q;
	} kick[VIRTIO_MAX_QUEUES];
};

/* Builds the PCI function for `dev` (initialised with virtio_dev_init()), allocates BAR 0,
 * sets up MSI-X (nr_queues + 1 vectors), GSIs, irqfds and ioeventfds, registers BAR 0 on the
 * MMIO bus, the kick eventfds on the event loop, and adds the function to the PCI bus at the
 * next free slot. Returns 0 with *out set (owned: virtio_pci_destroy), or -errno after logging
 * what failed: -ENOSPC (no BAR space, no slot, no GSI), -ENOMEM, or a KVM ioctl's error. */
int virtio_pci_create(struct virtio_dev *dev, const struct virtio_pci_env *env,
		      struct virtio_pci **out) __attribute__((warn_unused_result));

/* Releases the transport's fds and registrations (the event loop must be stopped or the
 * kick handlers removed first: this removes them) and frees it. Safe on NULL. The PCI bus and
 * MMIO bus keep borrowed pointers: destroy the transport only with the VM. */
void virtio_pci_destroy(struct virtio_pci *t);

/* BAR 0 MMIO handler (hw/bus.h), opaque = struct virtio_pci; exported for unit tests. */
void virtio_pci_bar_access(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			   bool is_write);

#endif
