/* Maps an HTTP request to an action of Cloud Hypervisor's REST API (paths under /api/v1 as in
 * vmm/src/api/openapi/cloud-hypervisor.yaml): unknown path → 404, wrong method → 405, an
 * endpoint of the spec kiln does not implement → 501. */
#ifndef KILN_API_ROUTES_H
#define KILN_API_ROUTES_H

#include "api/http.h"

enum api_action {
	API_VMM_PING, API_VMM_SHUTDOWN, API_VM_CREATE, API_VM_BOOT, API_VM_PAUSE, API_VM_RESUME,
	API_VM_SHUTDOWN, API_VM_REBOOT, API_VM_POWER_BUTTON, API_VM_DELETE, API_VM_INFO,
	API_VM_COUNTERS,
};

/* Result of routing: either an action, or a status with a static message. */
struct api_route {
	int status;             /* 0: action is valid; else 400/404/405/501 */
	enum api_action action;
	const char *message;    /* static, for a non-zero status */
};

/* Routes req (method, path; a body where none is taken → 400, a missing body where one is
 * required → 400). Pure function. */
struct api_route api_route(const struct http_request *req);

#endif
