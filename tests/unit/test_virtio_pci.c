/* The virtio-pci transport (virtio 1.2 4.1) driven as a guest driver would: capabilities in
 * configuration space, feature negotiation, the device-status state machine, queue set-up,
 * notifications through the notify region, and virtio-rng behind it end to end. No KVM: the
 * transport runs with env.kvm = NULL (no irqfd/ioeventfd), interrupts are observed through
 * the ISR register with MSI-X disabled, and the event loop is driven by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "hw/bus.h"
#include "pci/bar_alloc.h"
#include "pci/pci.h"
#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"
#include "vmm/irq_routing.h"

#define RAM (64ull << 20)
#define DESC 0x100000ull
#define AVAIL 0x101000ull
#define USED 0x102000ull
#define BUF 0x200000ull
#define QSZ 16

/* A fake device: two queues, 8 bytes of writable configuration, records what it was told. */
struct fake {
	struct virtio_dev dev;
	uint8_t config[8];
	int activated, resets, notified[2];
	int activate_ret;
};

static void fake_cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned int len)
{
	memcpy(data, ((struct fake *)d->priv)->config + off, len);
}

static void fake_cfg_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
			   unsigned int len)
{
	memcpy(((struct fake *)d->priv)->config + off, data, len);
}

static int fake_activate(struct virtio_dev *d)
{
	struct fake *f = d->priv;

	f->activated++;
	return f->activate_ret;
}

static void fake_notify(struct virtio_dev *d, unsigned int q)
{
	((struct fake *)d->priv)->notified[q]++;
}

static void fake_reset(struct virtio_dev *d)
{
	((struct fake *)d->priv)->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = fake_cfg_read, .config_write = fake_cfg_write, .activate = fake_activate,
	.queue_notify = fake_notify, .reset = fake_reset,
};

struct fx {
	struct guest_mem mem;
	struct pci_bus pci;
	struct bus mmio;
	struct bar_alloc mmio32;
	struct irq_routing routing;
	struct event_loop loop;
	struct fake fake;
	struct virtio_dev *dev;
	struct virtio_pci *t;
	unsigned int slot;
	uint64_t bar;
};

static int setup_common(struct fx *f)
{
	assert_int_equal(guest_mem_init(&f->mem, RAM, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(pci_bus_init(&f->pci), 0);
	f->mmio.kind = "mmio";
	assert_int_equal(bar_alloc_init_mmio32(&f->mmio32), 0);
	assert_int_equal(irq_routing_init(&f->routing, NULL), 0);
	assert_int_equal(event_loop_init(&f->loop), 0);
	return 0;
}

static void attach(struct fx *f)
{
	const struct virtio_pci_env env = { .pci = &f->pci, .mmio = &f->mmio,
					    .mmio32 = &f->mmio32, .routing = &f->routing,
					    .loop = &f->loop };

	assert_int_equal(virtio_pci_create(f->dev, &env, &f->t), 0);
	f->slot = f->t->pci.slot;
	f->bar = f->t->bar_addr;
}

static int setup_fake(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	setup_common(f);
	f->fake.dev = (struct virtio_dev){ .id = "fake", .device_id = 42,
					   .host_features = 1ull << 5, .config_len = 8,
					   .nr_queues = 2, .queue_max_size = QSZ, .ops = &fake_ops,
					   .priv = &f->fake };
	f->dev = &f->fake.dev;
	assert_int_equal(virtio_dev_init(f->dev, &f->mem, &f->loop), 0);
	attach(f);
	*state = f;
	return 0;
}

static int setup_rng(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	setup_common(f);
	assert_int_equal(virtio_rng_create("/dev/urandom", &f->mem, &f->loop, &f->dev, err,
					   sizeof(err)), 0);
	attach(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_pci_destroy(f->t);
	virtio_dev_destroy(f->dev);
	event_loop_destroy(&f->loop);
	irq_routing_destroy(&f->routing);
	pci_bus_destroy(&f->pci);
	guest_mem_free(&f->mem);
	free(f);
	return 0;
}

/* Driver-side accessors. */
static uint32_t cfg_read(struct fx *f, unsigned int reg, unsigned int len)
{
	uint8_t b[4] = { 0 };
	uint32_t v = 0;

	pci_bus_ecam(&f->pci, (uint64_t)f->slot << 15 | reg, b, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static void cfg_write(struct fx *f, unsigned int reg, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	for (unsigned int i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	pci_bus_ecam(&f->pci, (uint64_t)f->slot << 15 | reg, b, len, true);
}

static uint64_t bar_read(struct fx *f, uint64_t off, unsigned int len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	bus_access(&f->mmio, f->bar + off, b, len, false);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void bar_write(struct fx *f, uint64_t off, uint64_t v, unsigned int len)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	bus_access(&f->mmio, f->bar + off, b, len, true);
}

static void enable_memory(struct fx *f)
{
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static uint8_t status(struct fx *f)
{
	return (uint8_t)bar_read(f, 0x14, 1);
}

static void set_status(struct fx *f, uint8_t s)
{
	bar_write(f, 0x14, s, 1);
}

/* ACKNOWLEDGE, DRIVER, features (low word, VERSION_1 high), FEATURES_OK: returns status. */
static uint8_t negotiate(struct fx *f, uint32_t lo, uint32_t hi)
{
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_write(f, 0x08, 0, 4);
	bar_write(f, 0x0c, lo, 4);
	bar_write(f, 0x08, 1, 4);
	bar_write(f, 0x0c, hi, 4);
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return status(f);
}

static void setup_queue(struct fx *f, unsigned int q, uint16_t size)
{
	bar_write(f, 0x16, q, 2);
	bar_write(f, 0x18, size, 2);
	bar_write(f, 0x20, DESC, 4);
	bar_write(f, 0x24, 0, 4);
	bar_write(f, 0x28, AVAIL, 8);
	bar_write(f, 0x30, USED, 4);
	bar_write(f, 0x34, 0, 4);
	bar_write(f, 0x1c, 1, 2);
}

static void test_identity_and_caps(void **state)
{
	struct fx *f = *state;
	unsigned int found = 0;

	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(f, PCI_DEVICE_ID, 2), 0x1040 + 42);
	assert_int_equal(cfg_read(f, PCI_REVISION_ID, 1), 1);
	/* Walk the capability list as Linux's virtio_pci_find_capability() does. */
	for (unsigned int c = cfg_read(f, PCI_CAPABILITY_LIST, 1); c; c = cfg_read(f, c + 1, 1)) {
		if (cfg_read(f, c, 1) == PCI_CAP_ID_MSIX) {
			found |= 1u << 7;
			continue;
		}
		assert_int_equal(cfg_read(f, c, 1), PCI_CAP_ID_VNDR);
		unsigned int type = cfg_read(f, c + 3, 1);
		assert_int_equal(cfg_read(f, c + 4, 1), 0); /* BAR 0 */
		uint32_t off = cfg_read(f, c + 8, 4), len = cfg_read(f, c + 12, 4);
		assert_true(off + len <= VIRTIO_PCI_BAR_SIZE);
		if (type == 2)
			assert_int_equal(cfg_read(f, c + 16, 4), 4);
		if (type == 4)
			assert_int_equal(len, 8);
		found |= 1u << type;
	}
	assert_int_equal(found, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 7));
	/* The BAR sizes as the function's 32 KiB and sits in the 32-bit window. */
	assert_int_equal(cfg_read(f, PCI_BASE_ADDRESS_0, 4), (uint32_t)f->bar);
	assert_true(f->bar >= LAYOUT_PCI_MMIO32_START &&
		    f->bar < LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE);
}

static void test_bar_silent_until_memory_enabled(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bar_read(f, 0x12, 2), 0xffff); /* decoding off: master abort */
	enable_memory(f);
	assert_int_equal(bar_read(f, 0x12, 2), 2); /* num_queues */
}

static void test_features_ok_refused(void **state)
{
	struct fx *f = *state;

	enable_memory(f);
	bar_write(f, 0x00, 0, 4);
	assert_int_equal(bar_read(f, 0x04, 4), (1u << 5) | (1u << 28) | (1u << 29));
	bar_write(f, 0x00, 1, 4);
	assert_int_equal(bar_read(f, 0x04, 4), 1); /* VERSION_1 */
	/* A feature not offered (bit 6): FEATURES_OK does not stick. */
	assert_false(negotiate(f, 1u << 6, 1) & VIRTIO_STATUS_FEATURES_OK);
	/* Reset, then without VERSION_1 (a legacy driver): refused too. */
	set_status(f, 0);
	assert_int_equal(status(f), 0);
	assert_false(negotiate(f, 1u << 5, 0) & VIRTIO_STATUS_FEATURES_OK);
	set_status(f, 0);
	assert_true(negotiate(f, 1u << 5 | 1u << 29, 1) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(virtio_dev_has(f->dev, 29));
	assert_true(virtio_dev_has(f->dev, VIRTIO_F_VERSION_1));
	/* Features are frozen after FEATURES_OK. */
	bar_write(f, 0x08, 0, 4);
	bar_write(f, 0x0c, 0, 4);
	assert_int_equal(bar_read(f, 0x0c, 4), 1u << 5 | 1u << 29);
}

static void test_queue_setup_and_activation(void **state)
{
	struct fx *f = *state;
	struct fake *k = &f->fake;

	enable_memory(f);
	/* Queue registers of a queue that does not exist read as size 0. */
	bar_write(f, 0x16, 7, 2);
	assert_int_equal(bar_read(f, 0x18, 2), 0);
	bar_write(f, 0x16, 0, 2);
	assert_int_equal(bar_read(f, 0x18, 2), QSZ);
	assert_int_equal(bar_read(f, 0x1e, 2), 0);
	bar_write(f, 0x16, 1, 2);
	assert_int_equal(bar_read(f, 0x1e, 2), 1); /* queue_notify_off */
	negotiate(f, 0, 1);
	setup_queue(f, 0, 8);
	assert_int_equal(bar_read(f, 0x1c, 2), 1);
	assert_int_equal(bar_read(f, 0x20, 8), DESC);
	/* A queue size that is not a power of two: the queue stays off, NEEDS_RESET. */
	setup_queue(f, 1, 6);
	assert_int_equal(bar_read(f, 0x1c, 2), 0);
	assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	set_status(f, 0);
	assert_int_equal(status(f), 0);
	bar_write(f, 0x16, 0, 2);
	assert_int_equal(bar_read(f, 0x1c, 2), 0); /* reset cleared the queue */
	assert_int_equal(bar_read(f, 0x18, 2), QSZ);

	negotiate(f, 0, 1);
	setup_queue(f, 0, 8);
	/* Notifications before DRIVER_OK do nothing. */
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	while (event_loop_run_once(&f->loop, 0) > 0)
		;
	assert_int_equal(k->notified[0], 0);
	set_status(f, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(k->activated, 1);
	assert_true(f->dev->active);
	/* Queue set-up is frozen after DRIVER_OK. */
	bar_write(f, 0x16, 0, 2);
	bar_write(f, 0x20, 0x5000, 4);
	assert_int_equal(bar_read(f, 0x20, 8), DESC);
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF + 4, 1, 2); /* queue 1: not enabled, ignored */
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	while (event_loop_run_once(&f->loop, 0) > 0)
		;
	assert_int_equal(k->notified[0], 1);
	assert_int_equal(k->notified[1], 0);
	/* Device configuration, bounds-checked. */
	bar_write(f, VIRTIO_PCI_DEVICE_OFF + 4, 0xdeadbeef, 4);
	assert_int_equal(bar_read(f, VIRTIO_PCI_DEVICE_OFF + 4, 4), 0xdeadbeef);
	assert_int_equal(bar_read(f, VIRTIO_PCI_DEVICE_OFF + 6, 4), 0); /* past the end */
	/* Reset silences the device. */
	set_status(f, 0);
	assert_int_equal(k->resets, 1);
	assert_false(f->dev->active);
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	while (event_loop_run_once(&f->loop, 0) > 0)
		;
	assert_int_equal(k->notified[0], 1);
}

static void test_activate_failure_needs_reset(void **state)
{
	struct fx *f = *state;

	enable_memory(f);
	f->fake.activate_ret = -EIO;
	negotiate(f, 0, 1);
	setup_queue(f, 0, 8);
	set_status(f, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_false(f->dev->active);
	assert_int_equal(bar_read(f, VIRTIO_PCI_ISR_OFF, 1), 2); /* configuration change */
	assert_int_equal(bar_read(f, VIRTIO_PCI_ISR_OFF, 1), 0); /* read clears */
}

static void test_msix_vectors_range_checked(void **state)
{
	struct fx *f = *state;

	enable_memory(f);
	bar_write(f, 0x10, 2, 2); /* vectors 0..2 exist (2 queues + config) */
	assert_int_equal(bar_read(f, 0x10, 2), 2);
	bar_write(f, 0x10, 3, 2);
	assert_int_equal(bar_read(f, 0x10, 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, 0x16, 1, 2);
	bar_write(f, 0x1a, 1000, 2);
	assert_int_equal(bar_read(f, 0x1a, 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, 0x1a, 0, 2);
	assert_int_equal(bar_read(f, 0x1a, 2), 0);
	/* Odd widths and offsets: no crash, nothing changes. */
	for (unsigned int off = 0; off < 0x40; off++)
		for (unsigned int len = 1; len <= 8; len *= 2)
			(void)bar_read(f, off, len);
	bar_write(f, 0x13, 0xff, 1);
	assert_int_equal(bar_read(f, 0x12, 2), 2);
}

static void test_rng_fills_buffers(void **state)
{
	struct fx *f = *state;
	struct virtq_desc d = { .addr = BUF, .len = 64, .flags = VIRTQ_DESC_F_WRITE };
	uint8_t zero[64] = { 0 }, got[64];
	uint16_t v;
	uint32_t used_len;

	enable_memory(f);
	assert_int_equal(cfg_read(f, PCI_DEVICE_ID, 2), 0x1044);
	negotiate(f, 0, 1);
	setup_queue(f, 0, 8);
	set_status(f, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(guest_mem_write(&f->mem, DESC, &d, sizeof(d)), 0);
	v = 0;
	assert_int_equal(guest_mem_write(&f->mem, AVAIL + 4, &v, 2), 0);
	v = 1;
	assert_int_equal(guest_mem_write(&f->mem, AVAIL + 2, &v, 2), 0);
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	while (event_loop_run_once(&f->loop, 0) > 0)
		;
	assert_int_equal(guest_mem_read(&f->mem, USED + 2, &v, 2), 0);
	assert_int_equal(v, 1);
	assert_int_equal(guest_mem_read(&f->mem, USED + 8, &used_len, 4), 0);
	assert_int_equal(used_len, 64);
	assert_int_equal(guest_mem_read(&f->mem, BUF, got, 64), 0);
	assert_memory_not_equal(got, zero, 64);
	assert_int_equal(bar_read(f, VIRTIO_PCI_ISR_OFF, 1), 1); /* used buffer, MSI-X off */
	/* A chain with a loop: the device stops and asks for a reset. */
	d.flags = VIRTQ_DESC_F_NEXT;
	d.next = 0;
	assert_int_equal(guest_mem_write(&f->mem, DESC, &d, sizeof(d)), 0);
	v = 2;
	assert_int_equal(guest_mem_write(&f->mem, AVAIL + 2, &v, 2), 0);
	bar_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	while (event_loop_run_once(&f->loop, 0) > 0)
		;
	assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_false(f->dev->active);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_caps, setup_fake, teardown),
		cmocka_unit_test_setup_teardown(test_bar_silent_until_memory_enabled, setup_fake,
						teardown),
		cmocka_unit_test_setup_teardown(test_features_ok_refused, setup_fake, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_and_activation, setup_fake,
						teardown),
		cmocka_unit_test_setup_teardown(test_activate_failure_needs_reset, setup_fake,
						teardown),
		cmocka_unit_test_setup_teardown(test_msix_vectors_range_checked, setup_fake,
						teardown),
		cmocka_unit_test_setup_teardown(test_rng_fills_buffers, setup_rng, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
