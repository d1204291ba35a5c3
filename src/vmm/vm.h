/* A VM instance: guest memory, the KVM VM, legacy devices, loaded payload and vCPU threads.
 * A guest reboot destroys the instance and builds a new one from the same configuration
 * (as Cloud Hypervisor does), so no device state survives a reset by construction. */
#ifndef KILN_VMM_VM_H
#define KILN_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "boot/loader.h"
#include "hw/acpi_pm.h"
#include "hw/bus.h"
#include "hw/cmos.h"
#include "hw/ged.h"
#include "hw/i8042.h"
#include "hw/serial.h"
#include "kvm/kvm.h"
#include "quirks/emulated_host.h"
#include "util/guest_mem.h"
#include "vmm/config.h"
#include "vmm/cpu_features.h"
#include "vmm/vm_devices.h"

/* Why a VM stopped running. */
enum vm_exit {
	VM_EXIT_NONE = 0,
	VM_EXIT_POWEROFF, /* guest powered off: kiln exits 0 */
	VM_EXIT_RESET,    /* guest rebooted: kiln builds a new VM */
	VM_EXIT_FATAL,    /* the VM failed (report printed): kiln exits 1 */
};

struct vcpu;

/* What outlives one VM instance: configuration, host facts, command line, output fds. */
struct vmm {
	const struct vm_config *cfg;     /* borrowed */
	struct kvm_sys sys;
	struct kvm_cpuid2 *supported_cpuid; /* owned */
	struct host_quirks quirks;
	struct cpu_mask mask;            /* features hidden from the guest */
	char *cmdline;                   /* final guest command line, owned */
	int serial_out_fd;               /* -1 when discarded */
	bool serial_in;                  /* stdin feeds the UART */
	int console_out_fd;              /* virtio-console output, -1 when discarded */
	bool console_in;                 /* stdin feeds virtio-console (--console tty) */
};

struct vm {
	struct vmm *vmm;                 /* borrowed */
	struct kvm_vm kvm;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct serial *serial;
	struct i8042 i8042;
	struct cmos cmos;
	struct acpi_pm acpi_pm;
	struct ged ged;                  /* power button (Generic Event Device) */
	struct vm_devices devices;       /* PCI segment, virtio devices, device thread */
	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	struct boot_entry entry;
	int wake_fd;                     /* eventfd: a vCPU asks the main thread to look */
	atomic_int exit;                 /* enum vm_exit, first writer wins */
	atomic_bool stopping;            /* vCPU threads must leave KVM_RUN */
	bool stdin_open;                 /* host stdin feeds the UART (main thread only) */
	/* Pause: vCPU threads park in vm_vcpu_park() while pause_requested is set. */
	atomic_bool pause_requested;
	pthread_mutex_t pause_lock;      /* guards parked; pause_cond signals both ways */
	pthread_cond_t pause_cond;
	unsigned int parked;             /* vCPU threads currently parked */
};

/* Sets up what lives as long as the process: opens /dev/kvm, reads KVM's supported CPUID,
 * detects host quirks (mode from --host-quirks). Returns 0, or -errno after printing one
 * clear error line. */
int vmm_init(struct vmm *vmm, enum quirks_mode quirks) __attribute__((warn_unused_result));

/* Prepares a VM configuration for booting (any number of times, across reboots): the
 * feature mask, the final guest command line, the serial output. cfg is borrowed and must
 * outlive the configuration (until vmm_unconfigure / the next vmm_configure).
 * Returns 0, or -errno after printing one clear error line (nothing kept then). */
int vmm_configure(struct vmm *vmm, const struct vm_config *cfg)
	__attribute__((warn_unused_result));

/* Releases what vmm_configure() set up; safe to call when nothing is configured. */
void vmm_unconfigure(struct vmm *vmm);

/* vmm_unconfigure() and the process-wide state. */
void vmm_cleanup(struct vmm *vmm);

/* Builds a VM (memory, payload read from its files, ACPI, devices, vCPUs) without running it. Returns 0, or
 * -errno after printing one clear error line; on error everything built is released. */
int vm_create(struct vm *vm, struct vmm *vmm) __attribute__((warn_unused_result));

/* Starts the vCPU threads. Returns 0, or -errno (the VM is then marked VM_EXIT_FATAL). */
int vm_start(struct vm *vm) __attribute__((warn_unused_result));

/* The main thread's share of a running VM, for an event loop that also does other work:
 * poll vm->wake_fd (always) and stdin (when vm_wants_stdin()) with vm_poll_timeout_ms()
 * (ms, -1 = none), then call vm_service() with what was ready and whether the poll timed
 * out. Stops when vm_exit_reason() != VM_EXIT_NONE. */
bool vm_wants_stdin(const struct vm *vm);
int vm_poll_timeout_ms(const struct vm *vm);
void vm_service(struct vm *vm, bool wake, bool stdin_ready, bool timed_out);
enum vm_exit vm_exit_reason(const struct vm *vm);

/* vm_start() plus a loop of the above until the VM stops; returns why (no API). */
enum vm_exit vm_run(struct vm *vm);

/* Pauses a started VM: every vCPU thread leaves KVM_RUN and parks, so no guest instruction
 * runs until vm_resume(); stdin is not read meanwhile. Returns when all vCPUs are parked:
 * 0, -EALREADY if already paused, -ETIMEDOUT if some vCPU did not stop within 5 s (the VM
 * is resumed then). Main thread only. */
int vm_pause(struct vm *vm) __attribute__((warn_unused_result));

/* Lets parked vCPUs run again. Returns 0, or -EALREADY if not paused. Main thread only. */
int vm_resume(struct vm *vm);

/* Called by a vCPU thread that saw pause_requested: blocks until resumed or stopping. */
void vm_vcpu_park(struct vm *vm);

/* Releases a created VM (after vm_run or instead of it). */
void vm_destroy(struct vm *vm);

/* Records why the VM stops (first call wins) and makes every vCPU leave KVM_RUN. Safe from
 * any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit why);

/* Presses the ACPI power button (PUT /api/v1/vm.power-button): raises the GED power-button
 * event and its interrupt; a guest with an ACPI button driver then shuts down on its own
 * (kiln exits through the usual S5 poweroff). Callable from any thread while the VM runs (or
 * is paused: the event waits in the GED and the interrupt in the vCPU's local APIC until it
 * resumes); vm must be created and not yet destroyed for the whole call. Returns 0, -EINVAL for a NULL
 * vm, -ESHUTDOWN when the VM is already stopping (nothing is raised then). */
int vm_power_button(struct vm *vm);

#endif
