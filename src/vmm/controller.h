/* The VMM control loop (main thread): owns the VM's configuration and lifecycle state, runs
 * the event loop that serves the REST API, the serial console's stdin and the running VM's
 * wake-ups, and turns API requests and guest events (poweroff, reset, failure) into state
 * changes, as Cloud Hypervisor's VMM thread does. */
#ifndef KILN_VMM_CONTROLLER_H
#define KILN_VMM_CONTROLLER_H

#include "vmm/config.h"

/* Runs kiln with the parsed command line: boots cfg's VM when it names a kernel, serves
 * --api-socket when given, and returns when kiln should exit, with its exit status: 0 after
 * a guest poweroff without API or after vmm.shutdown; 1 when the VM failed without API or
 * set-up failed (error printed). cfg is borrowed; the VM configuration in it (if any) is
 * copied. */
int controller_run(const struct vm_config *cfg);

#endif
