/* libFuzzer target: vm.create's VmConfig parser (api/vmconfig_json.c) on arbitrary bytes.
 * Invariants: it returns 0 or a negative errno with a message; on success the configuration
 * validates, survives a JSON round trip, and every string it owns is NUL-terminated. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/vmconfig_json.h"
#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config cfg, again;
	char err[256];
	int r = vmconfig_from_json((const char *)data, size, &cfg, err, sizeof(err));

	if (r != 0) {
		if (r != -EINVAL && r != -ENOMEM)
			__builtin_trap();
		if (strnlen(err, sizeof(err)) == sizeof(err) || !err[0])
			__builtin_trap();
		return 0;
	}
	if (config_validate(&cfg, err, sizeof(err)) != 0)
		__builtin_trap();
	char *json = vmconfig_to_json(&cfg);
	if (json) {
		if (vmconfig_from_json(json, strlen(json), &again, err, sizeof(err)) != 0)
			__builtin_trap();
		if (strcmp(again.kernel, cfg.kernel) || again.memory_size != cfg.memory_size ||
		    again.boot_vcpus != cfg.boot_vcpus || again.serial != cfg.serial)
			__builtin_trap();
		config_free(&again);
		free(json);
	}
	config_free(&cfg);
	return 0;
}
