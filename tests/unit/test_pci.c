/* PCI core (pci/pci.h): configuration mechanism #1 and ECAM as a guest drives them, BAR sizing
 * and moves, capability lists walked like Linux, read-only fields; MSI-X (pci/msix.h); the BAR
 * allocator (pci/bar_alloc.h); and the KVM routing/irqfd/ioeventfd wrappers when /dev/kvm is
 * usable. Register values come from the specs (PCI LB 3.0 chapter 6), not from kiln's code. */
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

static void pio_write(struct pci_bus *b, unsigned int port, uint32_t v, unsigned int len)
{
	uint8_t d[4];

	for (unsigned int i = 0; i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_bus_pio(b, port - PORT_PCI_CONFIG, d, len, true);
}

static uint32_t pio_read(struct pci_bus *b, unsigned int port, unsigned int len)
{
	uint8_t d[4] = { 0x5a, 0x5a, 0x5a, 0x5a };
	uint32_t v = 0;

	pci_bus_pio(b, port - PORT_PCI_CONFIG, d, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static uint32_t cfg_addr(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Mechanism #1 as Linux's pci_conf1_read/write: address, then data at 0xcfc + (reg & 3). */
static uint32_t cf8_read(struct pci_bus *b, unsigned int dev, unsigned int reg, unsigned int len)
{
	pio_write(b, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	return pio_read(b, 0xcfc + (reg & 3), len);
}

static void cf8_write(struct pci_bus *b, unsigned int dev, unsigned int reg, uint32_t v,
		      unsigned int len)
{
	pio_write(b, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	pio_write(b, 0xcfc + (reg & 3), v, len);
}

static uint64_t ecam_off(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int reg)
{
	return (uint64_t)bus << 20 | dev << 15 | fn << 12 | reg;
}

static uint64_t ecam_read_at(struct pci_bus *b, uint64_t off, unsigned int len)
{
	uint8_t d[8];
	uint64_t v = 0;

	memset(d, 0x5a, sizeof(d));
	pci_bus_ecam(b, off, d, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void ecam_write_at(struct pci_bus *b, uint64_t off, uint64_t v, unsigned int len)
{
	uint8_t d[8];

	for (unsigned int i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_bus_ecam(b, off, d, len, true);
}

static uint64_t ecam_read(struct pci_bus *b, unsigned int dev, unsigned int reg, unsigned int len)
{
	return ecam_read_at(b, ecam_off(0, dev, 0, reg), len);
}

static void ecam_write(struct pci_bus *b, unsigned int dev, unsigned int reg, uint64_t v,
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

static void td_bar_moved(struct pci_device *dev, unsigned int bar, uint64_t old_addr,
			 uint64_t new_addr)
{
	struct testdev *t = dev->opaque;

	assert_ptr_equal(&t->pci, dev);
	assert_true(t->nr_moves < 32);
	t->moves[t->nr_moves++] = (struct moved){ bar, old_addr, new_addr };
}

static void td_config_write(struct pci_device *dev, uint32_t offset, unsigned int len)
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
static void td_init(struct testdev *t, bool pcie)
{
	const struct pci_device_info info = {
		.vendor_id = 0x1af4, .device_id = 0x1041, .subsystem_vendor_id = 0x1af4,
		.subsystem_id = 0x0001, .class_code = 0x020000, .revision_id = 1,
		.interrupt_pin = 1, .pcie = pcie,
	};

	memset(t, 0, sizeof(*t));
	assert_int_equal(pci_device_init(&t->pci, &info, &td_ops, t), 0);
}

static void expect_move(const struct testdev *t, unsigned int i, unsigned int bar,
			uint64_t old_addr, uint64_t new_addr)
{
	assert_true(i < t->nr_moves);
	assert_int_equal(t->moves[i].bar, bar);
	assert_int_equal(t->moves[i].old_addr, old_addr);
	assert_int_equal(t->moves[i].new_addr, new_addr);
}

static int setup_bus(void **state)
{
	static struct pci_bus bus;

	assert_int_equal(pci_bus_init(&bus), 0);
	*state = &bus;
	return 0;
}

static int teardown_bus(void **state)
{
	pci_bus_destroy(*state);
	return 0;
}

/* ---- configuration mechanism #1 ---- */

/* The host bridge at 00:00.0 through every data port width: Cloud Hypervisor's IDs, class
 * 06 00 00, header type 0 (single function), no BARs, no capabilities. */
static void test_host_bridge_cf8(void **state)
{
	struct pci_bus *b = *state;

	assert_int_equal(cf8_read(b, 0, 0x00, 4), 0x0d578086);
	assert_int_equal(cf8_read(b, 0, 0x00, 2), 0x8086);
	assert_int_equal(cf8_read(b, 0, 0x02, 2), 0x0d57);
	assert_int_equal(cf8_read(b, 0, 0x00, 1), 0x86);
	assert_int_equal(cf8_read(b, 0, 0x01, 1), 0x80);
	assert_int_equal(cf8_read(b, 0, 0x02, 1), 0x57);
	assert_int_equal(cf8_read(b, 0, 0x03, 1), 0x0d);
	assert_int_equal(cf8_read(b, 0, 0x08, 4), 0x06000000); /* class, revision 0 */
	assert_int_equal(cf8_read(b, 0, 0x0a, 2), 0x0600);     /* what pci_sanity_check() reads */
	assert_int_equal(cf8_read(b, 0, 0x0e, 1), 0x00);       /* header type 0, not multi-fn */
	assert_int_equal(cf8_read(b, 0, 0x06, 2) & PCI_STATUS_CAP_LIST, 0);
	for (unsigned int bar = 0; bar < 6; bar++) {
		cf8_write(b, 0, 0x10 + 4 * bar, 0xffffffff, 4);
		assert_int_equal(cf8_read(b, 0, 0x10 + 4 * bar, 4), 0); /* unimplemented BARs */
	}
	/* Offsets 0xcfd-0xcff select bytes 1-3 of the DWORD CONFIG_ADDRESS points at. */
	pio_write(b, 0xcf8, cfg_addr(0, 0, 0, 0), 4);
	assert_int_equal(pio_read(b, 0xcfd, 1), 0x80);
	assert_int_equal(pio_read(b, 0xcfe, 2), 0x0d57);
	assert_int_equal(pio_read(b, 0xcff, 1), 0x0d);
	assert_int_equal(pio_read(b, 0xcfc, 4), 0x0d578086);
}

/* CONFIG_ADDRESS: DWORD accesses only, reserved bits 30-24 and 1-0 read 0; Linux's
 * pci_check_type1() writes 0x80000000 and expects it back after a byte write to 0xcfb. */
static void test_cf8_address_register(void **state)
{
	struct pci_bus *b = *state;

	pio_write(b, 0xcfb, 0x01, 1);
	pio_write(b, 0xcf8, 0x80000000, 4);
	assert_int_equal(pio_read(b, 0xcf8, 4), 0x80000000);
	pio_write(b, 0xcf8, 0xffffffff, 4);
	assert_int_equal(pio_read(b, 0xcf8, 4), 0x80fffffc);
	/* Byte and word accesses do not reach it: writes ignored, reads all ones. */
	pio_write(b, 0xcf8, 0x12345678, 4);
	pio_write(b, 0xcf8, 0xff, 1);
	pio_write(b, 0xcfa, 0xffff, 2);
	pio_write(b, 0xcfb, 0x00, 1);
	assert_int_equal(pio_read(b, 0xcf8, 4), 0x00345678);
	assert_int_equal(pio_read(b, 0xcf8, 1), 0xff);
	assert_int_equal(pio_read(b, 0xcf9, 2), 0xffff);
	assert_int_equal(pio_read(b, 0xcfb, 1), 0xff);
	/* Bad lengths and offsets from a broken caller are ignored. */
	uint8_t d[8] = { 0 };
	pci_bus_pio(b, 0, d, 0, true);
	pci_bus_pio(b, 0, d, 9, true);
	pci_bus_pio(b, 8, d, 4, true);
	pci_bus_pio(b, ~0ull, d, 4, true);
	pci_bus_pio(NULL, 0, d, 4, true);
	pci_bus_pio(b, 0, NULL, 4, true);
	assert_int_equal(pio_read(b, 0xcf8, 4), 0x00345678);
}

/* With the enable bit clear the data port reads all ones and drops writes. */
static void test_cf8_disabled(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	td_init(&t, false);
	assert_int_equal(pci_bus_add_device(b, &t.pci, 3), 3);
	pio_write(b, 0xcf8, cfg_addr(0, 3, 0, 0x3c) & ~0x80000000u, 4);
	assert_int_equal(pio_read(b, 0xcfc, 4), 0xffffffff);
	assert_int_equal(pio_read(b, 0xcfc, 1), 0xff);
	pio_write(b, 0xcfc, 0x0b, 1); /* Interrupt Line */
	assert_int_equal(t.nr_writes, 0);
	assert_int_equal(cf8_read(b, 3, 0x3c, 1), 0x00);
	cf8_write(b, 3, 0x3c, 0x0b, 1);
	assert_int_equal(cf8_read(b, 3, 0x3c, 1), 0x0b);
	assert_int_equal(t.nr_writes, 1);
	assert_int_equal(t.last_write_off, 0x3c);
	assert_int_equal(t.last_write_len, 1);
}

/* Empty slots, other buses and other functions read all ones, as Linux expects of a master
 * abort, through both mechanisms; writes there reach nobody. */
static void test_nonexistent(void **state)
{
	struct pci_bus *b = *state;

	for (unsigned int dev = 1; dev < 32; dev++) {
		assert_int_equal(cf8_read(b, dev, 0, 4), 0xffffffff);
		assert_int_equal(cf8_read(b, dev, 2, 2), 0xffff);
		assert_int_equal(ecam_read(b, dev, 0, 4), 0xffffffff);
		cf8_write(b, dev, 0x04, 0x7, 2);
	}
	pio_write(b, 0xcf8, cfg_addr(1, 0, 0, 0), 4);
	assert_int_equal(pio_read(b, 0xcfc, 4), 0xffffffff);
	pio_write(b, 0xcf8, cfg_addr(0, 0, 1, 0), 4);
	assert_int_equal(pio_read(b, 0xcfc, 4), 0xffffffff);
	pio_write(b, 0xcf8, cfg_addr(255, 31, 7, 0xfc), 4);
	assert_int_equal(pio_read(b, 0xcfc, 4), 0xffffffff);
	assert_int_equal(ecam_read_at(b, ecam_off(0, 0, 1, 0), 4), 0xffffffff);
	assert_int_equal(ecam_read_at(b, ecam_off(1, 0, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_read_at(b, ecam_off(255, 0, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_read_at(b, 1ull << 52, 4), 0xffffffff); /* bus bits wrap at 2^32 */
	assert_int_equal(ecam_read_at(b, ~3ull, 4), 0xffffffff);
	assert_int_equal(cf8_read(b, 0, 0, 4), 0x0d578086);
}

/* Data port accesses at every offset and width, including a DWORD at 0xcfd that runs past
 * 0xcff (only the bytes on 0xcfd-0xcff are configuration data). */
static void test_unaligned_data_port(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;
	uint8_t d[4];

	td_init(&t, false);
	assert_int_equal(pci_bus_add_device(b, &t.pci, -1), 1);
	pio_write(b, 0xcf8, cfg_addr(0, 1, 0, 0x00), 4);
	memset(d, 0, sizeof(d));
	pci_bus_pio(b, 5, d, 4, false);
	assert_int_equal(d[0], 0x1a); /* vendor 0x1af4: its high byte is register 1 */
	assert_int_equal(d[1], 0x41); /* device 0x1041 */
	assert_int_equal(d[2], 0x10);
	assert_int_equal(d[3], 0xff); /* port 0xd00: not ours */
	assert_int_equal(pio_read(b, 0xcfe, 2), 0x1041);
	assert_int_equal(pio_read(b, 0xcfd, 2), 0x411a);
	/* Command through byte 1: Interrupt Disable is bit 10 = bit 2 of the high byte. */
	pio_write(b, 0xcf8, cfg_addr(0, 1, 0, 0x04), 4);
	pio_write(b, 0xcfd, 0x04, 1);
	assert_int_equal(cf8_read(b, 1, 0x04, 2), PCI_COMMAND_INTX_DISABLE);
	pio_write(b, 0xcfc, 0x0002, 2);
	assert_int_equal(cf8_read(b, 1, 0x04, 2), PCI_COMMAND_MEMORY);
	/* A word at 0xcfe of register 0x3c: Interrupt Line is at 0x3c, Pin at 0x3d. */
	cf8_write(b, 1, 0x3e, 0xffff, 2); /* Min_Gnt/Max_Lat: read-only 0 */
	assert_int_equal(cf8_read(b, 1, 0x3c, 4), 0x0100); /* pin INTA#, line 0 */
	/* A 3-byte write straddling the address and data ports only writes the data bytes. */
	pio_write(b, 0xcf8, cfg_addr(0, 1, 0, 0x3c), 4);
	memset(d, 0x0e, sizeof(d));
	pci_bus_pio(b, 2, d, 3, true); /* ports 0xcfa-0xcfc */
	assert_int_equal(pio_read(b, 0xcf8, 4), cfg_addr(0, 1, 0, 0x3c));
	assert_int_equal(cf8_read(b, 1, 0x3c, 1), 0x0e);
}

/* ECAM: widths 1/2/4 aligned, 8 as two DWORDs, unaligned ignored; 256 bytes for a
 * conventional function (all ones above, so Linux sizes it 256), 4 KiB for a PCIe one. */
static void test_ecam(void **state)
{
	struct pci_bus *b = *state;
	struct testdev conv, pcie;

	td_init(&conv, false);
	td_init(&pcie, true);
	assert_int_equal(pci_bus_add_device(b, &conv.pci, 2), 2);
	assert_int_equal(pci_bus_add_device(b, &pcie.pci, 31), 31);
	assert_int_equal(ecam_read(b, 0, 0, 4), 0x0d578086);
	assert_int_equal(ecam_read(b, 2, 0, 4), 0x10411af4);
	assert_int_equal(ecam_read(b, 2, 2, 2), 0x1041);
	assert_int_equal(ecam_read(b, 2, 3, 1), 0x10);
	assert_int_equal(ecam_read(b, 2, 0x08, 8), 0x0000000002000001ull); /* class + hdr DWORD */
	assert_int_equal(ecam_read(b, 2, 0x2c, 4), 0x00011af4);           /* subsystem IDs */
	/* Unaligned: all ones, writes dropped. */
	assert_int_equal(ecam_read(b, 2, 1, 2), 0xffff);
	assert_int_equal(ecam_read(b, 2, 2, 4), 0xffffffff);
	assert_int_equal(ecam_read(b, 2, 4, 8), 0xffffffffffffffffull);
	assert_int_equal(ecam_read(b, 2, 0, 3), 0xffffff);
	ecam_write(b, 2, 0x3d, 0x0b0b, 2);
	ecam_write(b, 2, 0x3a, 0x0b0b0b0b, 4);
	assert_int_equal(conv.nr_writes, 0);
	/* Aligned writes land: a QWORD at 0x38 writes 0x38-0x3f (only Interrupt Line sticks). */
	ecam_write(b, 2, 0x38, 0xffffffff0000000bull, 8);
	assert_int_equal(ecam_read(b, 2, 0x38, 4), 0);     /* expansion ROM: none */
	assert_int_equal(ecam_read(b, 2, 0x3c, 4), 0x1ff); /* pin INTA#, line 0xff */
	assert_int_equal(conv.nr_writes, 2);
	/* Extended space. */
	assert_int_equal(ecam_read(b, 2, 0x100, 4), 0xffffffff);
	assert_int_equal(ecam_read(b, 2, 0xffc, 4), 0xffffffff);
	ecam_write(b, 2, 0x100, 0, 4);
	assert_int_equal(ecam_read(b, 31, 0x100, 4), 0);
	assert_int_equal(ecam_read(b, 31, 0xffc, 4), 0);
	ecam_write(b, 31, 0x100, 0xffffffff, 4); /* read-only */
	assert_int_equal(ecam_read(b, 31, 0x100, 4), 0);
	assert_int_equal(pcie.pci.cfg_size, 4096);
	assert_int_equal(conv.pci.cfg_size, 256);
	/* The same register through both mechanisms. */
	cf8_write(b, 31, 0x0c, 0x10, 1);
	assert_int_equal(ecam_read(b, 31, 0x0c, 1), 0x10);
	ecam_write(b, 31, 0x0c, 0x20, 1);
	assert_int_equal(cf8_read(b, 31, 0x0c, 1), 0x20);
}

/* Writes of all ones (and all zeros) leave read-only fields alone: IDs, class, header type,
 * BIST, capability pointer, interrupt pin, status bits other than RW1C; Command keeps only its
 * writable bits; the RW1C status bits clear on a 1 and survive a 0. */
static void test_readonly_fields(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;
	uint32_t before[64];

	td_init(&t, false);
	/* The device model raises Received Master Abort (as if a DMA failed). */
	assert_int_equal(pci_config_set16(&t.pci, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT |
					  PCI_STATUS_CAP_LIST), 0);
	assert_int_equal(pci_bus_add_device(b, &t.pci, 5), 5);
	for (unsigned int r = 0; r < 256; r += 4)
		before[r / 4] = cf8_read(b, 5, r, 4);
	for (unsigned int r = 0; r < 256; r += 4)
		cf8_write(b, 5, r, 0, 4);
	assert_int_equal(cf8_read(b, 5, 0x04, 4), before[1]); /* status bits survive a 0 */
	for (unsigned int r = 0; r < 256; r += 4)
		cf8_write(b, 5, r, 0xffffffff, 4);
	for (unsigned int r = 0; r < 256; r += 4) {
		uint32_t now = cf8_read(b, 5, r, 4);

		switch (r) {
		case 0x04: /* Command writable bits; Status: RW1C cleared, CAP_LIST stays */
			assert_int_equal(now & 0xffff, 0x0547);
			assert_int_equal(now >> 16, PCI_STATUS_CAP_LIST);
			break;
		case 0x0c: /* Cache Line Size read-write; latency, header type, BIST read-only */
			assert_int_equal(now, (before[3] & ~0xffu) | 0xff);
			break;
		case 0x3c: /* Interrupt Line read-write */
			assert_int_equal(now, (before[15] & ~0xffu) | 0xff);
			break;
		default:
			assert_int_equal(now, before[r / 4]);
		}
	}
	assert_int_equal(cf8_read(b, 5, 0x3d, 1), 1);
	assert_int_equal(cf8_read(b, 5, 0x00, 4), 0x10411af4);
	/* Byte writes into the middle of read-only words change nothing either. */
	for (unsigned int r = 0; r < 4; r++)
		ecam_write(b, 5, r, 0x00, 1);
	assert_int_equal(ecam_read(b, 5, 0, 4), 0x10411af4);
}

/* ---- BARs ---- */

/* Linux's __pci_read_base() size computation for a memory BAR (low, high DWORDs read back
 * after writing all ones). */
static uint64_t linux_mem_size(uint32_t lo, uint32_t hi, bool is64)
{
	uint64_t sz = (lo & ~0xfull) | (is64 ? (uint64_t)hi << 32 : 0xffffffff00000000ull);

	return ~sz + 1;
}

static void test_bar_sizing(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 0, 4096, 0), 0);
	assert_int_equal(pci_set_bar(&t.pci, 1, 16384, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	assert_int_equal(pci_set_bar(&t.pci, 3, 32, PCI_BAR_IO), 0);
	assert_int_equal(pci_set_bar(&t.pci, 4, 8 * GIB, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 0, 0xc0000000), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 1, 0x100004000ull), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 3, 0x1000), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 4, 0x400000000ull), 0);
	assert_int_equal(pci_bus_add_device(b, &t.pci, 7), 7);

	/* Type bits as programmed. */
	assert_int_equal(cf8_read(b, 7, 0x10, 4), 0xc0000000);
	assert_int_equal(cf8_read(b, 7, 0x14, 4), 0x0000400c); /* 64-bit (0x4), prefetch (0x8) */
	assert_int_equal(cf8_read(b, 7, 0x18, 4), 0x00000001);
	assert_int_equal(cf8_read(b, 7, 0x1c, 4), 0x00001001); /* I/O */
	assert_int_equal(cf8_read(b, 7, 0x20, 4), 0x00000004);
	assert_int_equal(cf8_read(b, 7, 0x24, 4), 0x00000004);

	/* The sizing protocol, BAR by BAR, as Linux does it (decoding off, the default). */
	uint32_t v[6];
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t orig = cf8_read(b, 7, 0x10 + 4 * i, 4);

		cf8_write(b, 7, 0x10 + 4 * i, 0xffffffff, 4);
		v[i] = cf8_read(b, 7, 0x10 + 4 * i, 4);
		cf8_write(b, 7, 0x10 + 4 * i, orig, 4);
	}
	assert_int_equal(v[0], 0xfffff000);
	assert_int_equal(linux_mem_size(v[0], 0, false), 4096);
	assert_int_equal(v[1], 0xffffc00c);
	assert_int_equal(v[2], 0xffffffff);
	assert_int_equal(linux_mem_size(v[1], v[2], true), 16384);
	assert_int_equal(v[3], 0xffffffe1);
	assert_int_equal(~(v[3] & ~3u) + 1, 32);
	assert_int_equal(v[4], 0x00000004); /* no address bits below 4 GiB */
	assert_int_equal(v[5], 0xfffffffe);
	assert_int_equal(linux_mem_size(v[4], v[5], true), 8 * GIB);
	/* Restored. */
	assert_int_equal(pci_bar_address(&t.pci, 0), 0xc0000000);
	assert_int_equal(pci_bar_address(&t.pci, 1), 0x100004000ull);
	assert_int_equal(pci_bar_address(&t.pci, 3), 0x1000);
	assert_int_equal(pci_bar_address(&t.pci, 4), 0x400000000ull);
	assert_int_equal(pci_bar_address(&t.pci, 2), UNMAPPED); /* upper half */
	assert_int_equal(pci_bar_address(&t.pci, 5), UNMAPPED);
	/* Nothing decodes, so nothing was reported. */
	assert_int_equal(t.nr_moves, 0);
	/* Low address bits below the size do not stick. */
	cf8_write(b, 7, 0x10, 0xc0000fff, 4);
	assert_int_equal(cf8_read(b, 7, 0x10, 4), 0xc0000000);
}

static void test_set_bar_errors(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 6, 4096, 0), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 0, 0), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 3 * 4096, 0), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 8, 0), -EINVAL);            /* < 16 bytes */
	assert_int_equal(pci_set_bar(&t.pci, 0, 4 * GIB, 0), -EINVAL);      /* 32-bit > 2 GiB */
	assert_int_equal(pci_set_bar(&t.pci, 0, 512, PCI_BAR_IO), -EINVAL); /* I/O > 256 */
	assert_int_equal(pci_set_bar(&t.pci, 0, 2, PCI_BAR_IO), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 16, PCI_BAR_IO | PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 4096, 1u << 7), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 5, 4096, PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(pci_set_bar(NULL, 0, 4096, 0), -EINVAL);
	assert_int_equal(pci_set_bar(&t.pci, 0, 2 * GIB, 0), 0);
	assert_int_equal(pci_set_bar(&t.pci, 0, 4096, 0), -EEXIST);
	assert_int_equal(pci_set_bar(&t.pci, 2, 4096, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_set_bar(&t.pci, 3, 4096, 0), -EEXIST);       /* upper half of 2 */
	assert_int_equal(pci_set_bar(&t.pci, 1, 4096, PCI_BAR_MEM64), -EEXIST); /* 2 is used */
	assert_int_equal(pci_set_bar(&t.pci, 1, 4096, 0), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 0, 0x40000000), -EINVAL); /* not aligned */
	assert_int_equal(pci_bar_set_address(&t.pci, 0, 0x100000000ull), -EINVAL);
	assert_int_equal(pci_bar_set_address(&t.pci, 3, 0), -EINVAL);       /* not a BAR */
	assert_int_equal(pci_bar_set_address(&t.pci, 4, 0), -EINVAL);
	assert_int_equal(pci_bar_set_address(&t.pci, 2, 0xfffffffffffff000ull), 0);
	assert_int_equal(pci_bar_address(&t.pci, 2), 0xfffffffffffff000ull);
	assert_int_equal(pci_bar_address(&t.pci, 6), UNMAPPED);
	assert_int_equal(pci_bus_add_device(b, &t.pci, 9), 9);
	assert_int_equal(pci_set_bar(&t.pci, 4, 4096, 0), -EBUSY);
	assert_int_equal(pci_bar_set_address(&t.pci, 0, 0), -EBUSY);
	assert_int_equal(pci_add_capability(&t.pci, 0x09, 4), -EBUSY);
}

/* bar_moved follows the decoding address: the initial mapping when the device joins the bus
 * with Memory Space enabled, unmap/map around Linux-style sizing, moves while decoding, both
 * halves of a 64-bit BAR, I/O BARs with I/O Space Enable. */
static void test_bar_moved(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 0, 4096, 0), 0);
	assert_int_equal(pci_set_bar(&t.pci, 2, 1 * MIB, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	assert_int_equal(pci_set_bar(&t.pci, 5, 16, PCI_BAR_IO), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 0, 0xc0000000), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 2, 0x100000000ull), 0);
	assert_int_equal(pci_bar_set_address(&t.pci, 5, 0xc000), 0);
	assert_int_equal(pci_config_set16(&t.pci, PCI_COMMAND, PCI_COMMAND_MEMORY), 0);
	assert_int_equal(t.nr_moves, 0);
	assert_int_equal(pci_bus_add_device(b, &t.pci, 4), 4);
	assert_int_equal(t.nr_moves, 2);
	expect_move(&t, 0, 0, UNMAPPED, 0xc0000000);
	expect_move(&t, 1, 2, UNMAPPED, 0x100000000ull);

	/* Linux: Command &= ~MEMORY, size each BAR, restore, Command |= MEMORY. */
	uint16_t cmd = (uint16_t)cf8_read(b, 4, 0x04, 2);
	cf8_write(b, 4, 0x04, cmd & ~PCI_COMMAND_MEMORY, 2);
	assert_int_equal(t.nr_moves, 4);
	expect_move(&t, 2, 0, 0xc0000000, UNMAPPED);
	expect_move(&t, 3, 2, 0x100000000ull, UNMAPPED);
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t orig = cf8_read(b, 4, 0x10 + 4 * i, 4);

		cf8_write(b, 4, 0x10 + 4 * i, 0xffffffff, 4);
		cf8_write(b, 4, 0x10 + 4 * i, orig, 4);
	}
	assert_int_equal(t.nr_moves, 4);
	/* The kernel reassigns BAR 0 while decoding is off: no event until it is on again. */
	cf8_write(b, 4, 0x10, 0xc0001000, 4);
	assert_int_equal(t.nr_moves, 4);
	cf8_write(b, 4, 0x04, cmd, 2);
	assert_int_equal(t.nr_moves, 6);
	expect_move(&t, 4, 0, UNMAPPED, 0xc0001000);
	expect_move(&t, 5, 2, UNMAPPED, 0x100000000ull);
	/* Writes that do not change the address report nothing. */
	cf8_write(b, 4, 0x10, 0xc0001000, 4);
	cf8_write(b, 4, 0x04, cmd | PCI_COMMAND_MASTER, 2);
	assert_int_equal(t.nr_moves, 6);
	/* Moves while decoding: one per DWORD of a 64-bit BAR. */
	ecam_write(b, 4, 0x18, 0x00200000 | 0xc, 4);
	ecam_write(b, 4, 0x1c, 0x2, 4);
	assert_int_equal(t.nr_moves, 8);
	expect_move(&t, 6, 2, 0x100000000ull, 0x100200000ull);
	expect_move(&t, 7, 2, 0x100200000ull, 0x200200000ull);
	/* A QWORD ECAM write moves it twice too (two DWORD accesses). */
	ecam_write(b, 4, 0x18, 0x0000000300000000ull, 8);
	assert_int_equal(t.nr_moves, 10);
	expect_move(&t, 9, 2, 0x200000000ull, 0x300000000ull);
	/* Sizing with decoding on is reported as a move to the sizing pattern. */
	cf8_write(b, 4, 0x10, 0xffffffff, 4);
	expect_move(&t, 10, 0, 0xc0001000, 0xfffff000);
	cf8_write(b, 4, 0x10, 0xc0001000, 4);
	expect_move(&t, 11, 0, 0xfffff000, 0xc0001000);
	/* I/O BAR 5 decodes with I/O Space Enable. */
	cf8_write(b, 4, 0x04, PCI_COMMAND_IO, 2);
	assert_int_equal(t.nr_moves, 15);
	expect_move(&t, 12, 0, 0xc0001000, UNMAPPED);
	expect_move(&t, 13, 2, 0x300000000ull, UNMAPPED);
	expect_move(&t, 14, 5, UNMAPPED, 0xc000);
	cf8_write(b, 4, 0x24, 0xc010, 4);
	expect_move(&t, 15, 5, 0xc000, 0xc010);
	assert_int_equal(t.pci.bars[5].mapped, 0xc010);
	assert_int_equal(t.pci.bars[0].mapped, UNMAPPED);
}

/* ---- capabilities ---- */

/* Linux's __pci_find_next_cap_ttl() over mechanism #1. */
static unsigned int linux_find_cap(struct pci_bus *b, unsigned int dev, uint8_t id)
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

static void test_capabilities(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t, full;

	td_init(&t, false);
	assert_int_equal(pci_find_capability(&t.pci, PCI_CAP_ID_VNDR), -ENOENT);
	assert_int_equal(pci_add_capability(&t.pci, PCI_CAP_ID_VNDR, 5), 0x40);
	assert_int_equal(pci_add_capability(&t.pci, PCI_CAP_ID_MSIX, 12), 0x48);
	assert_int_equal(pci_add_capability(&t.pci, PCI_CAP_ID_VNDR, 16), 0x54);
	assert_int_equal(pci_add_capability(&t.pci, PCI_CAP_ID_VNDR, 1), -EINVAL);
	assert_int_equal(pci_add_capability(NULL, PCI_CAP_ID_VNDR, 4), -EINVAL);
	/* A vendor capability byte the guest may write, the rest read-only. */
	assert_int_equal(pci_config_set8(&t.pci, 0x56, 0x42), 0);
	assert_int_equal(pci_config_set_wmask(&t.pci, 0x57, 1, 0x0f), 0);
	assert_int_equal(pci_config_set_wmask(&t.pci, 0x57, 1, 0x100), -EINVAL);
	assert_int_equal(pci_config_set_wmask(&t.pci, 0x57, 3, 0), -EINVAL);
	assert_int_equal(pci_config_set_wmask(&t.pci, 4095, 2, 0), -EINVAL); /* beyond 256 */
	assert_int_equal(pci_bus_add_device(b, &t.pci, 6), 6);

	assert_true(cf8_read(b, 6, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cf8_read(b, 6, PCI_CAPABILITY_LIST, 1), 0x40);
	assert_int_equal(cf8_read(b, 6, 0x40, 2), 0x4809);
	assert_int_equal(cf8_read(b, 6, 0x48, 2), 0x5411);
	assert_int_equal(cf8_read(b, 6, 0x54, 2), 0x0009); /* last: Next 0 */
	assert_int_equal(linux_find_cap(b, 6, PCI_CAP_ID_VNDR), 0x40);
	assert_int_equal(linux_find_cap(b, 6, PCI_CAP_ID_MSIX), 0x48);
	assert_int_equal(linux_find_cap(b, 6, PCI_CAP_ID_EXP), 0);
	assert_int_equal(pci_find_capability(&t.pci, PCI_CAP_ID_MSIX), 0x48);
	assert_int_equal(pci_find_capability(&t.pci, PCI_CAP_ID_EXP), -ENOENT);
	/* The list itself is read-only. */
	cf8_write(b, 6, 0x40, 0xffffffff, 4);
	cf8_write(b, 6, PCI_CAPABILITY_LIST, 0x80, 1);
	assert_int_equal(cf8_read(b, 6, 0x40, 4), 0x00004809);
	assert_int_equal(linux_find_cap(b, 6, PCI_CAP_ID_MSIX), 0x48);
	cf8_write(b, 6, 0x54, 0xffffffff, 4);
	assert_int_equal(cf8_read(b, 6, 0x54, 4), 0x0f420009);
	cf8_write(b, 6, 0x57, 0x00, 1);
	assert_int_equal(cf8_read(b, 6, 0x54, 4), 0x00420009);

	/* Filling the 192 bytes after the header. */
	td_init(&full, false);
	assert_int_equal(pci_add_capability(&full.pci, PCI_CAP_ID_VNDR, 64), 0x40);
	assert_int_equal(pci_add_capability(&full.pci, PCI_CAP_ID_VNDR, 64), 0x80);
	assert_int_equal(pci_add_capability(&full.pci, PCI_CAP_ID_VNDR, 61), 0xc0);
	assert_int_equal(pci_add_capability(&full.pci, PCI_CAP_ID_VNDR, 2), -ENOSPC);
	assert_int_equal(pci_add_capability(&full.pci, PCI_CAP_ID_VNDR, 300), -EINVAL);
	/* A looping list (a device bug) ends the walk after 48 hops. */
	assert_int_equal(pci_config_set8(&full.pci, 0xc1, 0x40), 0);
	assert_int_equal(pci_find_capability(&full.pci, PCI_CAP_ID_MSIX), -ENOENT);
}

static void test_bus_add_errors(void **state)
{
	struct pci_bus *b = *state;
	static struct testdev t[32];

	for (unsigned int i = 1; i < 32; i++) {
		td_init(&t[i], false);
		assert_int_equal(pci_bus_add_device(b, &t[i].pci, -1), (int)i);
	}
	td_init(&t[0], false);
	assert_int_equal(pci_bus_add_device(b, &t[0].pci, -1), -ENOSPC);
	assert_int_equal(pci_bus_add_device(b, &t[0].pci, 0), -EINVAL);  /* host bridge */
	assert_int_equal(pci_bus_add_device(b, &t[0].pci, 32), -EINVAL);
	assert_int_equal(pci_bus_add_device(b, &t[0].pci, 5), -EEXIST);
	assert_int_equal(pci_bus_add_device(b, &t[1].pci, 5), -EINVAL);  /* already on the bus */
	assert_int_equal(pci_bus_add_device(b, NULL, 5), -EINVAL);
	assert_int_equal(pci_bus_add_device(NULL, &t[0].pci, 5), -EINVAL);
	for (unsigned int i = 1; i < 32; i++)
		assert_int_equal(cf8_read(b, i, 0, 4), 0x10411af4);

	struct pci_device_info bad = { .class_code = 0x1000000 };
	assert_int_equal(pci_device_init(&t[0].pci, &bad, NULL, NULL), -EINVAL);
	bad.class_code = 0;
	bad.interrupt_pin = 5;
	assert_int_equal(pci_device_init(&t[0].pci, &bad, NULL, NULL), -EINVAL);
	assert_int_equal(pci_device_init(&t[0].pci, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(pci_config_set32(&t[1].pci, 253, 0), -EINVAL);
	assert_int_equal(pci_config_get32(&t[1].pci, 253), 0);
	assert_int_equal(pci_config_get8(&t[1].pci, 256), 0);
	assert_int_equal(pci_config_get16(NULL, 0), 0);
}

/* ---- MSI-X ---- */

struct msix_event {
	unsigned int vector;
	uint64_t addr;
	uint32_t data;
	bool masked;
	bool fire;
};

static struct msix_event events[64];
static unsigned int nr_events;

static void ev_changed(void *opaque, unsigned int vector, uint64_t addr, uint32_t data,
		       bool masked)
{
	assert_true(nr_events < 64);
	events[nr_events++] = (struct msix_event){ vector, addr, data, masked, false };
}

static void ev_fire(void *opaque, unsigned int vector)
{
	assert_true(nr_events < 64);
	events[nr_events++] = (struct msix_event){ .vector = vector, .fire = true };
}

static const struct msix_ops ev_ops = { .vector_changed = ev_changed, .fire = ev_fire };

static void expect_changed(unsigned int i, unsigned int vector, uint64_t addr, uint32_t data,
			   bool masked)
{
	assert_true(i < nr_events);
	assert_false(events[i].fire);
	assert_int_equal(events[i].vector, vector);
	assert_int_equal(events[i].masked, masked);
	if (!masked) {
		assert_int_equal(events[i].addr, addr);
		assert_int_equal(events[i].data, data);
	}
}

static void expect_fire(unsigned int i, unsigned int vector)
{
	assert_true(i < nr_events);
	assert_true(events[i].fire);
	assert_int_equal(events[i].vector, vector);
}

#define TABLE_OFF 0x2000
#define PBA_OFF 0x3000
#define NVEC 4

/* A device with NVEC vectors: table at BAR 1 + 0x2000, PBA at BAR 1 + 0x3000, on slot 8. */
static void msix_dev(struct pci_bus *b, struct testdev *t, unsigned int nvec)
{
	td_init(t, false);
	assert_int_equal(pci_set_bar(&t->pci, 1, 0x4000, 0), 0);
	assert_int_equal(msix_init(&t->msix, &t->pci, nvec, 1, TABLE_OFF, 1, PBA_OFF, &ev_ops, NULL),
			 0);
	t->has_msix = true;
	assert_int_equal(pci_bus_add_device(b, &t->pci, 8), 8);
	nr_events = 0;
}

static uint64_t bar_read(struct testdev *t, unsigned int bar, uint64_t off, unsigned int len)
{
	uint8_t d[8];
	uint64_t v = 0;

	memset(d, 0x5a, sizeof(d));
	assert_true(msix_bar_access(&t->msix, bar, off, d, len, false));
	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void bar_write(struct testdev *t, uint64_t off, uint64_t v, unsigned int len)
{
	uint8_t d[8];

	for (unsigned int i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	assert_true(msix_bar_access(&t->msix, 1, off, d, len, true));
}

static void entry_write(struct testdev *t, unsigned int v, unsigned int field, uint32_t val)
{
	bar_write(t, TABLE_OFF + 16 * v + field, val, 4);
}

/* Message Control through config space: Linux's msix_capability_init() order. */
static void msix_ctrl(struct pci_bus *b, uint16_t set, uint16_t clear)
{
	unsigned int cap = linux_find_cap(b, 8, PCI_CAP_ID_MSIX);
	uint16_t ctrl = (uint16_t)cf8_read(b, 8, cap + PCI_MSIX_FLAGS, 2);

	cf8_write(b, 8, cap + PCI_MSIX_FLAGS, (ctrl | set) & ~clear, 2);
}

static void test_msix_capability(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	msix_dev(b, &t, NVEC);
	unsigned int cap = linux_find_cap(b, 8, PCI_CAP_ID_MSIX);
	assert_int_equal(cap, 0x40);
	assert_int_equal(cf8_read(b, 8, cap, 4), (NVEC - 1) << 16 | 0x0011);
	assert_int_equal(cf8_read(b, 8, cap + 4, 4), TABLE_OFF | 1);
	assert_int_equal(cf8_read(b, 8, cap + 8, 4), PBA_OFF | 1);
	/* Only Enable and Function Mask are writable. */
	cf8_write(b, 8, cap + 2, 0xffff, 2);
	assert_int_equal(cf8_read(b, 8, cap + 2, 2), 0xc000 | (NVEC - 1));
	assert_true(msix_enabled(&t.msix));
	cf8_write(b, 8, cap + 4, 0xffffffff, 4);
	cf8_write(b, 8, cap + 8, 0, 4);
	assert_int_equal(cf8_read(b, 8, cap + 4, 4), TABLE_OFF | 1);
	assert_int_equal(cf8_read(b, 8, cap + 8, 4), PBA_OFF | 1);
	/* The Enable bit alone, through a byte write to the high byte. */
	cf8_write(b, 8, cap + 3, 0x00, 1);
	assert_false(msix_enabled(&t.msix));
	cf8_write(b, 8, cap + 3, 0x80, 1);
	assert_true(msix_enabled(&t.msix));
	msix_destroy(&t.msix);
}

static void test_msix_init_errors(void **state)
{
	struct testdev t;
	struct msix m;

	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 0, 0x1000, 0), 0);
	assert_int_equal(pci_set_bar(&t.pci, 1, 0x100, PCI_BAR_IO), 0);
	assert_int_equal(pci_set_bar(&t.pci, 2, 0x10000, PCI_BAR_MEM64), 0);
	assert_int_equal(msix_init(&m, &t.pci, 0, 0, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 2049, 2, 0, 2, 0x8000, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 1, 0, 0, 0x800, NULL, NULL), -EINVAL); /* I/O */
	assert_int_equal(msix_init(&m, &t.pci, 4, 3, 0, 0, 0x800, NULL, NULL), -EINVAL); /* upper */
	assert_int_equal(msix_init(&m, &t.pci, 4, 4, 0, 0, 0x800, NULL, NULL), -EINVAL); /* none */
	assert_int_equal(msix_init(&m, &t.pci, 4, 6, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 4, 0, 0x800, NULL, NULL), -EINVAL); /* align */
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0, 0, 0x804, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0xfc8, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0, 0, 0xff8, NULL, NULL), 0);
	msix_destroy(&m);
	/* Table and PBA overlap in BAR 0. */
	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 0, 0x1000, 0), 0);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0x100, 0, 0x130, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0x100, 0, 0x138, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, 4, 0, 0x100, 0, 0x0f8, NULL, NULL), 0); /* touch */
	msix_destroy(&m);
	/* 2048 vectors: 32 KiB of table and 256 bytes of PBA. */
	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 0, 0x10000, 0), 0);
	assert_int_equal(msix_init(&m, &t.pci, 2048, 0, 0, 0, 0x8000, NULL, NULL), 0);
	assert_int_equal(MSIX_PBA_SIZE(2048), 256);
	assert_int_equal(pci_config_get16(&t.pci, 0x42), 0x7ff);
	msix_destroy(&m);
	msix_destroy(&m); /* twice is harmless */
	msix_destroy(NULL);
}

/* Reset state and table accesses of every width and alignment. */
static void test_msix_table_access(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;
	uint8_t d[8];

	msix_dev(b, &t, NVEC);
	for (unsigned int v = 0; v < NVEC; v++) {
		assert_int_equal(bar_read(&t, 1, TABLE_OFF + 16 * v, 8), 0);
		assert_int_equal(bar_read(&t, 1, TABLE_OFF + 16 * v + 8, 4), 0);
		assert_int_equal(bar_read(&t, 1, TABLE_OFF + 16 * v + 12, 4), 1); /* masked */
	}
	entry_write(&t, 2, 0, 0xfee01000);
	entry_write(&t, 2, 4, 0x00000001);
	entry_write(&t, 2, 8, 0x00004041);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 32, 8), 0x00000001fee01000ull);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 40, 8), 0x0000000100004041ull);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 33, 1), 0x10);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 35, 2), 0x01fe); /* crosses a DWORD */
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 43, 2), 0x0100);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 46, 2), 0);
	/* A QWORD write sets address low and high at once. */
	bar_write(&t, TABLE_OFF + 48, 0x00000002fee02000ull, 8);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 48, 4), 0xfee02000);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 52, 4), 2);
	/* Unaligned or narrow writes are ignored. */
	bar_write(&t, TABLE_OFF + 34, 0xffffffff, 4);
	bar_write(&t, TABLE_OFF + 36, 0xffffffffffffffffull, 8);
	bar_write(&t, TABLE_OFF + 40, 0xffff, 2);
	bar_write(&t, TABLE_OFF + 44, 0x00, 1);
	bar_write(&t, TABLE_OFF + 32, 0xff, 3);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 32, 8), 0x00000001fee01000ull);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 40, 8), 0x0000000100004041ull);
	/* Vector Control: only the Mask bit is implemented. */
	entry_write(&t, 2, 12, 0xfffffffe);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 44, 4), 0);
	entry_write(&t, 2, 12, 0xffffffff);
	assert_int_equal(bar_read(&t, 1, TABLE_OFF + 44, 4), 1);
	/* Past the table, before the PBA: not MSI-X's. The last table byte is. */
	memset(d, 0, sizeof(d));
	assert_false(msix_bar_access(&t.msix, 1, TABLE_OFF + 16 * NVEC, d, 4, false));
	assert_false(msix_bar_access(&t.msix, 1, TABLE_OFF - 4, d, 4, false));
	assert_false(msix_bar_access(&t.msix, 0, TABLE_OFF, d, 4, false));
	assert_false(msix_bar_access(&t.msix, 1, TABLE_OFF, d, 0, false));
	assert_false(msix_bar_access(&t.msix, 1, TABLE_OFF, d, 9, false));
	assert_false(msix_bar_access(&t.msix, 1, TABLE_OFF, NULL, 4, false));
	assert_true(msix_bar_access(&t.msix, 1, TABLE_OFF + 16 * NVEC - 1, d, 4, false));
	assert_int_equal(d[0], 0);
	assert_int_equal(d[1], 0); /* bytes past the table read 0 */
	/* Nothing was reported: every entry stayed masked and MSI-X is off. */
	assert_int_equal(nr_events, 0);
	msix_destroy(&t.msix);
}

/* The guest's sequence (Linux msix_capability_init, then request_irq and affinity changes),
 * with the vector_changed reports it must produce. */
static void test_msix_vector_changes(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;
	uint64_t addr;
	uint32_t data;
	bool masked;

	msix_dev(b, &t, NVEC);
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
	for (unsigned int v = 0; v < 2; v++) {
		entry_write(&t, v, 0, 0xfee00000 | v << 12);
		entry_write(&t, v, 4, 0);
		entry_write(&t, v, 8, 0x30 + v);
	}
	entry_write(&t, 0, 12, 0);
	assert_int_equal(nr_events, 0);                   /* still function-masked */
	msix_ctrl(b, 0, PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(nr_events, 1);
	expect_changed(0, 0, 0xfee00000, 0x30, false);
	entry_write(&t, 1, 12, 0);
	assert_int_equal(nr_events, 2);
	expect_changed(1, 1, 0xfee01000, 0x31, false);
	/* Affinity change on vector 1: mask, rewrite, unmask (Linux pci_write_msg_msix). */
	entry_write(&t, 1, 12, 1);
	expect_changed(2, 1, 0, 0, true);
	entry_write(&t, 1, 0, 0xfee03000);
	entry_write(&t, 1, 8, 0x41);
	assert_int_equal(nr_events, 3);
	entry_write(&t, 1, 12, 0);
	expect_changed(3, 1, 0xfee03000, 0x41, false);
	/* A message change on an unmasked vector is reported at once. */
	entry_write(&t, 0, 8, 0x35);
	expect_changed(4, 0, 0xfee00000, 0x35, false);
	entry_write(&t, 0, 8, 0x35); /* same value: nothing */
	assert_int_equal(nr_events, 5);
	assert_int_equal(msix_vector_get(&t.msix, 1, &addr, &data, &masked), 0);
	assert_int_equal(addr, 0xfee03000);
	assert_int_equal(data, 0x41);
	assert_false(masked);
	assert_int_equal(msix_vector_get(&t.msix, 3, NULL, NULL, &masked), 0);
	assert_true(masked);
	assert_int_equal(msix_vector_get(&t.msix, NVEC, &addr, &data, &masked), -EINVAL);
	/* Disabling MSI-X masks both; the masked vectors 2 and 3 report nothing. */
	msix_ctrl(b, 0, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(nr_events, 7);
	expect_changed(5, 0, 0, 0, true);
	expect_changed(6, 1, 0, 0, true);
	/* A Message Control write that changes nothing reports nothing. */
	msix_ctrl(b, 0, 0);
	cf8_write(b, 8, 0x3c, 5, 1);
	assert_int_equal(nr_events, 7);
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE, 0);
	assert_int_equal(nr_events, 9);
	expect_changed(7, 0, 0xfee00000, 0x35, false);
	expect_changed(8, 1, 0xfee03000, 0x41, false);
	msix_destroy(&t.msix);
}

/* msix_notify and the PBA: pending while masked (entry or function), fired on unmask. */
static void test_msix_pending(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;
	uint8_t d[8] = { 0 };

	msix_dev(b, &t, NVEC);
	/* Disabled: no delivery, nothing recorded. */
	assert_false(msix_notify(&t.msix, 0));
	assert_false(msix_is_pending(&t.msix, 0));
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE, 0);
	/* Entry masked: pending. */
	assert_false(msix_notify(&t.msix, 3));
	assert_true(msix_is_pending(&t.msix, 3));
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 1u << 3);
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 1), 1u << 3);
	assert_int_equal(bar_read(&t, 1, PBA_OFF + 4, 4), 0);
	/* PBA is read-only. */
	assert_true(msix_bar_access(&t.msix, 1, PBA_OFF, d, 8, true));
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 1u << 3);
	entry_write(&t, 3, 0, 0xfee00000);
	entry_write(&t, 3, 8, 0x50);
	assert_int_equal(nr_events, 0);
	/* Unmasking reports the route, then fires and clears the bit. */
	entry_write(&t, 3, 12, 0);
	assert_int_equal(nr_events, 2);
	expect_changed(0, 3, 0xfee00000, 0x50, false);
	expect_fire(1, 3);
	assert_false(msix_is_pending(&t.msix, 3));
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 0);
	/* Unmasked: deliver now. */
	assert_true(msix_notify(&t.msix, 3));
	assert_false(msix_is_pending(&t.msix, 3));
	/* Function Mask: pending until it clears, for unmasked entries only. */
	msix_ctrl(b, PCI_MSIX_FLAGS_MASKALL, 0);
	expect_changed(2, 3, 0, 0, true);
	assert_false(msix_notify(&t.msix, 3));
	assert_false(msix_notify(&t.msix, 1));
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 1u << 3 | 1u << 1);
	msix_ctrl(b, 0, PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(nr_events, 5);
	expect_changed(3, 3, 0xfee00000, 0x50, false);
	expect_fire(4, 3);
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 1u << 1); /* vector 1 still masked */
	/* Vector index bounds. */
	assert_false(msix_notify(&t.msix, NVEC));
	assert_false(msix_notify(&t.msix, ~0u));
	assert_false(msix_is_pending(&t.msix, NVEC));
	assert_false(msix_notify(NULL, 0));
	/* Disabling keeps pending bits; no fire while disabled. */
	msix_ctrl(b, 0, PCI_MSIX_FLAGS_ENABLE);
	entry_write(&t, 1, 12, 0);
	assert_true(msix_is_pending(&t.msix, 1));
	assert_int_equal(nr_events, 6);
	expect_changed(5, 3, 0, 0, true);
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE, 0);
	assert_int_equal(nr_events, 9);
	expect_changed(6, 1, 0, 0, false);
	expect_fire(7, 1);
	expect_changed(8, 3, 0xfee00000, 0x50, false);
	msix_destroy(&t.msix);
}

/* A PBA spanning several QWORDs: vector 70 is bit 6 of QWORD 1. */
static void test_msix_many_vectors(void **state)
{
	struct pci_bus *b = *state;
	struct testdev t;

	msix_dev(b, &t, 128);
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE, 0);
	assert_false(msix_notify(&t.msix, 70));
	assert_false(msix_notify(&t.msix, 127));
	assert_int_equal(bar_read(&t, 1, PBA_OFF, 8), 0);
	assert_int_equal(bar_read(&t, 1, PBA_OFF + 8, 8), 1ull << 6 | 1ull << 63);
	assert_int_equal(bar_read(&t, 1, PBA_OFF + 15, 1), 0x80);
	entry_write(&t, 127, 12, 0);
	expect_fire(1, 127);
	assert_int_equal(bar_read(&t, 1, PBA_OFF + 8, 8), 1ull << 6);
	assert_int_equal(cf8_read(b, 8, 0x42, 2), 0x807f);
	msix_destroy(&t.msix);
}

/* ---- concurrency: vCPU threads on different devices through ECAM, and notify vs. mask ---- */

struct worker {
	struct pci_bus *bus;
	unsigned int dev;
	bool failed;
};

static void *ecam_worker(void *arg)
{
	struct worker *w = arg;

	for (unsigned int i = 0; i < 20000; i++) {
		uint8_t v = (uint8_t)(i * 7 + w->dev);

		ecam_write(w->bus, w->dev, 0x3c, v, 1);
		if (ecam_read(w->bus, w->dev, 0x3c, 1) != v || ecam_read(w->bus, w->dev, 0, 4) !=
		    0x10411af4)
			w->failed = true;
	}
	return NULL;
}

static void test_concurrent_ecam(void **state)
{
	struct pci_bus *b = *state;
	static struct testdev t[4];
	struct worker w[4];
	pthread_t th[4];

	for (unsigned int i = 0; i < 4; i++) {
		td_init(&t[i], false);
		assert_int_equal(pci_bus_add_device(b, &t[i].pci, (int)(10 + i)), (int)(10 + i));
		w[i] = (struct worker){ b, 10 + i, false };
		assert_int_equal(pthread_create(&th[i], NULL, ecam_worker, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_false(w[i].failed);
	}
}

struct notify_counts {
	struct msix *m;
	unsigned long delivered;
};

static void *notifier(void *arg)
{
	struct notify_counts *c = arg;

	for (unsigned int i = 0; i < 50000; i++)
		c->delivered += msix_notify(c->m, i % 2);
	return NULL;
}

static unsigned long fired;

static void count_fire(void *opaque, unsigned int vector)
{
	fired++; /* under the msix mutex */
}

static const struct msix_ops count_ops = { .fire = count_fire };

static void test_concurrent_msix(void **state)
{
	struct pci_bus *b = *state;
	static struct testdev t;
	struct notify_counts c;
	pthread_t th;

	td_init(&t, false);
	assert_int_equal(pci_set_bar(&t.pci, 1, 0x4000, 0), 0);
	assert_int_equal(msix_init(&t.msix, &t.pci, 2, 1, TABLE_OFF, 1, PBA_OFF, &count_ops, NULL),
			 0);
	t.has_msix = true;
	assert_int_equal(pci_bus_add_device(b, &t.pci, 8), 8);
	msix_ctrl(b, PCI_MSIX_FLAGS_ENABLE, 0);
	c = (struct notify_counts){ &t.msix, 0 };
	fired = 0;
	assert_int_equal(pthread_create(&th, NULL, notifier, &c), 0);
	for (unsigned int i = 0; i < 20000; i++) {
		entry_write(&t, i % 2, 12, i & 2 ? 1 : 0);
		if (i % 1000 == 0)
			msix_ctrl(b, (i / 1000) % 2 ? PCI_MSIX_FLAGS_MASKALL : 0,
				  (i / 1000) % 2 ? 0 : PCI_MSIX_FLAGS_MASKALL);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	/* Unmask everything: whatever is still pending fires now. */
	msix_ctrl(b, 0, PCI_MSIX_FLAGS_MASKALL);
	entry_write(&t, 0, 12, 0);
	entry_write(&t, 1, 12, 0);
	assert_false(msix_is_pending(&t.msix, 0));
	assert_false(msix_is_pending(&t.msix, 1));
	assert_true(c.delivered + fired > 0);
	assert_true(c.delivered + fired <= 50000);
	msix_destroy(&t.msix);
}

/* ---- BAR allocator ---- */

static void test_alloc_alignment(void **state)
{
	static const uint64_t sizes[] = { 4096, 65536, 16, 1 * MIB, 4096, 32, 256 * MIB, 8192 };
	struct bar_alloc a;
	uint64_t got[8];

	assert_int_equal(bar_alloc_init_mmio32(&a), 0);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(bar_alloc_alloc(&a, sizes[i], &got[i]), 0);
		assert_int_equal(got[i] % sizes[i], 0);
		assert_true(got[i] >= LAYOUT_PCI_MMIO32_START);
		assert_true(got[i] + sizes[i] <= LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE);
		for (unsigned int j = 0; j < i; j++)
			assert_true(got[i] + sizes[i] <= got[j] || got[j] + sizes[j] <= got[i]);
	}
	/* First fit: the 16-byte BAR lands right after the first 4 KiB one; the 32-byte one after
	 * it; the 64 KiB one on the next 64 KiB boundary. */
	assert_int_equal(got[0], 0xc0000000);
	assert_int_equal(got[1], 0xc0010000);
	assert_int_equal(got[2], 0xc0001000);
	assert_int_equal(got[5], 0xc0001020);
	assert_int_equal(got[6], 0xd0000000);
	/* Freed ranges are reused. */
	assert_int_equal(bar_alloc_free(&a, got[1]), 0);
	assert_int_equal(bar_alloc_free(&a, got[1]), -ENOENT);
	uint64_t again;
	assert_int_equal(bar_alloc_alloc(&a, 65536, &again), 0);
	assert_int_equal(again, got[1]);
	assert_int_equal(bar_alloc_alloc(&a, 3 * 4096, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(&a, 0, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(NULL, 4096, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(&a, 4096, NULL), -EINVAL);
}

/* The 32-bit window holds exactly 640 MiB and never reaches ECAM, GED, IOAPIC or LAPIC. */
static void test_alloc_exhaustion(void **state)
{
	static const uint64_t fixed[] = { LAYOUT_PCI_ECAM_BASE, LAYOUT_GED_ADDR, LAYOUT_IOAPIC_ADDR,
					  LAYOUT_LAPIC_ADDR };
	struct bar_alloc a;
	uint64_t x, y, z;

	assert_int_equal(bar_alloc_init_mmio32(&a), 0);
	assert_int_equal(bar_alloc_alloc(&a, 1 * GIB, &x), -ENOSPC);
	assert_int_equal(bar_alloc_alloc(&a, 512 * MIB, &x), 0);
	assert_int_equal(bar_alloc_alloc(&a, 256 * MIB, &y), -ENOSPC); /* 128 MiB left */
	assert_int_equal(bar_alloc_alloc(&a, 128 * MIB, &z), 0);
	assert_int_equal(x, 0xc0000000);
	assert_int_equal(z, 0xe0000000);
	assert_int_equal(z + 128 * MIB, LAYOUT_PCI_ECAM_BASE);
	assert_int_equal(bar_alloc_alloc(&a, 16, &z), -ENOSPC);
	for (unsigned int i = 0; i < 4; i++)
		assert_true(fixed[i] >= LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE);
	/* The table filling up is -ENOSPC too. */
	assert_int_equal(bar_alloc_init(&a, 0, 1 * GIB), 0);
	for (unsigned int i = 0; i < BAR_ALLOC_MAX; i++)
		assert_int_equal(bar_alloc_alloc(&a, 4096, &x), 0);
	assert_int_equal(bar_alloc_alloc(&a, 4096, &x), -ENOSPC);
	assert_int_equal(bar_alloc_reserve(&a, 512 * MIB, 4096), -ENOSPC);
	assert_int_equal(x, (BAR_ALLOC_MAX - 1) * 4096ull);
}

static void test_alloc_reserve_and_edges(void **state)
{
	struct bar_alloc a;
	uint64_t x;

	assert_int_equal(bar_alloc_init(&a, 0x10000, 0x10000), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x10000, 0x1000), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x10800, 0x1000), -EEXIST);
	assert_int_equal(bar_alloc_reserve(&a, 0xf000, 0x2000), -EINVAL);   /* below the window */
	assert_int_equal(bar_alloc_reserve(&a, 0x1f000, 0x2000), -EINVAL);  /* past its end */
	assert_int_equal(bar_alloc_reserve(&a, 0x10000, 0), -EINVAL);
	assert_int_equal(bar_alloc_reserve(&a, 0x18000, 0x100), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x17f00, 0x101), -EEXIST);
	assert_int_equal(bar_alloc_alloc(&a, 0x8000, &x), -ENOSPC);       /* 0x18000 is taken */
	assert_int_equal(bar_alloc_alloc(&a, 0x4000, &x), 0);
	assert_int_equal(x, 0x14000);
	assert_int_equal(bar_alloc_free(&a, 0x18000), 0);
	assert_int_equal(bar_alloc_alloc(&a, 0x8000, &x), 0);
	assert_int_equal(x, 0x18000);
	/* A window ending at 2^64: no wrap-around. */
	assert_int_equal(bar_alloc_init(&a, ~0ull - 0xfffff, 0x100000), 0);
	assert_int_equal(bar_alloc_alloc(&a, 0x80000, &x), 0);
	assert_int_equal(x, 0xfffffffffff00000ull);
	assert_int_equal(bar_alloc_alloc(&a, 0x80000, &x), 0);
	assert_int_equal(x, 0xfffffffffff80000ull);
	assert_int_equal(bar_alloc_alloc(&a, 16, &x), -ENOSPC);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 63, &x), -ENOSPC);
	assert_int_equal(bar_alloc_init(&a, ~0ull - 0xfff, 0x2000), -EINVAL);
	assert_int_equal(bar_alloc_init(&a, 0, 0), -EINVAL);
	assert_int_equal(bar_alloc_init(NULL, 0, 1), -EINVAL);
	/* A whole-space window. */
	assert_int_equal(bar_alloc_init(&a, 0, ~0ull), 0);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 63, &x), 0);
	assert_int_equal(x, 0);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 62, &x), 0);
	assert_int_equal(x, 1ull << 63);
}

static void test_mmio64_window(void **state)
{
	struct guest_mem m;
	struct bar_alloc a;
	uint64_t x;

	assert_int_equal(bar_alloc_mmio64_base(NULL), 4 * GIB);
	assert_int_equal(guest_mem_init(&m, 64 * MIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 4 * GIB);
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 3 * GIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 4 * GIB);
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 3 * GIB + 4 * KIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 5 * GIB); /* RAM ends at 4 GiB + 4 KiB */
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 4 * GIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 5 * GIB); /* exactly 5 GiB */
	assert_int_equal(bar_alloc_init_mmio64(&a, &m), 0);
	assert_int_equal(bar_alloc_alloc(&a, 8 * GIB, &x), 0);
	assert_int_equal(x, 8 * GIB);
	assert_int_equal(bar_alloc_alloc(&a, 4096, &x), 0);
	assert_int_equal(x, 5 * GIB);
	assert_int_equal(a.base + a.size, 5 * GIB + LAYOUT_PCI_MMIO64_SIZE);
	guest_mem_free(&m);
}

/* ---- KVM wrappers (skipped without a usable /dev/kvm) ---- */

static void test_kvm_wrappers(void **state)
{
	struct kvm_sys sys;
	struct kvm_vm vm;
	int efd, efd2;

	if (kvm_sys_open(&sys) < 0)
		skip();
	assert_int_equal(kvm_vm_create(&sys, &vm), 0);
	assert_int_equal(kvm_vm_create_irqchip(&vm), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd >= 0 && efd2 >= 0);

	const struct kvm_msi_route routes[] = {
		{ .gsi = 24, .address = 0xfee00000, .data = 0x4041 },
		{ .gsi = 25, .address = 0xfee01000, .data = 0x4042 },
	};
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, routes, 2), 0);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, NULL, 0), 0);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, routes, 2), 0);
	const struct kvm_msi_route low = { .gsi = 23 }, high = { .gsi = 4096 };
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, &low, 1), -EINVAL);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, &high, 1), -EINVAL);
	const struct kvm_msi_route dup[] = { { .gsi = 30 }, { .gsi = 30 } };
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, dup, 2), -EINVAL);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, NULL, 1), -EINVAL);
	/* Legacy interrupts still route (the GED's pin 5). */
	assert_int_equal(kvm_vm_irq_line(&vm, IRQ_GED, 1), 0);
	assert_int_equal(kvm_vm_irq_line(&vm, IRQ_GED, 0), 0);

	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 24), 0);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 25), -EBUSY);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, -1, 24), -EINVAL);
	assert_int_equal(kvm_vm_irqfd_deassign(&vm, efd, 24), 0);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 25), 0);
	assert_int_equal(kvm_vm_irqfd_deassign(&vm, efd, 25), 0);

	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 2), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 2), -EEXIST);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 3), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc0003000, 4, false, true, 3), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc0003000, 4, false, true, 2), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc050, 2, true, false, 0), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc050, 2, true, false, 0), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 3, false, false, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 0, false, true, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 2, false, true, 0x10000), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, ~0ull - 1, 4, false, false, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, -1, 0, 4, false, false, 0), -EINVAL);

	close(efd);
	close(efd2);
	kvm_vm_close(&vm);
	kvm_sys_close(&sys);
}

#define BUS_TEST(f) cmocka_unit_test_setup_teardown(f, setup_bus, teardown_bus)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BUS_TEST(test_host_bridge_cf8),
		BUS_TEST(test_cf8_address_register),
		BUS_TEST(test_cf8_disabled),
		BUS_TEST(test_nonexistent),
		BUS_TEST(test_unaligned_data_port),
		BUS_TEST(test_ecam),
		BUS_TEST(test_readonly_fields),
		BUS_TEST(test_bar_sizing),
		BUS_TEST(test_set_bar_errors),
		BUS_TEST(test_bar_moved),
		BUS_TEST(test_capabilities),
		BUS_TEST(test_bus_add_errors),
		BUS_TEST(test_msix_capability),
		cmocka_unit_test(test_msix_init_errors),
		BUS_TEST(test_msix_table_access),
		BUS_TEST(test_msix_vector_changes),
		BUS_TEST(test_msix_pending),
		BUS_TEST(test_msix_many_vectors),
		BUS_TEST(test_concurrent_ecam),
		BUS_TEST(test_concurrent_msix),
		cmocka_unit_test(test_alloc_alignment),
		cmocka_unit_test(test_alloc_exhaustion),
		cmocka_unit_test(test_alloc_reserve_and_edges),
		cmocka_unit_test(test_mmio64_window),
		cmocka_unit_test(test_kvm_wrappers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
