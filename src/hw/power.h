/* Power events a device raises toward the VM (ACPI sleep/reset registers, i8042 reset line). */
#ifndef KILN_HW_POWER_H
#define KILN_HW_POWER_H

enum power_event {
	POWER_EVENT_OFF = 1,   /* guest asked for S5 (poweroff) */
	POWER_EVENT_RESET = 2, /* guest asked for a reset (reboot) */
};

/* Called on a vCPU thread; must only record the request and kick vCPUs, never block. */
typedef void (*power_event_fn)(void *opaque, enum power_event ev);

/* Sets an interrupt line: level 1 asserts, 0 deasserts (KVM_IRQ_LINE semantics). */
typedef void (*irq_line_fn)(void *opaque, unsigned int irq, int level);

#endif
