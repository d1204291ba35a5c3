/* Cloud Hypervisor's VmConfig JSON (vmm/src/api/openapi/cloud-hypervisor.yaml, schema
 * VmConfig) to and from kiln's struct vm_config, with jansson.
 *
 * Accepted: payload {kernel, initramfs, cmdline}, cpus {boot_vcpus, max_vcpus, features.amx,
 * nested, kvm_hyperv=false}, memory {size, and its boolean options at their defaults},
 * serial / console {mode, file}, and the top-level booleans at their defaults. A field of the
 * schema that kiln does not implement is refused when it is set to anything but its default
 * (null, [], false, ...), naming the field; a field not in the schema is refused as unknown. */
#ifndef KILN_API_VMCONFIG_JSON_H
#define KILN_API_VMCONFIG_JSON_H

#include <stddef.h>

#include "vmm/config.h"

/* Parses len bytes of JSON (need not be NUL-terminated) into cfg, which it initialises from
 * config_init_defaults() first. Returns 0 (cfg then owns strings: config_free() it), or
 * -EINVAL with a one-line message naming the field (e.g. "cpus.boot_vcpus: expected an
 * integer") in err (errlen bytes); cfg holds nothing then. -ENOMEM on allocation failure. */
int vmconfig_from_json(const char *json, size_t len, struct vm_config *cfg, char *err,
		       size_t errlen);

/* Serialises the VM part of cfg as a VmConfig JSON object (compact, one line, field names
 * of the schema). Returns a malloc'd NUL-terminated string the caller frees, or NULL when
 * out of memory. */
char *vmconfig_to_json(const struct vm_config *cfg);

#endif
