/* MSI-X (pci/msix.h): capability, table and PBA accesses of every width, vector changes as
 * Linux makes them, pending bits, and notify racing with masking. */
#include "pci_test_util.h"

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

/* ---- concurrency: notify vs. mask ---- */


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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BUS_TEST(test_msix_capability),
		cmocka_unit_test(test_msix_init_errors),
		BUS_TEST(test_msix_table_access),
		BUS_TEST(test_msix_vector_changes),
		BUS_TEST(test_msix_pending),
		BUS_TEST(test_msix_many_vectors),
		BUS_TEST(test_concurrent_msix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
