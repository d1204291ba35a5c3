/* PCI core (pci/pci.h): configuration mechanism #1 and ECAM as a guest drives them, BAR sizing
 * and moves, capability lists walked like Linux, read-only fields, concurrent ECAM access.
 * Register values come from the specs (PCI LB 3.0 chapter 6), not from kiln's code. */
#include "pci_test_util.h"

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
		BUS_TEST(test_concurrent_ecam),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
