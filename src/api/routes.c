#include "api/routes.h"

#include <stdbool.h>
#include <string.h>

#define PREFIX "/api/v1/"

struct endpoint {
	const char *name;
	enum http_method method;
	int action;     /* enum api_action, or -1: in the spec but not implemented (501) */
	bool body;      /* takes a JSON body */
};

static const struct endpoint endpoints[] = {
	{ "vmm.ping", HTTP_GET, API_VMM_PING, false },
	{ "vmm.shutdown", HTTP_PUT, API_VMM_SHUTDOWN, false },
	{ "vm.create", HTTP_PUT, API_VM_CREATE, true },
	{ "vm.boot", HTTP_PUT, API_VM_BOOT, false },
	{ "vm.pause", HTTP_PUT, API_VM_PAUSE, false },
	{ "vm.resume", HTTP_PUT, API_VM_RESUME, false },
	{ "vm.shutdown", HTTP_PUT, API_VM_SHUTDOWN, false },
	{ "vm.reboot", HTTP_PUT, API_VM_REBOOT, false },
	{ "vm.power-button", HTTP_PUT, API_VM_POWER_BUTTON, false },
	{ "vm.delete", HTTP_PUT, API_VM_DELETE, false },
	{ "vm.info", HTTP_GET, API_VM_INFO, false },
	{ "vm.counters", HTTP_GET, API_VM_COUNTERS, false },
	/* In the OpenAPI file, not implemented by kiln yet. */
	{ "vm.balloon-stats", HTTP_GET, -1, false },
	{ "vm.resize", HTTP_PUT, -1, true },
	{ "vm.resize-disk", HTTP_PUT, -1, true },
	{ "vm.resize-zone", HTTP_PUT, -1, true },
	{ "vm.add-device", HTTP_PUT, -1, true },
	{ "vm.remove-device", HTTP_PUT, -1, true },
	{ "vm.add-disk", HTTP_PUT, -1, true },
	{ "vm.add-fs", HTTP_PUT, -1, true },
	{ "vm.add-generic-vhost-user", HTTP_PUT, -1, true },
	{ "vm.add-pmem", HTTP_PUT, -1, true },
	{ "vm.add-net", HTTP_PUT, -1, true },
	{ "vm.add-vsock", HTTP_PUT, -1, true },
	{ "vm.add-vdpa", HTTP_PUT, -1, true },
	{ "vm.add-user-device", HTTP_PUT, -1, true },
	{ "vm.snapshot", HTTP_PUT, -1, true },
	{ "vm.coredump", HTTP_PUT, -1, true },
	{ "vm.nmi", HTTP_PUT, -1, false },
	{ "vm.restore", HTTP_PUT, -1, true },
	{ "vm.receive-migration", HTTP_PUT, -1, true },
	{ "vm.send-migration", HTTP_PUT, -1, true },
};

static struct api_route deny(int status, const char *message)
{
	return (struct api_route){ .status = status, .message = message };
}

struct api_route api_route(const struct http_request *req)
{
	const char *name;

	if (strncmp(req->path, PREFIX, strlen(PREFIX)))
		return deny(404, "not found: kiln's API lives under /api/v1/");
	name = req->path + strlen(PREFIX);
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		const struct endpoint *e = &endpoints[i];

		if (strcmp(e->name, name))
			continue;
		if (req->method != e->method)
			return deny(405, e->method == HTTP_GET ? "method not allowed: use GET"
							       : "method not allowed: use PUT");
		if (e->action < 0)
			return deny(501, "not implemented by kiln yet");
		if (e->body && req->body_len == 0)
			return deny(400, "this request needs a JSON body");
		if (!e->body && req->body_len > 0)
			return deny(400, "this request takes no body");
		return (struct api_route){ .status = 0, .action = (enum api_action)e->action };
	}
	return deny(404, "not found: no such endpoint in Cloud Hypervisor's API");
}
