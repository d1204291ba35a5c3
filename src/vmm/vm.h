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
#include "hw/i8042.h"
#include "hw/serial.h"
#include "kvm/kvm.h"
#include "quirks/emulated_host.h"
#include "util/guest_mem.h"
#include "vmm/config.h"
#include "vmm/cpu_features.h"

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
	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	struct boot_entry entry;
	int wake_fd;                     /* eventfd: a vCPU asks the main thread to look */
	atomic_int exit;                 /* enum vm_exit, first writer wins */
	atomic_bool stopping;            /* vCPU threads must leave KVM_RUN */
};

/* Sets up everything that lives across reboots: opens /dev/kvm, detects host quirks, builds
 * the feature mask and command line, opens serial output.
 * Returns 0, or -errno after printing one clear error line. */
int vmm_init(struct vmm *vmm, const struct vm_config *cfg) __attribute__((warn_unused_result));
void vmm_cleanup(struct vmm *vmm);

/* Builds a VM (memory, payload read from its files, ACPI, devices, vCPUs) without running it. Returns 0, or
 * -errno after printing one clear error line; on error everything built is released. */
int vm_create(struct vm *vm, struct vmm *vmm) __attribute__((warn_unused_result));

/* Starts the vCPU threads and serves the console until the VM stops. Returns why. */
enum vm_exit vm_run(struct vm *vm);

/* Releases a created VM (after vm_run or instead of it). */
void vm_destroy(struct vm *vm);

/* Records why the VM stops (first call wins) and makes every vCPU leave KVM_RUN. Safe from
 * any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit why);

#endif
