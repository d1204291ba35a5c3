/* vCPU threads: one per vCPU, each running KVM_RUN and dispatching exits (port I/O and MMIO
 * to the VM's buses; failures to a report and VM_EXIT_FATAL). */
#ifndef KILN_VMM_VCPU_H
#define KILN_VMM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kvm/kvm.h"

struct vm;

struct vcpu {
	struct vm *vm;           /* borrowed */
	struct kvm_vcpu kvm;
	pthread_t thread;
	bool started;
	atomic_bool dump_requested; /* print registers at the next KVM_RUN exit */
};

/* Installs the SIGUSR1 handler used to kick vCPU threads out of KVM_RUN (once per process). */
int vcpu_signals_init(void) __attribute__((warn_unused_result));

/* Creates vCPU `id` in KVM with its CPUID, MSRs and (for id 0) boot registers. */
int vcpu_create(struct vcpu *c, struct vm *vm, unsigned int id) __attribute__((warn_unused_result));

/* Starts the thread running the vCPU. */
int vcpu_start(struct vcpu *c) __attribute__((warn_unused_result));

/* Makes the vCPU leave KVM_RUN soon (signal + immediate_exit). */
void vcpu_kick(struct vcpu *c);

/* Asks the vCPU to log its registers (RIP, RSP, CPL...) at warning level; for SIGUSR2. */
void vcpu_request_dump(struct vcpu *c);

/* Joins the thread (after vm->stopping is set and the vCPU kicked) and closes the fds. */
void vcpu_destroy(struct vcpu *c);

#endif
