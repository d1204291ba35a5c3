/* PCI segment 0: one root bus (bus 0) with a host bridge at device 0 and up to 31 more
 * single-function devices, their type 0 configuration space (PCI Local Bus 3.0 chapter 6,
 * PCI Express Base 4.0 7.5/7.2.2 for ECAM), and both guest access paths to it:
 *   - configuration mechanism #1 (PCI LB 3.0 3.2.2.3.2): CONFIG_ADDRESS at port 0xcf8 (32-bit
 *     accesses only), CONFIG_DATA at 0xcfc-0xcff (any width, any of the four ports);
 *   - ECAM (PCIe 4.0 7.2.2, PCI Firmware 3.3 4.1): an MMIO window where the offset is
 *     bus << 20 | device << 15 | function << 12 | register.
 * Register offsets and bits are Linux's <linux/pci_regs.h> names.
 *
 * Threading: one mutex per bus serialises every configuration access (vCPU threads access
 * configuration space concurrently) and the device callbacks it triggers; callbacks run with
 * that mutex held and must not access this bus's configuration space (no pci_bus_* call).
 * Device-side setters (pci_config_set*, pci_set_bar, pci_add_capability, ...) are for building
 * a device before pci_bus_add_device(); afterwards only the guest changes configuration space,
 * except from inside the device's own callbacks (which run under the bus mutex).
 *
 * What a guest controls is never trusted: addresses, offsets, sizes and device numbers are
 * range-checked; accesses the model does not implement are ignored (writes) or read as all
 * ones, like a master abort. */
#ifndef KILN_PCI_PCI_H
#define KILN_PCI_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 32           /* device numbers on bus 0: 0 = host bridge, 1..31 */
#define PCI_NUM_BARS PCI_STD_NUM_BARS /* BAR 0..5 of a type 0 header */
#define PCI_BAR_UNMAPPED UINT64_MAX  /* bar_moved(): the BAR does not decode */
#define PCI_CAP_FIRST 0x40           /* capabilities go after the 64-byte header */

/* The host bridge at 00:00.0: Cloud Hypervisor's IDs, so guests see the same device
 * (vendor Intel, "virtual PCIe host" 0x0d57, class 06 00 00 = host bridge). */
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x0d57
#define PCI_HOST_BRIDGE_CLASS 0x060000

/* pci_set_bar() flags. Default: 32-bit, non-prefetchable memory. */
#define PCI_BAR_MEM64 (1u << 0)    /* 64-bit memory BAR: uses slots idx and idx + 1 */
#define PCI_BAR_PREFETCH (1u << 1) /* prefetchable memory */
#define PCI_BAR_IO (1u << 2)       /* I/O space (size 4..256); excludes the two above */

#define PCI_BAR_MIN_MEM_SIZE 16u   /* PCI LB 3.0 6.2.5.1; use >= 4 KiB so a BAR owns its pages */
#define PCI_BAR_MIN_IO_SIZE 4u
#define PCI_BAR_MAX_IO_SIZE 256u
#define PCI_BAR_MAX_MEM32_SIZE (1ull << 31)

struct pci_device;
struct pci_bus;

/* Callbacks of a device; any may be NULL. They run on the thread that caused them (a vCPU in
 * a configuration access, or the caller of pci_bus_add_device()) with the bus mutex held. */
struct pci_device_ops {
	/* The address at which BAR `bar` decodes changed from `old_addr` to `new_addr` (guest
	 * physical address for memory BARs, port number for I/O BARs; PCI_BAR_UNMAPPED when it does
	 * not decode). A BAR decodes while its size is set and the Command register's Memory (or
	 * I/O) Space Enable bit is set; while it does, every write that changes its address moves
	 * it, including sizing writes of all ones (Linux disables decoding around sizing, so it
	 * sees an unmap and a map around it). Called once per change, after the write, first when
	 * the device is added to the bus with decoding already enabled. For a 64-bit BAR `bar` is
	 * the lower slot. The guest may place a BAR anywhere, overlapping RAM or other devices:
	 * the device must cope (e.g. not map a region that overlaps). */
	void (*bar_moved)(struct pci_device *dev, unsigned int bar, uint64_t old_addr,
			  uint64_t new_addr);
	/* The guest wrote `len` bytes at configuration `offset`; the new values are in place
	 * (read them with pci_config_get*()). For registers with side effects, e.g. the MSI-X
	 * Message Control word (msix_config_write()). */
	void (*config_write)(struct pci_device *dev, uint32_t offset, unsigned int len);
};

/* Identity of a function for pci_device_init(). */
struct pci_device_info {
	uint16_t vendor_id, device_id;
	uint16_t subsystem_vendor_id, subsystem_id;
	uint32_t class_code;   /* 24 bits: base class << 16 | sub-class << 8 | programming interface */
	uint8_t revision_id;
	uint8_t interrupt_pin; /* 0 none, 1..4 INTA#..INTD# */
	bool pcie;             /* 4 KiB of configuration space (ECAM offsets 0x100-0xfff) instead
				* of 256 bytes; set only for a function with a PCI Express
				* capability, since Linux then probes extended capabilities */
};

/* One BAR as the device declared it. */
struct pci_bar {
	uint64_t size;   /* bytes, power of two; 0 = unused (or the upper half of a 64-bit BAR) */
	uint32_t flags;  /* PCI_BAR_* */
	uint64_t mapped; /* decoding address last reported through bar_moved, or PCI_BAR_UNMAPPED */
};

/* A PCI function's state: configuration space with per-byte write masks. Owned by the device
 * model that embeds it; borrowed by the bus from pci_bus_add_device() until the bus is
 * destroyed, so it must outlive the bus. Little-endian like PCI. */
struct pci_device {
	uint8_t config[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SPACE_EXP_SIZE]; /* bits the guest clears by writing 1 (RW1C) */
	uint32_t cfg_size;                       /* 256 or 4096 bytes */
	struct pci_bar bars[PCI_NUM_BARS];
	uint32_t next_cap;                       /* next free capability offset */
	uint32_t last_cap;                       /* offset of the last capability, 0 if none */
	const struct pci_device_ops *ops;        /* borrowed, may be NULL */
	void *opaque;                            /* for the device's callbacks, borrowed */
	struct pci_bus *bus;                     /* set by pci_bus_add_device() */
	unsigned int slot;                       /* device number on the bus */
};

/* Initialises `dev` as a single-function type 0 header (PCI LB 3.0 6.1) with the given
 * identity, Command = 0 (no decoding), no BARs, no capabilities, and the standard write masks:
 * Command bits I/O, Memory, Bus Master, Parity Error Response, SERR# and Interrupt Disable;
 * Status error bits RW1C; Cache Line Size and Interrupt Line read-write; everything else
 * read-only. ops and opaque are borrowed. Returns 0, or -EINVAL for a NULL dev/info, a class
 * code wider than 24 bits or an interrupt pin above 4. */
int pci_device_init(struct pci_device *dev, const struct pci_device_info *info,
		    const struct pci_device_ops *ops, void *opaque)
	__attribute__((warn_unused_result));

/* Device-side access to configuration space, ignoring the write masks (for building the
 * device and for its callbacks). Getters return 0 for an offset outside cfg_size (or a value
 * straddling its end); setters return 0 or -EINVAL. */
uint8_t pci_config_get8(const struct pci_device *dev, uint32_t offset);
uint16_t pci_config_get16(const struct pci_device *dev, uint32_t offset);
uint32_t pci_config_get32(const struct pci_device *dev, uint32_t offset);
int pci_config_set8(struct pci_device *dev, uint32_t offset, uint8_t v);
int pci_config_set16(struct pci_device *dev, uint32_t offset, uint16_t v);
int pci_config_set32(struct pci_device *dev, uint32_t offset, uint32_t v);

/* Sets the write mask (bits the guest may change) or the RW1C mask of the `len` bytes (1, 2 or
 * 4) at `offset` to `mask` (little-endian). A bit is in at most one of the two masks: setting
 * one clears those bits from the other. Returns 0 or -EINVAL. */
int pci_config_set_wmask(struct pci_device *dev, uint32_t offset, unsigned int len, uint32_t mask);
int pci_config_set_w1cmask(struct pci_device *dev, uint32_t offset, unsigned int len,
			   uint32_t mask);

/* Appends a capability of `len` bytes (>= 2: ID and Next pointer, which it fills; the rest is
 * zero and read-only until the caller sets values and masks) to the capability list (PCI LB 3.0
 * 6.7): DWORD-aligned from 0x40 in the first 256 bytes, linked from Capabilities Pointer (0x34)
 * or the previous capability's Next, with the Capabilities List bit of Status set. Returns the
 * capability's offset, -EINVAL for a bad len or a NULL dev, -ENOSPC when it does not fit below
 * 0x100, -EBUSY when the device is already on a bus. */
int pci_add_capability(struct pci_device *dev, uint8_t id, unsigned int len)
	__attribute__((warn_unused_result));

/* Walks the capability list as Linux's pci_find_capability() does (at most 48 hops, pointers
 * masked to DWORDs, below 0x40 ends the walk). Returns the offset of the first capability with
 * ID `id`, or -ENOENT. */
int pci_find_capability(const struct pci_device *dev, uint8_t id);

/* Declares BAR `idx` (0..5) of `size` bytes (a power of two: memory 16 bytes..2 GiB for 32-bit,
 * ..2^63 for 64-bit; I/O 4..256) with PCI_BAR_* `flags` (PCI LB 3.0 6.2.5.1). The BAR reads
 * back ~(size - 1) | type bits after the guest writes all ones; a 64-bit BAR also takes slot
 * idx + 1 (its upper 32 address bits). The address starts at 0; see pci_bar_set_address().
 * Returns 0, -EINVAL (bad index, size or flags; 64-bit at idx 5), -EEXIST (slot already
 * used), -EBUSY (device already on a bus). */
int pci_set_bar(struct pci_device *dev, unsigned int idx, uint64_t size, uint32_t flags)
	__attribute__((warn_unused_result));

/* Programs BAR `idx`'s address, as firmware would (usually from bar_alloc). Before
 * pci_bus_add_device() only. Returns 0, -EINVAL (not a declared BAR, address not aligned to
 * the size, above 4 GiB for a 32-bit BAR or 64 KiB for I/O), -EBUSY (device on a bus). */
int pci_bar_set_address(struct pci_device *dev, unsigned int idx, uint64_t addr)
	__attribute__((warn_unused_result));

/* The address BAR `idx` holds now (decoding or not), or PCI_BAR_UNMAPPED for an undeclared
 * BAR. Read from configuration space: call it before the device is on a bus, or from its
 * callbacks. */
uint64_t pci_bar_address(const struct pci_device *dev, unsigned int idx);

/* Bus 0 of segment 0. Embed it (no heap state); the host bridge is part of it. */
struct pci_bus {
	pthread_mutex_t lock;                          /* everything below */
	uint32_t config_address;                       /* CONFIG_ADDRESS latch (mechanism #1) */
	struct pci_device *devices[PCI_MAX_DEVICES];   /* borrowed; [0] = &host_bridge */
	struct pci_device host_bridge;
};

/* Initialises an empty bus with the host bridge at device 0. Returns 0 or -errno from
 * pthread_mutex_init(). */
int pci_bus_init(struct pci_bus *bus) __attribute__((warn_unused_result));

/* Releases the mutex. The devices stay their owners'. No access may be in flight. */
void pci_bus_destroy(struct pci_bus *bus);

/* Puts `dev` (initialised, BARs and capabilities set up) at device number `slot` (1..31), or
 * at the lowest free one for slot < 0, and reports the BARs that already decode through
 * bar_moved. Thread-safe. Returns the device number, -EINVAL (bad slot, NULL, device already on
 * a bus), -EEXIST (slot taken), -ENOSPC (bus full). */
int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev, int slot)
	__attribute__((warn_unused_result));

/* Bus handler (hw/bus.h) for the PORT_PCI_CONFIG_LEN ports at PORT_PCI_CONFIG; opaque is the
 * struct pci_bus. Offset 0, 4 bytes: CONFIG_ADDRESS (bit 31 enable, bits 23-16 bus, 15-11
 * device, 10-8 function, 7-2 register; reserved bits read 0); other accesses at 0-3 are
 * ignored (reads all ones). Offsets 4-7: CONFIG_DATA, bytes at register (CONFIG_ADDRESS & 0xfc)
 * + (offset - 4), any width; all ones / ignored when the enable bit is clear or no function is
 * there (bus other than 0, function other than 0, empty slot). Thread-safe. */
void pci_bus_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

/* Bus handler for the ECAM window (LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE); opaque is the
 * struct pci_bus. Accesses of 1, 2 or 4 bytes naturally aligned; 8 bytes aligned are two
 * 4-byte accesses. Unaligned or other sizes, buses other than 0, functions other than 0, empty
 * slots and registers at or above the function's cfg_size: writes ignored, reads all ones.
 * Thread-safe. */
void pci_bus_ecam(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
