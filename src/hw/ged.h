/* Generic Event Device (ACPI 6.4 5.6.9): how a hardware-reduced platform signals events, here
 * only the power button, as Cloud Hypervisor does. The DSDT (arch/x86_64/acpi.c) declares
 * \_SB.GED_ (_HID "ACPI0013") with this device's interrupt in _CRS and an _EVT method that
 * reads the status register and, for GED_EVENT_POWER_BUTTON, does Notify(\_SB.PWRB, 0x80) on
 * the PNP0C0C control-method power button; Linux's evged.c runs _EVT on the interrupt and its
 * button driver turns the notification into KEY_POWER.
 *
 * Register block (MMIO, LAYOUT_GED_SIZE bytes at LAYOUT_GED_ADDR), little-endian:
 *   offset 0, 32 bits: event status, read-to-clear. A read returns the events raised since the
 *     previous read and clears exactly the bits it returned, atomically with respect to
 *     ged_power_button(): an event raised concurrently is either in this read's value or left
 *     pending for the next one, never lost. A narrower or unaligned access sees the bytes of
 *     the register that it overlaps (bytes outside offsets 0-3 read 0) and clears only the bits
 *     in those bytes.
 *   everything else: reads 0.
 *   Writes, at any offset and of any size, are ignored (the register is not write-to-clear, so
 *   ASL's "Field ..., WriteAsZeros" or a stray store cannot lose an event).
 * Accesses of 1 to 8 bytes at any offset are handled; other sizes are ignored. */
#ifndef KILN_HW_GED_H
#define KILN_HW_GED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/power.h"

#define GED_REG_EVENT_STATUS 0x0       /* offset of the event status register */
#define GED_REG_EVENT_STATUS_LEN 4     /* bytes */
#define GED_EVENT_POWER_BUTTON (1u << 0) /* _EVT does Notify(\_SB.PWRB, 0x80) */

/* One GED, embedded in struct vm (no heap state); initialise with ged_init(). */
struct ged {
	pthread_mutex_t lock;     /* protects pending and serialises the line pulses */
	uint32_t pending;         /* GED_EVENT_* raised and not yet read by the guest */
	unsigned int irq;         /* IOAPIC GSI, declared edge-triggered active-high in _CRS */
	irq_line_fn irq_fn;       /* may be NULL (no interrupt: the unit tests' register checks) */
	void *irq_opaque;         /* borrowed */
};

/* Initialises a GED with no pending event. irq_fn(irq_opaque, irq, level) drives the interrupt
 * line; it must be callable from any thread. The struct holds no resources besides a default
 * mutex, so there is nothing to release (a reboot builds a new VM and initialises it again). */
void ged_init(struct ged *g, unsigned int irq, irq_line_fn irq_fn, void *irq_opaque);

/* Raises the power-button event: sets GED_EVENT_POWER_BUTTON in the status register, then
 * pulses the interrupt line (level 1, then 0: a rising edge for the edge-triggered IOAPIC pin).
 * Every call pulses, even when the event is still pending, so an edge the guest missed (pin
 * masked before its driver was ready) is made up by the next press. Thread-safe: callable from
 * any thread (the API thread) while vCPU threads access the registers. Returns 0, or -EINVAL
 * when g is NULL. */
int ged_power_button(struct ged *g);

/* Bus handler for the register block (offset from LAYOUT_GED_ADDR, see above). Thread-safe. */
void ged_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
