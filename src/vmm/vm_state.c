#include "vmm/vm_state.h"

#include <stddef.h>

const char *vm_state_name(enum vm_state state)
{
	switch (state) {
	case VM_STATE_NONE: return "NotCreated";
	case VM_STATE_CREATED: return "Created";
	case VM_STATE_RUNNING: return "Running";
	case VM_STATE_PAUSED: return "Paused";
	case VM_STATE_SHUTDOWN: return "Shutdown";
	}
	return "Unknown";
}

static int deny(int status, const char *msg, const char **why)
{
	*why = msg;
	return status;
}

int vm_state_check(enum vm_state s, enum vm_action a, enum vm_state *next, const char **why)
{
	*next = s;
	*why = NULL;
	if (s == VM_STATE_NONE && a != VM_ACTION_CREATE && a != VM_ACTION_DELETE)
		return deny(404, "the VM is not created; create it first with PUT vm.create", why);
	switch (a) {
	case VM_ACTION_CREATE:
		if (s != VM_STATE_NONE)
			return deny(405, "a VM is already created; delete it first with PUT vm.delete",
				    why);
		*next = VM_STATE_CREATED;
		return 0;
	case VM_ACTION_BOOT:
		if (s == VM_STATE_RUNNING || s == VM_STATE_PAUSED)
			return deny(405, "the VM is already booted", why);
		*next = VM_STATE_RUNNING;
		return 0;
	case VM_ACTION_PAUSE:
		if (s == VM_STATE_PAUSED)
			return deny(405, "the VM is already paused", why);
		if (s != VM_STATE_RUNNING)
			return deny(405, "the VM is not booted; boot it first with PUT vm.boot", why);
		*next = VM_STATE_PAUSED;
		return 0;
	case VM_ACTION_RESUME:
		if (s != VM_STATE_PAUSED)
			return deny(405, "the VM is not paused", why);
		*next = VM_STATE_RUNNING;
		return 0;
	case VM_ACTION_SHUTDOWN:
		if (s != VM_STATE_RUNNING && s != VM_STATE_PAUSED)
			return deny(405, "the VM is not booted", why);
		*next = VM_STATE_SHUTDOWN;
		return 0;
	case VM_ACTION_REBOOT:
	case VM_ACTION_POWER_BUTTON:
		if (s == VM_STATE_PAUSED)
			return deny(405, "the VM is paused; resume it first with PUT vm.resume", why);
		if (s != VM_STATE_RUNNING)
			return deny(405, "the VM is not booted", why);
		return 0;
	case VM_ACTION_DELETE:
		*next = VM_STATE_NONE;
		return 0;
	case VM_ACTION_INFO:
	case VM_ACTION_COUNTERS:
		return 0;
	}
	return deny(405, "unknown action", why);
}
