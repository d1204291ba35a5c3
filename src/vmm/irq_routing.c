/* MSI routing table; see irq_routing.h. */
#include "vmm/irq_routing.h"

#include <errno.h>
#include <string.h>

int irq_routing_init(struct irq_routing *r, struct kvm_vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->vm = vm;
	r->next_gsi = KVM_IRQCHIP_GSIS;
	return -pthread_mutex_init(&r->lock, NULL);
}

void irq_routing_destroy(struct irq_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_routing_alloc_gsi(struct irq_routing *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (r->next_gsi < KVM_IRQCHIP_GSIS + IRQ_ROUTING_MAX)
		gsi = (int)r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data,
			bool masked)
{
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (gsi < KVM_IRQCHIP_GSIS || gsi >= r->next_gsi) {
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < r->nr; i++)
		if (r->routes[i].gsi == gsi)
			break;
	if (masked) {
		if (i == r->nr)
			goto out; /* no route: nothing changes */
		r->routes[i] = r->routes[--r->nr];
	} else {
		if (i == r->nr) {
			if (r->nr == IRQ_ROUTING_MAX) {
				ret = -ENOSPC;
				goto out;
			}
			r->nr++;
		} else if (r->routes[i].address == addr && r->routes[i].data == data) {
			goto out;
		}
		r->routes[i] = (struct kvm_msi_route){ .gsi = gsi, .address = addr, .data = data };
	}
	if (r->vm)
		ret = kvm_vm_set_gsi_routing(r->vm, r->routes, r->nr);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}
