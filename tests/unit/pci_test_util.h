/* Shared by the PCI unit tests (test_pci.c, test_msix.c, test_bar_alloc.c): guest-style
 * config accesses through mechanism #1 and ECAM, and a test device recording its callbacks. */
#ifndef KILN_TESTS_PCI_TEST_UTIL_H
#define KILN_TESTS_PCI_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "kvm/kvm.h"
#include "pci/bar_alloc.h"
#include "pci/msix.h"
#include "pci/pci.h"

#define UNMAPPED PCI_BAR_UNMAPPED

/* ---- guest access helpers ---- */

static inline void pio_write(struct pci_bus *b, unsigned int port, uint32_t v, unsigned int len)
{
	uint8_t d[4];

	for (unsigned int i = 0; i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_bus_pio(b, port - PORT_PCI_CONFIG, d, len, true);
}

static inline uint32_t pio_read(struct pci_bus *b, unsigned int port, unsigned int len)
{
	uint8_t d[4] = { 0x5a, 0x5a, 0x5a, 0x5a };
	uint32_t v = 0;

	pci_bus_pio(b, port - PORT_PCI_CONFIG, d, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static inline uint32_t cfg_addr(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Mechanism #1 as Linux's pci_conf1_read/write: address, then data at 0xcfc + (reg & 3). */
static inline uint32_t cf8_read(struct pci_bus *b, unsigned int dev, unsigned int reg, unsigned int len)
{
	pio_write(b, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	return pio_read(b, 0xcfc + (reg & 3), len);
}

static inline void cf8_write(struct pci_bus *b, unsigned int dev, unsigned int reg, uint32_t v,
		      unsigned int len)
{
	pio_write(b, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	pio_write(b, 0xcfc + (reg & 3), v, len);
}

static inline uint64_t ecam_off(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int reg)
{
	return (uint64_t)bus << 20 | dev << 15 | fn << 12 | reg;
}

static inline uint64_t ecam_read_at(struct pci_bus *b, uint64_t off, unsigned int len)
{
	uint8_t d[8];
	uint64_t v = 0;

	memset(d, 0x5a, sizeof(d));
	pci_bus_ecam(b, off, d, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static inline void ecam_write_at(struct pci_bus *b, uint64_t off, uint64_t v, unsigned int len)
{
	uint8_t d[8];

	for (unsigned int i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_bus_ecam(b, off, d, len, true);
}

static inline uint64_t ecam_read(struct pci_bus *b, unsigned int dev, unsigned int reg, unsigned int len)
{
	return ecam_read_at(b, ecam_off(0, dev, 0, reg), len);
}

static inline void ecam_write(struct pci_bus *b, unsigned int dev, unsigned int reg, uint64_t v,
		       unsigned int len)
{
	ecam_write_at(b, ecam_off(0, dev, 0, reg), v, len);
}

/* ---- a test device recording its callbacks ---- */

struct moved {
	unsigned int bar;
	uint64_t old_addr, new_addr;
};

struct testdev {
	struct pci_device pci;
	struct msix msix;
	bool has_msix;
	struct moved moves[32];
	unsigned int nr_moves;
	unsigned int nr_writes;
	uint32_t last_write_off;
	unsigned int last_write_len;
};

static inline void td_bar_moved(struct pci_device *dev, unsigned int bar, uint64_t old_addr,
			 uint64_t new_addr)
{
	struct testdev *t = dev->opaque;

	assert_ptr_equal(&t->pci, dev);
	assert_true(t->nr_moves < 32);
	t->moves[t->nr_moves++] = (struct moved){ bar, old_addr, new_addr };
}

static inline void td_config_write(struct pci_device *dev, uint32_t offset, unsigned int len)
{
	struct testdev *t = dev->opaque;

	t->nr_writes++;
	t->last_write_off = offset;
	t->last_write_len = len;
	if (t->has_msix)
		msix_config_write(&t->msix, offset, len);
}

static const struct pci_device_ops td_ops = {
	.bar_moved = td_bar_moved,
	.config_write = td_config_write,
};

/* A virtio-like function: vendor 0x1af4, device 0x1041, class 0x020000, INTA#. */
static inline void td_init(struct testdev *t, bool pcie)
{
	const struct pci_device_info info = {
		.vendor_id = 0x1af4, .device_id = 0x1041, .subsystem_vendor_id = 0x1af4,
		.subsystem_id = 0x0001, .class_code = 0x020000, .revision_id = 1,
		.interrupt_pin = 1, .pcie = pcie,
	};

	memset(t, 0, sizeof(*t));
	assert_int_equal(pci_device_init(&t->pci, &info, &td_ops, t), 0);
}

static inline void expect_move(const struct testdev *t, unsigned int i, unsigned int bar,
			uint64_t old_addr, uint64_t new_addr)
{
	assert_true(i < t->nr_moves);
	assert_int_equal(t->moves[i].bar, bar);
	assert_int_equal(t->moves[i].old_addr, old_addr);
	assert_int_equal(t->moves[i].new_addr, new_addr);
}

static inline int setup_bus(void **state)
{
	static struct pci_bus bus;

	assert_int_equal(pci_bus_init(&bus), 0);
	*state = &bus;
	return 0;
}

static inline int teardown_bus(void **state)
{
	pci_bus_destroy(*state);
	return 0;
}


/* Linux's __pci_find_next_cap_ttl() over mechanism #1. */
static inline unsigned int linux_find_cap(struct pci_bus *b, unsigned int dev, uint8_t id)
{
	if (!(cf8_read(b, dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	unsigned int pos = cf8_read(b, dev, PCI_CAPABILITY_LIST, 1);
	for (int ttl = 48; ttl--;) {
		if (pos < 0x40)
			break;
		pos &= ~3u;
		uint16_t ent = (uint16_t)cf8_read(b, dev, pos, 2);
		if ((ent & 0xff) == 0xff)
			break;
		if ((ent & 0xff) == id)
			return pos;
		pos = ent >> 8;
	}
	return 0;
}

#define BUS_TEST(f) cmocka_unit_test_setup_teardown(f, setup_bus, teardown_bus)

#endif
