/* One thread runs everything here; API handlers act on the VM synchronously (boot builds the
 * VM and starts its vCPU threads, shutdown joins them), so the state seen by the next
 * request is always settled. */
#include "vmm/controller.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/routes.h"
#include "api/server.h"
#include "api/vmconfig_json.h"
#include "util/log.h"
#include "vmm/console.h"
#include "vmm/event_monitor.h"
#include "vmm/vm.h"
#include "vmm/vm_state.h"

struct controller {
	const struct vm_config *opts;  /* the command line (process options), borrowed */
	struct vmm vmm;
	struct vm_config vm_cfg;       /* the VM's configuration, valid unless state NONE */
	enum vm_state state;
	struct vm vm;                  /* built while RUNNING or PAUSED */
	struct api_server *api;
	struct event_monitor events;
	bool quit;
	int exit_status;
	unsigned int boots;
};

static void emit(struct controller *c, const char *source, const char *event)
{
	event_monitor_emit(&c->events, source, event);
}

/* Builds the VM from vm_cfg and starts it (state -> RUNNING). Returns 0 or -errno (message
 * printed; state unchanged). */
static int boot_vm(struct controller *c)
{
	int r;

	if (!c->vmm.cfg) {
		r = vmm_configure(&c->vmm, &c->vm_cfg);
		if (r)
			return r;
	}
	r = vm_create(&c->vm, &c->vmm);
	if (r)
		return r;
	c->boots++;
	log_info("vm", "boot %u: %u vCPU(s), %llu MiB", c->boots, c->vm_cfg.boot_vcpus,
		 (unsigned long long)(c->vm_cfg.memory_size >> 20));
	if (c->vm_cfg.serial == OUTPUT_TTY || c->vm_cfg.console == OUTPUT_TTY)
		console_raw_mode();
	r = vm_start(&c->vm);
	if (r) {
		vm_destroy(&c->vm);
		return r;
	}
	c->state = VM_STATE_RUNNING;
	return 0;
}

/* Stops and releases the running VM (state -> SHUTDOWN). */
static void stop_vm(struct controller *c)
{
	if (c->state != VM_STATE_RUNNING && c->state != VM_STATE_PAUSED)
		return;
	vm_request_exit(&c->vm, VM_EXIT_POWEROFF);
	vm_destroy(&c->vm);
	host_quirks_reset_vm(&c->vmm.quirks);
	c->state = VM_STATE_SHUTDOWN;
	console_restore();
}

/* Without an API there is nothing to return to once the VM is down: kiln exits. */
static void vm_down(struct controller *c, int status)
{
	if (!c->api) {
		c->quit = true;
		c->exit_status = status;
	}
}

static void reboot_vm(struct controller *c)
{
	emit(c, "vm", "rebooting");
	vm_destroy(&c->vm);
	host_quirks_reset_vm(&c->vmm.quirks);
	c->state = VM_STATE_SHUTDOWN;
	log_info("vm", "rebooting: building a new VM with the same payload");
	if (boot_vm(c)) {
		emit(c, "vm", "shutdown");
		vm_down(c, 1);
		return;
	}
	emit(c, "vm", "rebooted");
}

/* The running VM stopped by itself (guest poweroff, reset, failure). */
static void handle_vm_exit(struct controller *c, enum vm_exit why)
{
	if (why == VM_EXIT_RESET) {
		reboot_vm(c);
		return;
	}
	vm_destroy(&c->vm);
	host_quirks_reset_vm(&c->vmm.quirks);
	c->state = VM_STATE_SHUTDOWN;
	console_restore();
	emit(c, "vm", "shutdown");
	vm_down(c, why == VM_EXIT_POWEROFF ? 0 : 1);
}

/* ---- API handlers ---- */

static void respond(struct api_response *resp, int status, const char *type, char *body)
{
	resp->status = status;
	resp->content_type = type;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

static void respond_msg(struct api_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void respond_msg(struct api_response *resp, int status, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg) { /* one line, as a terminal shows it best */
		char *line = NULL;
		if (asprintf(&line, "%s\n", msg) >= 0) {
			free(msg);
			msg = line;
		}
	}
	respond(resp, status, "text/plain", msg);
}

static char *ping_json(void)
{
	char *s = NULL;

	if (asprintf(&s, "{\"build_version\":\"kiln v%s\",\"version\":\"%s\",\"pid\":%ld,"
		     "\"features\":[\"kvm\"]}", KILN_VERSION, KILN_VERSION, (long)getpid()) < 0)
		return NULL;
	return s;
}

static char *info_json(const struct controller *c)
{
	char *cfg = vmconfig_to_json(&c->vm_cfg), *s = NULL;

	if (!cfg)
		return NULL;
	if (asprintf(&s, "{\"config\":%s,\"state\":\"%s\",\"memory_actual_size\":%llu,"
		     "\"device_tree\":{}}", cfg, vm_state_name(c->state),
		     (unsigned long long)c->vm_cfg.memory_size) < 0)
		s = NULL;
	free(cfg);
	return s;
}

static void do_create(struct controller *c, const struct http_request *req,
		      struct api_response *resp)
{
	struct vm_config cfg;
	char err[256];
	int r = vmconfig_from_json(req->body, req->body_len, &cfg, err, sizeof(err));

	if (r == -ENOMEM) {
		respond_msg(resp, 500, "out of memory");
		return;
	}
	if (r) {
		respond_msg(resp, 400, "invalid VmConfig: %s", err);
		return;
	}
	cfg.host_quirks = c->opts->host_quirks;
	cfg.verbosity = c->opts->verbosity;
	c->vm_cfg = cfg;
	c->state = VM_STATE_CREATED;
	emit(c, "vm", "created");
	respond(resp, 204, NULL, NULL);
}

static void delete_vm(struct controller *c)
{
	stop_vm(c);
	vmm_unconfigure(&c->vmm);
	if (c->state != VM_STATE_NONE)
		config_free(&c->vm_cfg);
	c->state = VM_STATE_NONE;
}

static enum vm_action to_vm_action(enum api_action a)
{
	switch (a) {
	case API_VM_CREATE: return VM_ACTION_CREATE;
	case API_VM_BOOT: return VM_ACTION_BOOT;
	case API_VM_PAUSE: return VM_ACTION_PAUSE;
	case API_VM_RESUME: return VM_ACTION_RESUME;
	case API_VM_SHUTDOWN: return VM_ACTION_SHUTDOWN;
	case API_VM_REBOOT: return VM_ACTION_REBOOT;
	case API_VM_POWER_BUTTON: return VM_ACTION_POWER_BUTTON;
	case API_VM_DELETE: return VM_ACTION_DELETE;
	case API_VM_COUNTERS: return VM_ACTION_COUNTERS;
	default: return VM_ACTION_INFO;
	}
}

static void handle_vm_action(struct controller *c, enum api_action a,
			     const struct http_request *req, struct api_response *resp)
{
	enum vm_state next;
	const char *why;
	int status = vm_state_check(c->state, to_vm_action(a), &next, &why);
	int r;

	if (status) {
		respond_msg(resp, status, "%s (VM state: %s)", why, vm_state_name(c->state));
		return;
	}
	switch (a) {
	case API_VM_CREATE:
		do_create(c, req, resp);
		return;
	case API_VM_BOOT:
		emit(c, "vm", "booting");
		r = boot_vm(c);
		if (r) {
			respond_msg(resp, 500, "cannot boot the VM: %s (see kiln's log for details)",
				    strerror(-r));
			return;
		}
		emit(c, "vm", "booted");
		break;
	case API_VM_PAUSE:
		emit(c, "vm", "pausing");
		r = vm_pause(&c->vm);
		if (r) {
			respond_msg(resp, 500, "cannot pause the VM: %s", strerror(-r));
			return;
		}
		c->state = VM_STATE_PAUSED;
		emit(c, "vm", "paused");
		break;
	case API_VM_RESUME:
		emit(c, "vm", "resuming");
		vm_resume(&c->vm);
		c->state = VM_STATE_RUNNING;
		emit(c, "vm", "resumed");
		break;
	case API_VM_SHUTDOWN:
		stop_vm(c);
		emit(c, "vm", "shutdown");
		break;
	case API_VM_REBOOT:
		vm_request_exit(&c->vm, VM_EXIT_RESET);
		reboot_vm(c);
		if (c->state != VM_STATE_RUNNING) {
			respond_msg(resp, 500, "the VM did not come back after the reboot (see kiln's "
				    "log)");
			return;
		}
		break;
	case API_VM_POWER_BUTTON:
		r = vm_power_button(&c->vm);
		if (r) {
			respond_msg(resp, 500, "cannot press the power button: %s", strerror(-r));
			return;
		}
		break;
	case API_VM_DELETE:
		delete_vm(c);
		emit(c, "vm", "deleted");
		break;
	case API_VM_INFO:
		respond(resp, 200, "application/json", info_json(c));
		if (!resp->body)
			respond_msg(resp, 500, "out of memory");
		return;
	case API_VM_COUNTERS:
		/* Per-device counters: kiln has no device with counters yet (virtio devices
		 * come with the devices issue), so the map is empty. */
		respond(resp, 200, "application/json", strdup("{}"));
		return;
	default:
		break;
	}
	respond(resp, 204, NULL, NULL);
}

static void api_handler(void *opaque, const struct http_request *req, struct api_response *resp)
{
	struct controller *c = opaque;
	struct api_route route = api_route(req);

	if (route.status) {
		respond_msg(resp, route.status, "%s", route.message);
		return;
	}
	switch (route.action) {
	case API_VMM_PING:
		respond(resp, 200, "application/json", ping_json());
		if (!resp->body)
			respond_msg(resp, 500, "out of memory");
		return;
	case API_VMM_SHUTDOWN:
		delete_vm(c);
		c->quit = true;
		c->exit_status = 0;
		respond(resp, 204, NULL, NULL);
		return;
	default:
		handle_vm_action(c, route.action, req, resp);
	}
}

/* ---- event loop ---- */

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void loop(struct controller *c)
{
	while (!c->quit) {
		struct pollfd p[3];
		int n = 0, i_api = -1, i_wake = -1, i_in = -1, timeout = -1;
		bool live = c->state == VM_STATE_RUNNING || c->state == VM_STATE_PAUSED;

		if (c->api) {
			i_api = n;
			p[n++] = (struct pollfd){ .fd = api_server_fd(c->api), .events = POLLIN };
			timeout = api_server_timeout_ms(c->api);
		}
		if (live) {
			i_wake = n;
			p[n++] = (struct pollfd){ .fd = c->vm.wake_fd, .events = POLLIN };
			if (vm_wants_stdin(&c->vm)) {
				i_in = n;
				p[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
			}
			timeout = min_timeout(timeout, vm_poll_timeout_ms(&c->vm));
		}
		int k = poll(p, (nfds_t)n, timeout);
		if (k < 0 && errno != EINTR) {
			log_error("vmm", "poll failed: %s", strerror(errno));
			c->quit = true;
			c->exit_status = 1;
			break;
		}
		if (live) {
			vm_service(&c->vm, k > 0 && (p[i_wake].revents & POLLIN),
				   i_in >= 0 && k > 0 && (p[i_in].revents & (POLLIN | POLLHUP | POLLERR)),
				   k == 0);
			enum vm_exit why = vm_exit_reason(&c->vm);
			if (why != VM_EXIT_NONE)
				handle_vm_exit(c, why);
		}
		if (c->api && !c->quit && (k == 0 || (k > 0 && p[i_api].revents)))
			api_server_dispatch(c->api);
	}
}

int controller_run(const struct vm_config *opts)
{
	struct controller c = { .opts = opts, .state = VM_STATE_NONE, .exit_status = 1 };
	int r;

	if (event_monitor_open(&c.events, opts->event_monitor_path, opts->event_monitor_fd))
		return 1;
	emit(&c, "vmm", "starting");
	/* The socket first: clients may connect while /dev/kvm is opened and probed (they are
	 * served once the loop runs). */
	if (config_has_api(opts)) {
		r = api_server_open(&c.api, opts->api_socket_path, opts->api_socket_fd, api_handler,
				    &c);
		if (r)
			goto out_events;
	}
	if (vmm_init(&c.vmm, opts->host_quirks))
		goto out_api_only;
	if (opts->kernel) {
		if (config_copy_vm(&c.vm_cfg, opts)) {
			log_error("vmm", "out of memory");
			goto out_api;
		}
		c.state = VM_STATE_CREATED;
		emit(&c, "vm", "booting");
		if (boot_vm(&c)) {
			if (!c.api)
				goto out_api;
		} else {
			emit(&c, "vm", "booted");
		}
	}
	loop(&c);
out_api:
	delete_vm(&c);
	vmm_cleanup(&c.vmm);
out_api_only:
	api_server_close(c.api);
out_events:
	emit(&c, "vmm", "shutdown");
	event_monitor_close(&c.events);
	console_restore();
	return c.quit ? c.exit_status : 1;
}
