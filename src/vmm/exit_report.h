/* The report printed when a VM fails: exit reason, RIP, CPL, CPU mode and the instruction
 * bytes (from KVM's emulation-failure data, else read through the guest's page tables). */
#ifndef KILN_VMM_EXIT_REPORT_H
#define KILN_VMM_EXIT_REPORT_H

#include "kvm/kvm.h"
#include "util/guest_mem.h"

/* Name of a KVM_EXIT_* reason ("KVM_EXIT_SHUTDOWN (triple fault)"), static string. */
const char *exit_reason_name(unsigned int reason);

/* Prints the report for the vCPU's current exit as error lines on stderr. */
void exit_report(struct kvm_vcpu *v, const struct guest_mem *m);

#endif
