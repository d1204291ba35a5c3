/* The VM's MSI routing table: GSIs handed to MSI-X vectors and the message each one sends.
 * KVM_SET_GSI_ROUTING replaces the whole table, so every change rewrites it from here
 * (api.rst 4.52). Thread-safe: vCPU threads change routes when the guest programs MSI-X
 * tables, while device threads only write irqfds. */
#ifndef KILN_VMM_IRQ_ROUTING_H
#define KILN_VMM_IRQ_ROUTING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

#define IRQ_ROUTING_MAX 1024 /* MSI routes per VM (31 devices x up to 33 vectors) */

struct irq_routing {
	pthread_mutex_t lock;
	struct kvm_vm *vm;                          /* borrowed, NULL in unit tests (no ioctl) */
	struct kvm_msi_route routes[IRQ_ROUTING_MAX]; /* active routes, compact */
	unsigned int nr;
	uint32_t next_gsi;                          /* next GSI to hand out */
};

/* An empty table for `vm` (routes are not written until the first set). 0 or -errno. */
int irq_routing_init(struct irq_routing *r, struct kvm_vm *vm)
	__attribute__((warn_unused_result));
void irq_routing_destroy(struct irq_routing *r);

/* Hands out a fresh GSI (>= KVM_IRQCHIP_GSIS) with no route yet. Returns it, or -ENOSPC. */
int irq_routing_alloc_gsi(struct irq_routing *r) __attribute__((warn_unused_result));

/* Routes `gsi` to the MSI (addr, data), or removes its route when `masked` (an irqfd on it
 * then delivers nothing), and commits the table to KVM. Returns 0, -EINVAL (GSI not handed
 * out), -ENOSPC, or the ioctl's -errno. */
int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data,
			bool masked);

#endif
