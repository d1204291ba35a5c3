/* PCI configuration space, the root bus and its two access mechanisms (see pci.h). */
#include "pci/pci.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "util/log.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "configuration space is little-endian");

#define CFG_ADDR_ENABLE 0x80000000u
#define CFG_ADDR_MASK 0x80fffffcu /* enable, bus, device, function, register; rest reads 0 */
#define CAP_WALK_TTL 48           /* as Linux's PCI_FIND_CAP_TTL */

/* Command bits a guest may change (PCI LB 3.0 6.2.2): the rest are hardwired 0 for a virtual
 * function (no special cycles, memory write and invalidate, VGA snooping, stepping, fast
 * back-to-back). */
#define COMMAND_WMASK (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
		       PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status error bits are RW1C (6.2.3); the others are read-only. */
#define STATUS_W1CMASK (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
			PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
			PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static bool range_ok(const struct pci_device *dev, uint32_t offset, unsigned int len)
{
	return dev && len <= dev->cfg_size && offset <= dev->cfg_size - len;
}

static uint32_t get_le(const uint8_t *p, unsigned int len)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, unsigned int len, uint32_t v)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t pci_config_get8(const struct pci_device *dev, uint32_t offset)
{
	return range_ok(dev, offset, 1) ? dev->config[offset] : 0;
}

uint16_t pci_config_get16(const struct pci_device *dev, uint32_t offset)
{
	return range_ok(dev, offset, 2) ? (uint16_t)get_le(dev->config + offset, 2) : 0;
}

uint32_t pci_config_get32(const struct pci_device *dev, uint32_t offset)
{
	return range_ok(dev, offset, 4) ? get_le(dev->config + offset, 4) : 0;
}

static int config_set(struct pci_device *dev, uint32_t offset, unsigned int len, uint32_t v)
{
	if (!range_ok(dev, offset, len))
		return -EINVAL;
	put_le(dev->config + offset, len, v);
	return 0;
}

int pci_config_set8(struct pci_device *dev, uint32_t offset, uint8_t v)
{
	return config_set(dev, offset, 1, v);
}

int pci_config_set16(struct pci_device *dev, uint32_t offset, uint16_t v)
{
	return config_set(dev, offset, 2, v);
}

int pci_config_set32(struct pci_device *dev, uint32_t offset, uint32_t v)
{
	return config_set(dev, offset, 4, v);
}

static int set_mask(struct pci_device *dev, uint32_t offset, unsigned int len, uint32_t mask,
		    bool w1c)
{
	if ((len != 1 && len != 2 && len != 4) || !range_ok(dev, offset, len))
		return -EINVAL;
	if (len < 4 && mask >> (8 * len))
		return -EINVAL;
	for (unsigned int i = 0; i < len; i++) {
		uint8_t m = (uint8_t)(mask >> (8 * i));

		if (w1c) {
			dev->w1cmask[offset + i] = m;
			dev->wmask[offset + i] &= (uint8_t)~m;
		} else {
			dev->wmask[offset + i] = m;
			dev->w1cmask[offset + i] &= (uint8_t)~m;
		}
	}
	return 0;
}

int pci_config_set_wmask(struct pci_device *dev, uint32_t offset, unsigned int len, uint32_t mask)
{
	return set_mask(dev, offset, len, mask, false);
}

int pci_config_set_w1cmask(struct pci_device *dev, uint32_t offset, unsigned int len,
			   uint32_t mask)
{
	return set_mask(dev, offset, len, mask, true);
}

int pci_device_init(struct pci_device *dev, const struct pci_device_info *info,
		    const struct pci_device_ops *ops, void *opaque)
{
	if (!dev || !info || info->class_code > 0xffffff || info->interrupt_pin > 4)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->cfg_size = info->pcie ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE;
	dev->next_cap = PCI_CAP_FIRST;
	dev->ops = ops;
	dev->opaque = opaque;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		dev->bars[i].mapped = PCI_BAR_UNMAPPED;
	/* The setters cannot fail on these in-range offsets. */
	(void)pci_config_set16(dev, PCI_VENDOR_ID, info->vendor_id);
	(void)pci_config_set16(dev, PCI_DEVICE_ID, info->device_id);
	(void)pci_config_set8(dev, PCI_REVISION_ID, info->revision_id);
	(void)pci_config_set8(dev, PCI_CLASS_PROG, (uint8_t)info->class_code);
	(void)pci_config_set16(dev, PCI_CLASS_DEVICE, (uint16_t)(info->class_code >> 8));
	(void)pci_config_set8(dev, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	(void)pci_config_set16(dev, PCI_SUBSYSTEM_VENDOR_ID, info->subsystem_vendor_id);
	(void)pci_config_set16(dev, PCI_SUBSYSTEM_ID, info->subsystem_id);
	(void)pci_config_set8(dev, PCI_INTERRUPT_PIN, info->interrupt_pin);
	(void)pci_config_set_wmask(dev, PCI_COMMAND, 2, COMMAND_WMASK);
	(void)pci_config_set_w1cmask(dev, PCI_STATUS, 2, STATUS_W1CMASK);
	(void)pci_config_set_wmask(dev, PCI_CACHE_LINE_SIZE, 1, 0xff);
	(void)pci_config_set_wmask(dev, PCI_INTERRUPT_LINE, 1, 0xff);
	return 0;
}

int pci_add_capability(struct pci_device *dev, uint8_t id, unsigned int len)
{
	uint32_t off;

	if (!dev || len < 2 || len > PCI_CFG_SPACE_SIZE)
		return -EINVAL;
	if (dev->bus)
		return -EBUSY;
	off = dev->next_cap;
	if (off + len > PCI_CFG_SPACE_SIZE)
		return -ENOSPC;
	dev->config[off] = id;
	dev->config[off + PCI_CAP_LIST_NEXT] = 0;
	if (dev->last_cap)
		dev->config[dev->last_cap + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	else
		dev->config[PCI_CAPABILITY_LIST] = (uint8_t)off;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->last_cap = off;
	dev->next_cap = (off + len + 3) & ~3u;
	return (int)off;
}

int pci_find_capability(const struct pci_device *dev, uint8_t id)
{
	uint32_t pos;

	if (!dev || !(pci_config_get16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return -ENOENT;
	pos = pci_config_get8(dev, PCI_CAPABILITY_LIST);
	for (unsigned int ttl = CAP_WALK_TTL; ttl; ttl--) {
		pos &= ~3u;
		if (pos < PCI_CAP_FIRST)
			break;
		if (pci_config_get8(dev, pos) == id)
			return (int)pos;
		pos = pci_config_get8(dev, pos + PCI_CAP_LIST_NEXT);
	}
	return -ENOENT;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint32_t bar_reg(unsigned int idx)
{
	return PCI_BASE_ADDRESS_0 + 4 * idx;
}

int pci_set_bar(struct pci_device *dev, unsigned int idx, uint64_t size, uint32_t flags)
{
	uint32_t type, lo_mask;

	if (!dev || idx >= PCI_NUM_BARS || !is_pow2(size) ||
	    (flags & ~(PCI_BAR_MEM64 | PCI_BAR_PREFETCH | PCI_BAR_IO)))
		return -EINVAL;
	if (dev->bus)
		return -EBUSY;
	if (flags & PCI_BAR_IO) {
		if ((flags & ~PCI_BAR_IO) || size < PCI_BAR_MIN_IO_SIZE || size > PCI_BAR_MAX_IO_SIZE)
			return -EINVAL;
		type = PCI_BASE_ADDRESS_SPACE_IO;
		lo_mask = (uint32_t)~(size - 1) & PCI_BASE_ADDRESS_IO_MASK;
	} else {
		bool mem64 = flags & PCI_BAR_MEM64;

		if (size < PCI_BAR_MIN_MEM_SIZE || (!mem64 && size > PCI_BAR_MAX_MEM32_SIZE) ||
		    (mem64 && (idx + 1 >= PCI_NUM_BARS || size > (1ull << 63))))
			return -EINVAL;
		type = (mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
		       ((flags & PCI_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
		/* Low DWORD address bits 31..4 below the size are hardwired 0; a 64-bit BAR of
		 * 4 GiB or more has none writable in the low DWORD. */
		lo_mask = size > 0xffffffffull ? 0 :
			  (uint32_t)~(size - 1) & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
	}
	/* A slot in use: declared itself, or the upper half of a 64-bit BAR below it. */
	if (dev->bars[idx].size || (idx > 0 && (dev->bars[idx - 1].flags & PCI_BAR_MEM64)) ||
	    ((flags & PCI_BAR_MEM64) && dev->bars[idx + 1].size))
		return -EEXIST;
	dev->bars[idx].size = size;
	dev->bars[idx].flags = flags;
	(void)pci_config_set32(dev, bar_reg(idx), type);
	(void)pci_config_set_wmask(dev, bar_reg(idx), 4, lo_mask);
	if (flags & PCI_BAR_MEM64) {
		(void)pci_config_set32(dev, bar_reg(idx + 1), 0);
		(void)pci_config_set_wmask(dev, bar_reg(idx + 1), 4, (uint32_t)(~(size - 1) >> 32));
	}
	return 0;
}

uint64_t pci_bar_address(const struct pci_device *dev, unsigned int idx)
{
	const struct pci_bar *b;
	uint32_t lo;

	if (!dev || idx >= PCI_NUM_BARS || !dev->bars[idx].size)
		return PCI_BAR_UNMAPPED;
	b = &dev->bars[idx];
	lo = pci_config_get32(dev, bar_reg(idx));
	if (b->flags & PCI_BAR_IO)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	if (b->flags & PCI_BAR_MEM64)
		return (lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK) |
		       (uint64_t)pci_config_get32(dev, bar_reg(idx + 1)) << 32;
	return lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
}

int pci_bar_set_address(struct pci_device *dev, unsigned int idx, uint64_t addr)
{
	const struct pci_bar *b;
	uint32_t lo;

	if (!dev || idx >= PCI_NUM_BARS || !dev->bars[idx].size)
		return -EINVAL;
	if (dev->bus)
		return -EBUSY;
	b = &dev->bars[idx];
	if (addr & (b->size - 1))
		return -EINVAL;
	if (((b->flags & PCI_BAR_IO) && addr > 0xffff) ||
	    (!(b->flags & (PCI_BAR_IO | PCI_BAR_MEM64)) && addr > 0xffffffffull))
		return -EINVAL;
	/* Keep the type bits, replace the address bits. */
	lo = pci_config_get32(dev, bar_reg(idx));
	lo = (b->flags & PCI_BAR_IO) ? (lo & ~PCI_BASE_ADDRESS_IO_MASK) | (uint32_t)addr :
				       (lo & ~(uint32_t)PCI_BASE_ADDRESS_MEM_MASK) | (uint32_t)addr;
	(void)pci_config_set32(dev, bar_reg(idx), lo);
	if (b->flags & PCI_BAR_MEM64)
		(void)pci_config_set32(dev, bar_reg(idx + 1), (uint32_t)(addr >> 32));
	return 0;
}

/* Where BAR idx decodes now: its address while Memory (I/O) Space Enable is set. */
static uint64_t bar_decoding(const struct pci_device *dev, unsigned int idx)
{
	uint16_t cmd = pci_config_get16(dev, PCI_COMMAND);
	const struct pci_bar *b = &dev->bars[idx];

	if (!b->size)
		return PCI_BAR_UNMAPPED;
	if (!(cmd & ((b->flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return PCI_BAR_UNMAPPED;
	return pci_bar_address(dev, idx);
}

/* Reports every BAR whose decoding address differs from the last one reported. Bus mutex held
 * (or the device not yet visible to the guest). */
static void update_bars(struct pci_device *dev)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t now = bar_decoding(dev, i), old = dev->bars[i].mapped;

		if (now == old)
			continue;
		dev->bars[i].mapped = now;
		if (dev->ops && dev->ops->bar_moved)
			dev->ops->bar_moved(dev, i, old, now);
	}
}

/* A guest read of `len` bytes at `offset` (already range-checked against 4096): bytes at or
 * above cfg_size read as all ones. */
static void guest_read(const struct pci_device *dev, uint32_t offset, uint8_t *data,
		       unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		data[i] = offset + i < dev->cfg_size ? dev->config[offset + i] : 0xff;
}

/* A guest write through the masks, then the BAR check and the device's hook. */
static void guest_write(struct pci_device *dev, uint32_t offset, const uint8_t *data,
			unsigned int len)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < len; i++) {
		uint32_t o = offset + i;
		uint8_t v;

		if (o >= dev->cfg_size)
			break;
		v = data[i];
		dev->config[o] = (uint8_t)((dev->config[o] & ~dev->wmask[o]) | (v & dev->wmask[o]));
		dev->config[o] &= (uint8_t)~(v & dev->w1cmask[o]);
		n++;
	}
	if (!n)
		return;
	update_bars(dev);
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, offset, n);
}

int pci_bus_init(struct pci_bus *bus)
{
	static const struct pci_device_info host = {
		.vendor_id = PCI_HOST_BRIDGE_VENDOR,
		.device_id = PCI_HOST_BRIDGE_DEVICE,
		.class_code = PCI_HOST_BRIDGE_CLASS,
	};
	int r;

	if (!bus)
		return -EINVAL;
	memset(bus, 0, sizeof(*bus));
	r = pthread_mutex_init(&bus->lock, NULL);
	if (r)
		return -r;
	r = pci_device_init(&bus->host_bridge, &host, NULL, NULL);
	if (r) {
		pthread_mutex_destroy(&bus->lock);
		return r;
	}
	bus->host_bridge.bus = bus;
	bus->host_bridge.slot = 0;
	bus->devices[0] = &bus->host_bridge;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (bus)
		pthread_mutex_destroy(&bus->lock);
}

int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev, int slot)
{
	int r = -ENOSPC;

	if (!bus || !dev || dev->bus || slot == 0 || slot >= PCI_MAX_DEVICES || dev->cfg_size == 0)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	if (slot > 0) {
		r = bus->devices[slot] ? -EEXIST : slot;
	} else {
		for (int i = 1; i < PCI_MAX_DEVICES; i++)
			if (!bus->devices[i]) {
				r = i;
				break;
			}
	}
	if (r > 0) {
		dev->bus = bus;
		dev->slot = (unsigned int)r;
		bus->devices[r] = dev;
		update_bars(dev);
	}
	pthread_mutex_unlock(&bus->lock);
	return r;
}

/* The function at bus/device/function, or NULL (only bus 0, function 0 exist). Bus mutex held. */
static struct pci_device *lookup(struct pci_bus *bus, uint64_t busnr, uint64_t devnr,
				 uint64_t fn)
{
	if (busnr != 0 || fn != 0 || devnr >= PCI_MAX_DEVICES)
		return NULL;
	return bus->devices[devnr];
}

/* Mechanism #1 data port: `len` bytes at register `reg` of the function CONFIG_ADDRESS
 * selects; reg + len <= 256. Bus mutex held. */
static void cf8_data(struct pci_bus *bus, uint32_t reg, uint8_t *data, unsigned int len,
		     bool is_write)
{
	uint32_t a = bus->config_address;
	struct pci_device *dev = NULL;

	if (a & CFG_ADDR_ENABLE)
		dev = lookup(bus, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 0x7);
	if (!dev) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	reg += a & 0xfc;
	if (is_write)
		guest_write(dev, reg, data, len);
	else
		guest_read(dev, reg, data, len);
}

void pci_bus_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;

	if (!bus || !data || len == 0 || len > 8 || offset >= PORT_PCI_CONFIG_LEN)
		return;
	if (!is_write)
		memset(data, 0xff, len);
	pthread_mutex_lock(&bus->lock);
	if (offset == 0 && len == 4) {
		/* CONFIG_ADDRESS: only DWORD accesses reach it (PCI LB 3.0 3.2.2.3.2). */
		if (is_write)
			bus->config_address = get_le(data, 4) & CFG_ADDR_MASK;
		else
			put_le(data, 4, bus->config_address);
	} else {
		/* CONFIG_DATA: the bytes of the access that fall on ports 0xcfc-0xcff. */
		uint64_t start = offset < 4 ? 4 : offset;
		uint64_t end = offset + len;

		if (end > PORT_PCI_CONFIG_LEN)
			end = PORT_PCI_CONFIG_LEN;
		if (start < end)
			cf8_data(bus, (uint32_t)(start - 4), data + (start - offset),
				 (unsigned int)(end - start), is_write);
		else
			log_ratelimited(LOG_DEBUG, "pci", "ignored %u-byte %s at CONFIG_ADDRESS + %llu",
					len, is_write ? "write" : "read",
					(unsigned long long)offset);
	}
	pthread_mutex_unlock(&bus->lock);
}

/* One naturally aligned ECAM access of 1, 2 or 4 bytes. Bus mutex held. */
static void ecam_access(struct pci_bus *bus, uint64_t offset, uint8_t *data, unsigned int len,
			bool is_write)
{
	struct pci_device *dev = lookup(bus, offset >> 20, (offset >> 15) & 0x1f,
					(offset >> 12) & 0x7);
	uint32_t reg = offset & 0xfff;

	if (!dev || reg >= dev->cfg_size) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		guest_write(dev, reg, data, len);
	else
		guest_read(dev, reg, data, len);
}

void pci_bus_ecam(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;

	if (!bus || !data || len == 0 || len > 8)
		return;
	if (!is_write)
		memset(data, 0xff, len);
	if ((len != 1 && len != 2 && len != 4 && len != 8) || (offset & (len - 1))) {
		log_ratelimited(LOG_DEBUG, "pci", "ignored unaligned %u-byte ECAM %s at %#llx", len,
				is_write ? "write" : "read", (unsigned long long)offset);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	if (len == 8) {
		ecam_access(bus, offset, data, 4, is_write);
		ecam_access(bus, offset + 4, data + 4, 4, is_write);
	} else {
		ecam_access(bus, offset, data, len, is_write);
	}
	pthread_mutex_unlock(&bus->lock);
}
