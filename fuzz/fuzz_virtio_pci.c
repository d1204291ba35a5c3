/* libFuzzer target for the virtio-pci transport (src/virtio/virtio_pci.c) with virtio-rng and
 * virtio-console behind it: a hostile driver's register accesses and rings.
 *
 * Guest RAM is 256 KiB; the input's first half (up to 64 KiB) is copied to its start, so rings
 * and descriptors at low addresses hold fuzzed bytes. The input is then read as a sequence of
 * 12-byte operations:
 *   [0] bits 0-1: 0 BAR read, 1 BAR write, 2 configuration-space write (ECAM), 3 run the
 *       device thread's handlers once; bit 2: device (rng / console); bits 4-7: width
 *       selector (1, 2, 4, 8 bytes; configuration space caps at 4)
 *   [1-2] offset (le16) into BAR 0 (its 32 KiB) or configuration space (4 KiB)
 *   [3-10] value (le64)
 * Invariants (trap on violation): status reads never show FEATURES_OK with features outside
 * the offer; no crash, leak or hang (libFuzzer's -timeout). A device may end in
 * DEVICE_NEEDS_RESET; that is the expected answer to a broken driver. */
#include <endian.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "hw/bus.h"
#include "pci/bar_alloc.h"
#include "pci/pci.h"
#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"
#include "vmm/irq_routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (256u * 1024)
#define OP 12
#define MAX_OPS 512

static int null_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem;
	struct pci_bus pci;
	struct bus mmio = { .kind = "mmio" };
	struct bar_alloc mmio32;
	struct irq_routing routing;
	struct event_loop loop;
	struct virtio_dev *dev[2] = { NULL, NULL };
	struct virtio_pci *t[2] = { NULL, NULL };
	char err[256];
	size_t ram_part = size / 2 > 65536 ? 65536 : size / 2;

	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (guest_mem_init(&mem, RAM, LAYOUT_MEM_32BIT_HOLE))
		return 0;
	memcpy(mem.regions[0].hva, data, ram_part);
	if (pci_bus_init(&pci) || bar_alloc_init_mmio32(&mmio32) ||
	    irq_routing_init(&routing, NULL) || event_loop_init(&loop))
		__builtin_trap();
	if (virtio_rng_create("/dev/zero", &mem, &loop, &dev[0], err, sizeof(err)) ||
	    virtio_console_create(null_fd, -1, &mem, &loop, &dev[1], err, sizeof(err)))
		__builtin_trap();
	const struct virtio_pci_env env = { .pci = &pci, .mmio = &mmio, .mmio32 = &mmio32,
					    .routing = &routing, .loop = &loop };
	for (int i = 0; i < 2; i++)
		if (virtio_pci_create(dev[i], &env, &t[i]))
			__builtin_trap();
	/* Memory decoding on, as Linux leaves it. */
	for (int i = 0; i < 2; i++) {
		uint8_t cmd[2] = { PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0 };
		pci_bus_ecam(&pci, (uint64_t)t[i]->pci.slot << 15 | PCI_COMMAND, cmd, 2, true);
	}

	const uint8_t *ops = data + ram_part;
	size_t nops = (size - ram_part) / OP;
	if (nops > MAX_OPS)
		nops = MAX_OPS;
	for (size_t n = 0; n < nops; n++) {
		const uint8_t *o = ops + n * OP;
		unsigned int kind = o[0] & 3, which = (o[0] >> 2) & 1;
		unsigned int len = 1u << ((o[0] >> 4) & 3);
		uint16_t off;
		uint8_t buf[8];
		struct virtio_pci *tp = t[which];

		memcpy(&off, o + 1, 2);
		off = le16toh(off);
		memcpy(buf, o + 3, 8);
		switch (kind) {
		case 0:
		case 1:
			off %= VIRTIO_PCI_BAR_SIZE;
			if (off + len > VIRTIO_PCI_BAR_SIZE)
				break;
			bus_access(&mmio, tp->bar_addr + off, buf, len, kind == 1);
			break;
		case 2:
			if (len > 4)
				len = 4;
			off %= 4096;
			pci_bus_ecam(&pci, (uint64_t)tp->pci.slot << 15 | off, buf, len, true);
			break;
		case 3:
			while (event_loop_run_once(&loop, 0) > 0)
				;
			break;
		}
		/* FEATURES_OK only ever for a subset of the offer that includes VERSION_1. */
		if (tp->status & VIRTIO_STATUS_FEATURES_OK) {
			uint64_t offer = tp->dev->host_features | (1ull << VIRTIO_F_VERSION_1) |
					 (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX);
			if ((tp->dev->driver_features & ~offer) ||
			    !(tp->dev->driver_features & (1ull << VIRTIO_F_VERSION_1)))
				__builtin_trap();
		}
	}
	while (event_loop_run_once(&loop, 0) > 0)
		;
	for (int i = 0; i < 2; i++) {
		virtio_pci_destroy(t[i]);
		virtio_dev_destroy(dev[i]);
	}
	event_loop_destroy(&loop);
	irq_routing_destroy(&routing);
	pci_bus_destroy(&pci);
	guest_mem_free(&mem);
	return 0;
}
