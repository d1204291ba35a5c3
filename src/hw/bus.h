/* One dispatcher for port I/O and MMIO exits. Devices register [base, base+len) ranges with
 * a handler; the vCPU loop hands every access to bus_access(). Ranges never overlap. */
#ifndef KILN_HW_BUS_H
#define KILN_HW_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Handles one access of `len` bytes (1, 2, 4 or 8) at `offset` from the range's base.
 * On a read the handler fills data[0..len); unhandled bytes read as 0xff. Called on vCPU
 * threads; a handler serialises access to its own state. */
typedef void (*bus_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			       bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_handler_fn fn;
	void *opaque;   /* borrowed; must outlive the bus */
	const char *name;
};

#define BUS_MAX_RANGES 64

/* A sorted array of ranges; registration happens before vCPUs start, lookups are lock-free. */
struct bus {
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned int nr;
	const char *kind; /* "pio" or "mmio", for messages */
};

/* Adds a range. Returns 0, -EINVAL for len 0 or wrap-around, -EEXIST when it overlaps an
 * existing range, -ENOSPC when the table is full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler_fn fn, void *opaque,
		 const char *name) __attribute__((warn_unused_result));

/* Dispatches an access. Returns true if a device handled it; on false (no device there) a
 * read's data is set to all ones and the caller logs at a rate-limited debug level. */
bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data, unsigned int len,
		bool is_write);

#endif
