/* The VM's PCI segment and virtio devices: the PCI bus (config ports and ECAM), the 32-bit
 * BAR window, the MSI routing table, the device event-loop thread, and one virtio-pci
 * function per configured device (--disk, --rng). */
#ifndef KILN_VMM_VM_DEVICES_H
#define KILN_VMM_VM_DEVICES_H

#include "pci/bar_alloc.h"
#include "pci/pci.h"
#include "util/event_loop.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/irq_routing.h"

#define VM_MAX_VIRTIO 31 /* one PCI slot each */

struct vm;

struct vm_devices {
	bool initialised;
	struct pci_bus pci;
	struct bar_alloc mmio32;
	struct irq_routing routing;
	struct event_loop loop;
	struct virtio_dev *dev[VM_MAX_VIRTIO];    /* owned */
	struct virtio_pci *pci_fn[VM_MAX_VIRTIO]; /* owned */
	unsigned int nr;
};

/* Builds the PCI bus and every configured virtio device for `vm` (its KVM VM, RAM and buses
 * exist). Returns 0, or -errno after logging one clear line naming the device and what to do;
 * vm_devices_destroy() then releases what was built. */
int vm_devices_create(struct vm *vm) __attribute__((warn_unused_result));

/* Starts / stops the event-loop thread (vm_start, vm_pause/vm_resume: a paused VM's devices
 * do not touch guest memory). Returns 0 or -errno. */
int vm_devices_start(struct vm *vm) __attribute__((warn_unused_result));
void vm_devices_stop(struct vm *vm);

/* Stops the thread, resets every device (draining their I/O) and frees everything. Call
 * after the vCPU threads are gone. Safe on a partly built or zeroed struct. */
void vm_devices_destroy(struct vm *vm);

#endif
