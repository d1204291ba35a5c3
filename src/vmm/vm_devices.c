/* PCI segment and virtio devices of a VM; see vm_devices.h. */
#include "vmm/vm_devices.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "util/log.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"
#include "vmm/vm.h"

#define DEFAULT_RNG_SRC "/dev/urandom" /* Cloud Hypervisor's default --rng */

static int add_function(struct vm *vm, struct virtio_dev *d)
{
	struct vm_devices *v = &vm->devices;
	const struct virtio_pci_env env = {
		.kvm = &vm->kvm, .pci = &v->pci, .mmio = &vm->mmio, .mmio32 = &v->mmio32,
		.routing = &v->routing, .loop = &v->loop,
	};
	int r;

	v->dev[v->nr] = d;
	r = virtio_pci_create(d, &env, &v->pci_fn[v->nr]);
	v->nr++; /* the device (and a transport, if one came back) are freed by destroy */
	return r;
}

static int create_virtio(struct vm *vm)
{
	const struct vm_config *cfg = vm->vmm->cfg;
	struct vm_devices *v = &vm->devices;
	struct virtio_dev *d;
	char err[512];
	int r;

	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		if (v->nr == VM_MAX_VIRTIO) {
			log_error("pci", "too many devices: at most %d", VM_MAX_VIRTIO);
			return -ENOSPC;
		}
		r = virtio_blk_create(&cfg->disks[i], i, &vm->mem, &v->loop, &d, err, sizeof(err));
		if (r < 0) {
			log_error("disk", "%s", err);
			return r;
		}
		r = add_function(vm, d);
		if (r < 0)
			return r;
	}
	if (v->nr == VM_MAX_VIRTIO) {
		log_error("pci", "too many devices: at most %d", VM_MAX_VIRTIO);
		return -ENOSPC;
	}
	if (cfg->console != OUTPUT_OFF) {
		r = virtio_console_create(vm->vmm->console_out_fd,
					  vm->vmm->console_in ? STDIN_FILENO : -1, &vm->mem,
					  &v->loop, &d, err, sizeof(err));
		if (r < 0) {
			log_error("console", "%s", err);
			return r;
		}
		r = add_function(vm, d);
		if (r < 0)
			return r;
	}
	r = virtio_rng_create(cfg->rng_src ? cfg->rng_src : DEFAULT_RNG_SRC, &vm->mem, &v->loop,
			      &d, err, sizeof(err));
	if (r < 0) {
		log_error("rng", "%s", err);
		return r;
	}
	return add_function(vm, d);
}

int vm_devices_create(struct vm *vm)
{
	struct vm_devices *v = &vm->devices;
	int r;

	memset(v, 0, sizeof(*v));
	r = pci_bus_init(&v->pci);
	if (r < 0)
		goto fail;
	r = irq_routing_init(&v->routing, &vm->kvm);
	if (r < 0) {
		pci_bus_destroy(&v->pci);
		goto fail;
	}
	r = event_loop_init(&v->loop);
	if (r < 0) {
		irq_routing_destroy(&v->routing);
		pci_bus_destroy(&v->pci);
		goto fail;
	}
	v->initialised = true;
	r = bar_alloc_init_mmio32(&v->mmio32);
	if (!r)
		r = bus_register(&vm->pio, PORT_PCI_CONFIG, PORT_PCI_CONFIG_LEN, pci_bus_pio, &v->pci,
				 "pci-config");
	if (!r)
		r = bus_register(&vm->mmio, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, pci_bus_ecam,
				 &v->pci, "pci-ecam");
	if (r < 0)
		goto fail;
	return create_virtio(vm);
fail:
	log_error("pci", "cannot set up the PCI segment: %s", strerror(-r));
	return r;
}

int vm_devices_start(struct vm *vm)
{
	struct vm_devices *v = &vm->devices;

	if (!v->initialised || v->loop.running)
		return 0;
	return event_loop_start(&v->loop, "kiln-devices");
}

void vm_devices_stop(struct vm *vm)
{
	if (vm->devices.initialised)
		event_loop_stop(&vm->devices.loop);
}

void vm_devices_destroy(struct vm *vm)
{
	struct vm_devices *v = &vm->devices;

	if (!v->initialised)
		return;
	event_loop_stop(&v->loop);
	for (unsigned int i = 0; i < v->nr; i++) {
		virtio_pci_destroy(v->pci_fn[i]);
		virtio_dev_destroy(v->dev[i]);
	}
	v->nr = 0;
	event_loop_destroy(&v->loop);
	irq_routing_destroy(&v->routing);
	pci_bus_destroy(&v->pci);
	v->initialised = false;
}
