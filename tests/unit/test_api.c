/* REST API pieces that need no socket: routing (paths, methods, bodies → action or
 * 400/404/405/501), the VM state machine (every action in every state, with Cloud
 * Hypervisor's 404/405), and VmConfig JSON → configuration (required fields, wrong types,
 * out-of-range sizes, unknown and unsupported fields, round trip). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "api/vmconfig_json.h"
#include "vmm/vm_state.h"

static struct api_route route(enum http_method m, const char *path, const char *body)
{
	struct http_request req = { .method = m, .body = body, .body_len = body ? strlen(body) : 0 };

	strncpy(req.path, path, sizeof(req.path) - 1);
	return api_route(&req);
}

static void test_routes(void **state)
{
	static const struct {
		enum http_method m;
		const char *path;
		const char *body;
		int status;
		enum api_action action;
	} cases[] = {
		{ HTTP_GET, "/api/v1/vmm.ping", NULL, 0, API_VMM_PING },
		{ HTTP_PUT, "/api/v1/vmm.shutdown", NULL, 0, API_VMM_SHUTDOWN },
		{ HTTP_PUT, "/api/v1/vm.create", "{}", 0, API_VM_CREATE },
		{ HTTP_PUT, "/api/v1/vm.boot", NULL, 0, API_VM_BOOT },
		{ HTTP_PUT, "/api/v1/vm.pause", NULL, 0, API_VM_PAUSE },
		{ HTTP_PUT, "/api/v1/vm.resume", NULL, 0, API_VM_RESUME },
		{ HTTP_PUT, "/api/v1/vm.shutdown", NULL, 0, API_VM_SHUTDOWN },
		{ HTTP_PUT, "/api/v1/vm.reboot", NULL, 0, API_VM_REBOOT },
		{ HTTP_PUT, "/api/v1/vm.power-button", NULL, 0, API_VM_POWER_BUTTON },
		{ HTTP_PUT, "/api/v1/vm.delete", NULL, 0, API_VM_DELETE },
		{ HTTP_GET, "/api/v1/vm.info", NULL, 0, API_VM_INFO },
		{ HTTP_GET, "/api/v1/vm.counters", NULL, 0, API_VM_COUNTERS },
		{ HTTP_GET, "/api/v1/vm.boot", NULL, 405, 0 },
		{ HTTP_PUT, "/api/v1/vmm.ping", NULL, 405, 0 },
		{ HTTP_POST, "/api/v1/vm.create", "{}", 405, 0 },
		{ HTTP_OTHER, "/api/v1/vm.info", NULL, 405, 0 },
		{ HTTP_PUT, "/api/v1/vm.create", NULL, 400, 0 },
		{ HTTP_PUT, "/api/v1/vm.boot", "{}", 400, 0 },
		{ HTTP_GET, "/api/v1/vm.nope", NULL, 404, 0 },
		{ HTTP_GET, "/api/v2/vmm.ping", NULL, 404, 0 },
		{ HTTP_GET, "/", NULL, 404, 0 },
		{ HTTP_GET, "/api/v1/", NULL, 404, 0 },
		{ HTTP_GET, "/api/v1/vmm.ping/", NULL, 404, 0 },
		{ HTTP_PUT, "/api/v1/vm.snapshot", "{}", 501, 0 },
		{ HTTP_PUT, "/api/v1/vm.add-disk", "{}", 501, 0 },
		{ HTTP_GET, "/api/v1/vm.balloon-stats", NULL, 501, 0 },
		{ HTTP_PUT, "/api/v1/vm.nmi", NULL, 501, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_route r = route(cases[i].m, cases[i].path, cases[i].body);

		if (r.status != cases[i].status)
			print_error("case %zu (%s): status %d\n", i, cases[i].path, r.status);
		assert_int_equal(r.status, cases[i].status);
		if (r.status == 0)
			assert_int_equal(r.action, cases[i].action);
		else
			assert_non_null(r.message);
	}
}

/* The expected outcome of every action in every state: 0 = allowed (next state given). */
static void test_state_machine(void **state)
{
	enum { N = VM_STATE_SHUTDOWN + 1 };
	static const struct {
		enum vm_action a;
		int status[N];     /* NONE, CREATED, RUNNING, PAUSED, SHUTDOWN */
		enum vm_state next[N];
	} t[] = {
		{ VM_ACTION_CREATE, { 0, 405, 405, 405, 405 }, { VM_STATE_CREATED } },
		{ VM_ACTION_BOOT, { 404, 0, 405, 405, 0 },
		  { 0, VM_STATE_RUNNING, 0, 0, VM_STATE_RUNNING } },
		{ VM_ACTION_PAUSE, { 404, 405, 0, 405, 405 }, { 0, 0, VM_STATE_PAUSED } },
		{ VM_ACTION_RESUME, { 404, 405, 405, 0, 405 }, { 0, 0, 0, VM_STATE_RUNNING } },
		{ VM_ACTION_SHUTDOWN, { 404, 405, 0, 0, 405 },
		  { 0, 0, VM_STATE_SHUTDOWN, VM_STATE_SHUTDOWN } },
		{ VM_ACTION_REBOOT, { 404, 405, 0, 405, 405 }, { 0, 0, VM_STATE_RUNNING } },
		{ VM_ACTION_POWER_BUTTON, { 404, 405, 0, 405, 405 }, { 0, 0, VM_STATE_RUNNING } },
		{ VM_ACTION_DELETE, { 0, 0, 0, 0, 0 }, { 0 } },
		{ VM_ACTION_INFO, { 404, 0, 0, 0, 0 },
		  { 0, VM_STATE_CREATED, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_SHUTDOWN } },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (int s = 0; s < N; s++) {
			enum vm_state next;
			const char *why;
			int r = vm_state_check((enum vm_state)s, t[i].a, &next, &why);

			if (r != t[i].status[s])
				print_error("action %d in %s: %d\n", t[i].a,
					    vm_state_name((enum vm_state)s), r);
			assert_int_equal(r, t[i].status[s]);
			if (r)
				assert_non_null(why);
			else
				assert_int_equal(next, t[i].next[s]);
		}
	assert_string_equal(vm_state_name(VM_STATE_PAUSED), "Paused");
	assert_string_equal(vm_state_name(VM_STATE_SHUTDOWN), "Shutdown");
}

static char err[256];

static int parse(const char *json, struct vm_config *cfg)
{
	return vmconfig_from_json(json, strlen(json), cfg, err, sizeof(err));
}

static void test_vmconfig_good(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse("{\"payload\":{\"kernel\":\"/k\",\"initramfs\":\"/i\","
			       "\"cmdline\":\"console=ttyS0\"},\"cpus\":{\"boot_vcpus\":2,"
			       "\"max_vcpus\":4},\"memory\":{\"size\":268435456,\"thp\":true},"
			       "\"serial\":{\"mode\":\"File\",\"file\":\"/tmp/s\"},"
			       "\"console\":{\"mode\":\"Off\"},\"disks\":[],\"rng\":null,"
			       "\"iommu\":false}", &cfg), 0);
	assert_string_equal(cfg.kernel, "/k");
	assert_string_equal(cfg.initramfs, "/i");
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_int_equal(cfg.boot_vcpus, 2);
	assert_int_equal(cfg.max_vcpus, 4);
	assert_int_equal(cfg.memory_size, 256ull << 20);
	assert_int_equal(cfg.serial, OUTPUT_FILE);
	assert_string_equal(cfg.serial_file, "/tmp/s");
	assert_int_equal(cfg.console, OUTPUT_OFF);
	assert_int_equal(cfg.nr_disks, 0);

	/* Round trip through vm.info's serialisation. */
	char *json = vmconfig_to_json(&cfg);
	struct vm_config again;
	assert_non_null(json);
	assert_int_equal(parse(json, &again), 0);
	assert_string_equal(again.kernel, "/k");
	assert_int_equal(again.max_vcpus, 4);
	assert_int_equal(again.memory_size, cfg.memory_size);
	assert_string_equal(again.serial_file, "/tmp/s");
	free(json);
	config_free(&again);
	config_free(&cfg);

	/* Only the payload: kiln's defaults (1 vCPU, 512 MiB, serial Tty). */
	assert_int_equal(parse("{\"payload\":{\"kernel\":\"/k\"}}", &cfg), 0);
	assert_int_equal(cfg.boot_vcpus, 1);
	assert_int_equal(cfg.max_vcpus, 1);
	assert_int_equal(cfg.memory_size, 512ull << 20);
	assert_int_equal(cfg.serial, OUTPUT_TTY);
	assert_null(cfg.initramfs);
	config_free(&cfg);
}

static void test_vmconfig_bad(void **state)
{
	static const struct {
		const char *json;
		const char *needle;
	} cases[] = {
		{ "", "invalid JSON" },
		{ "{", "invalid JSON" },
		{ "nul\x01l", "invalid JSON" },
		{ "[]", "must be a JSON object" },
		{ "{}", "payload: required" },
		{ "{\"payload\":null}", "payload: required" },
		{ "{\"payload\":{}}", "payload.kernel: required" },
		{ "{\"payload\":{\"kernel\":\"\"}}", "payload.kernel: required" },
		{ "{\"payload\":{\"kernel\":5}}", "payload.kernel: expected a string, got an integer" },
		{ "{\"payload\":\"k\"}", "payload: expected an object" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"firmware\":\"/f\"}}",
		  "payload.firmware: not supported by kiln yet" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"x\":1}}", "payload.x: unknown field" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"bogus\":1}", "bogus: unknown field" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{}}", "cpus.boot_vcpus: required" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":\"2\"}}",
		  "cpus.boot_vcpus: expected an integer, got a string" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":0}}",
		  "cpus.boot_vcpus=0 is out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":256}}",
		  "cpus.boot_vcpus=256 is out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":-1}}",
		  "cpus.boot_vcpus: must not be negative" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":1}}",
		  "cpus.max_vcpus=1 is out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":1.5}}",
		  "expected an integer, got a number" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":1,\"topology\":"
		  "{\"packages\":2}}}", "cpus.topology: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{}}", "memory.size: required" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":4095}}",
		  "memory.size=4095 is out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1048577}}",
		  "not a multiple of 4096" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":9223372036854775807}}",
		  "out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1e9}}",
		  "memory.size: expected an integer" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1048576,\"hugepages\":true}}",
		  "memory.hugepages: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1048576,\"thp\":false}}",
		  "memory.thp=false is not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"serial\":{}}", "serial.mode: required" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"Pty\"}}",
		  "serial.mode=Pty is not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"Loud\"}}",
		  "serial.mode=Loud is not a console mode" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"console\":{\"mode\":\"File\"}}",
		  "console.file: required with mode File" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"vhost_user\":true}]}",
		  "disks[0].vhost_user: not supported by kiln yet" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"readonly\":true}]}",
		  "disks[0].path: required" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":{\"path\":\"/d\"}}",
		  "disks: expected an array" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"queue_size\":3}]}",
		  "disks[0].queue_size=3" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\"},{\"path\":\"/d\"}]}",
		  "disks[1].path=/d is disks[0]'s image too" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"bogus\":1}]}",
		  "disks[0].bogus: unknown field" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"net\":[{}]}", "net: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"rng\":{\"src\":\"/dev/urandom\",\"iommu\":true}}",
		  "rng.iommu: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":3,\"socket\":\"/s\"}}",
		  "vsock: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"watchdog\":true}", "watchdog: not supported" },
		{ "{\"payload\":{\"kernel\":\"/k\"},\"payload\":{\"kernel\":\"/j\"}}", "invalid JSON" },
		{ "{\"payload\":{\"kernel\":\"/k\\u0000x\"}}", "invalid JSON" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config cfg;
		int r = parse(cases[i].json, &cfg);

		if (r != -EINVAL || !strstr(err, cases[i].needle))
			print_error("case %zu: r=%d err='%s' (wanted '%s')\n", i, r, err,
				    cases[i].needle);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, cases[i].needle));
		assert_null(cfg.kernel); /* nothing kept */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_vmconfig_good),
		cmocka_unit_test(test_vmconfig_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
