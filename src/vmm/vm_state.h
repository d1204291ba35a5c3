/* The VM lifecycle state machine of Cloud Hypervisor's REST API (VmState in
 * vmm/src/api/openapi/cloud-hypervisor.yaml), kept apart from the code that acts on it so
 * the rules can be tested alone. */
#ifndef KILN_VMM_VM_STATE_H
#define KILN_VMM_VM_STATE_H

enum vm_state {
	VM_STATE_NONE,     /* no VM: before vm.create, after vm.delete */
	VM_STATE_CREATED,  /* configured, never booted */
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_SHUTDOWN, /* booted once, now stopped; vm.boot starts it again */
};

enum vm_action {
	VM_ACTION_CREATE, VM_ACTION_BOOT, VM_ACTION_PAUSE, VM_ACTION_RESUME, VM_ACTION_SHUTDOWN,
	VM_ACTION_REBOOT, VM_ACTION_POWER_BUTTON, VM_ACTION_DELETE, VM_ACTION_INFO,
	VM_ACTION_COUNTERS,
};

/* Whether `action` is allowed in `state`. Returns 0 with *next set to the state it leads to,
 * or the HTTP status the API answers with (404: no VM; 405: not allowed in this state, as
 * the OpenAPI file lists them) and *why set to a static sentence saying what is wrong. */
int vm_state_check(enum vm_state state, enum vm_action action, enum vm_state *next,
		   const char **why);

/* "Created", "Running", "Paused", "Shutdown" (VmState); "NotCreated" for VM_STATE_NONE. */
const char *vm_state_name(enum vm_state state);

#endif
