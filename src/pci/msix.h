/* MSI-X for a PCI function (PCI Local Bus 3.0 6.8.2): the capability in configuration space,
 * the vector table and the Pending Bit Array in the function's memory BARs.
 *
 * Capability (12 bytes, PCI LB 3.0 6.8.2.1-6.8.2.5):
 *   +0 ID 0x11, +1 Next, +2 Message Control (bits 10:0 Table Size N-1, read-only; bit 14
 *   Function Mask and bit 15 MSI-X Enable, read-write; the rest reserved, 0), +4 Table
 *   Offset/BIR, +8 PBA Offset/BIR (bits 2:0 BAR index, 31:3 QWORD-aligned offset; read-only).
 * Table (6.8.2.6-6.8.2.9): N entries of 16 bytes: +0 Message Address (low 32 bits), +4 Message
 *   Upper Address, +8 Message Data, +12 Vector Control (bit 0 Mask, reset to 1; bits 31:1
 *   reserved, read 0). Reads of any width and offset return the table's bytes. Writes must be
 *   aligned DWORDs or QWORDs (6.8.2: "software must use aligned full DWORD or aligned full
 *   QWORD transactions"); other writes are ignored.
 * PBA (6.8.2.10): ceil(N / 64) QWORDs, bit v = vector v pending; read-only (writes ignored).
 *
 * A vector is masked when MSI-X is disabled, the Function Mask is set or its entry's Mask bit
 * is set. msix_notify() on a masked vector of an enabled function sets its pending bit instead
 * of delivering; when the vector becomes unmasked with its bit set, the bit is cleared and the
 * `fire` callback delivers the message (6.8.2.9).
 *
 * Threading: a mutex per struct msix guards the table, PBA and control bits, so
 * msix_bar_access() (vCPU threads), msix_config_write() (vCPU threads, under the PCI bus
 * mutex: lock order bus, then msix) and msix_notify() (any thread, e.g. a device's I/O thread)
 * may run concurrently. The callbacks run with that mutex held (and for Message Control
 * writes, the bus mutex too): they must not call back into this struct msix or touch PCI
 * configuration space; they may issue KVM ioctls or write eventfds. A message msix_notify()
 * approved (returned true) can reach the guest after a concurrent mask write completes, like a
 * message already posted by real hardware. */
#ifndef KILN_PCI_MSIX_H
#define KILN_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/pci.h"

#define MSIX_MAX_VECTORS 2048 /* Table Size is 11 bits */
#define MSIX_CAP_LEN 12       /* bytes of the capability */

/* Callbacks, called with the msix mutex held (see above). */
struct msix_ops {
	/* Vector `vector` now delivers message (addr, data), or is masked. Called when the
	 * vector's effective state changes: on masking and on unmasking (with the message then in
	 * the table), and when the message of an unmasked vector changes. Changes to a masked
	 * vector's entry are not reported until it is unmasked. The VM updates its KVM GSI route
	 * for the vector here. May be NULL. */
	void (*vector_changed)(void *opaque, unsigned int vector, uint64_t addr, uint32_t data,
			       bool masked);
	/* Deliver `vector` now: it was pending and has just been unmasked (its routing is
	 * already updated by vector_changed). May be NULL (the pending bit is still cleared). */
	void (*fire)(void *opaque, unsigned int vector);
};

/* One table entry as stored (little-endian fields of 6.8.2.6). */
struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/* Last state reported through vector_changed. */
struct msix_reported {
	uint64_t addr;
	uint32_t data;
	bool masked;
};

/* The MSI-X state of one function; embed it next to the struct pci_device. */
struct msix {
	pthread_mutex_t lock;
	struct pci_device *dev;         /* borrowed */
	unsigned int nr_vectors;        /* N, 1..MSIX_MAX_VECTORS */
	uint32_t cap;                   /* capability offset in configuration space */
	unsigned int table_bar, pba_bar;
	uint64_t table_offset, pba_offset; /* bytes into the BARs */
	bool enabled, function_masked;  /* copies of Message Control bits 15 and 14 */
	struct msix_entry *table;       /* N entries, owned (heap) */
	uint64_t *pba;                  /* ceil(N / 64) words, owned (heap) */
	struct msix_reported *reported; /* N, owned (heap) */
	const struct msix_ops *ops;     /* borrowed, may be NULL */
	void *opaque;                   /* for the callbacks, borrowed */
};

/* Table and PBA sizes in bytes for n vectors. */
#define MSIX_TABLE_SIZE(n) ((uint64_t)(n) * PCI_MSIX_ENTRY_SIZE)
#define MSIX_PBA_SIZE(n) ((((uint64_t)(n) + 63) / 64) * 8)

/* Adds the MSI-X capability to `dev` (which must not be on a bus yet) with `nr_vectors`
 * vectors, the table at `table_offset` in BAR `table_bar` and the PBA at `pba_offset` in BAR
 * `pba_bar`, all entries masked, MSI-X disabled. The BARs must be declared memory BARs
 * (pci_set_bar()) large enough; offsets QWORD-aligned; a table and PBA in the same BAR must not
 * overlap. The caller forwards the guest's BAR accesses to msix_bar_access() and Message
 * Control writes (its config_write callback) to msix_config_write(). Returns 0, -EINVAL (bad
 * arguments), -ENOSPC (no room for the capability), -EBUSY (dev already on a bus), -ENOMEM, or
 * -errno from pthread_mutex_init(). On failure nothing needs freeing. */
int msix_init(struct msix *m, struct pci_device *dev, unsigned int nr_vectors,
	      unsigned int table_bar, uint64_t table_offset, unsigned int pba_bar,
	      uint64_t pba_offset, const struct msix_ops *ops, void *opaque)
	__attribute__((warn_unused_result));

/* Frees the table, PBA and mutex. Safe on a zeroed struct. No access may be in flight. */
void msix_destroy(struct msix *m);

/* A guest access of `len` bytes (1..8) at `offset` into BAR `bar`. Returns true when it
 * starts inside the table or PBA (then handled: bytes past the structure's end read 0),
 * false otherwise (the caller handles it). Thread-safe. */
bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t offset, uint8_t *data,
		     unsigned int len, bool is_write);

/* Call from the device's config_write callback (PCI bus mutex held): when the write touched
 * Message Control, takes the new Enable and Function Mask bits, reports vectors whose state
 * changed and fires pending vectors now unmasked. Other offsets are ignored. */
void msix_config_write(struct msix *m, uint32_t offset, unsigned int len);

/* The device wants to signal `vector`. Returns true when the caller should deliver it now
 * (MSI-X enabled, vector unmasked); false when it was masked (pending bit set, delivered on
 * unmask), MSI-X is disabled (nothing recorded: the function would use INTx), or the vector is
 * out of range. Thread-safe. */
bool msix_notify(struct msix *m, unsigned int vector);

/* The current message of `vector` and whether it is masked (as vector_changed would report
 * it). Returns 0, or -EINVAL for a vector out of range. Thread-safe. */
int msix_vector_get(struct msix *m, unsigned int vector, uint64_t *addr, uint32_t *data,
		    bool *masked);

/* Whether the pending bit of `vector` is set (false out of range). Thread-safe. */
bool msix_is_pending(struct msix *m, unsigned int vector);

/* Whether MSI-X Enable is set. Thread-safe. */
bool msix_enabled(struct msix *m);

#endif
