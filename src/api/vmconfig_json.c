/* VmConfig JSON <-> struct vm_config. Every field of the schema is listed in a table, so an
 * unknown name and an unsupported value are told apart and both reported by their path. */
#include "api/vmconfig_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cpu_features.h"

struct ctx {
	struct vm_config *cfg;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* What a field of the schema may hold in kiln. */
enum kind {
	K_STRING,      /* a string, stored */
	K_UINT,        /* a non-negative integer, handled by the object's parser */
	K_OBJECT,      /* a nested object with its own table */
	K_DEFAULT_OFF, /* unsupported: accepted only as null, false, 0, "", [] or {} */
	K_BOOL_TRUE,   /* a boolean kiln honours only as true (e.g. memory.thp) */
	K_ANY_BOOL,    /* a boolean with no effect on kiln (documented why at its use) */
	K_MODE,        /* serial/console mode string */
	K_ARRAY,       /* an array of objects, each checked against `sub` */
};

struct field {
	const char *name;
	enum kind kind;
	const struct field *sub; /* K_OBJECT: its fields, NULL-name terminated */
};

/* A value a client may send for a field kiln does not implement: its default or empty. */
static bool is_unset(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_OBJECT:
		return json_object_size(v) == 0;
	default:
		return false;
	}
}

static const char *type_name(const json_t *v)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer", [JSON_REAL] = "a number", [JSON_TRUE] = "true",
		[JSON_FALSE] = "false", [JSON_NULL] = "null",
	};
	return names[json_typeof(v)];
}

static const struct field payload_fields[] = {
	{ "kernel", K_STRING, NULL }, { "initramfs", K_STRING, NULL },
	{ "cmdline", K_STRING, NULL }, { "firmware", K_DEFAULT_OFF, NULL },
	{ "igvm", K_DEFAULT_OFF, NULL }, { "host_data", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

static const struct field cpu_features_fields[] = {
	/* kiln passes every supported CPUID feature, AMX included: amx=true is what it does. */
	{ "amx", K_ANY_BOOL, NULL }, { NULL, 0, NULL },
};

static const struct field cpus_fields[] = {
	{ "boot_vcpus", K_UINT, NULL }, { "max_vcpus", K_UINT, NULL },
	{ "topology", K_DEFAULT_OFF, NULL }, { "kvm_hyperv", K_DEFAULT_OFF, NULL },
	{ "max_phys_bits", K_DEFAULT_OFF, NULL },
	/* nested: kiln passes KVM's supported CPUID, which says whether VMX/SVM exist. */
	{ "nested", K_ANY_BOOL, NULL }, { "affinity", K_DEFAULT_OFF, NULL },
	{ "features", K_OBJECT, cpu_features_fields }, { "core_scheduling", K_MODE, NULL },
	{ NULL, 0, NULL },
};

static const struct field memory_fields[] = {
	{ "size", K_UINT, NULL }, { "hotplug_size", K_DEFAULT_OFF, NULL },
	{ "hotplugged_size", K_DEFAULT_OFF, NULL }, { "mergeable", K_DEFAULT_OFF, NULL },
	{ "hotplug_method", K_STRING, NULL }, { "shared", K_DEFAULT_OFF, NULL },
	{ "hugepages", K_DEFAULT_OFF, NULL }, { "hugepage_size", K_DEFAULT_OFF, NULL },
	{ "prefault", K_DEFAULT_OFF, NULL }, { "reserve", K_DEFAULT_OFF, NULL },
	/* kiln's RAM mapping is MADV_HUGEPAGE-eligible anonymous memory: thp=true. */
	{ "thp", K_BOOL_TRUE, NULL }, { "zones", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

static const struct field output_fields[] = {
	{ "mode", K_MODE, NULL }, { "file", K_STRING, NULL }, { "socket", K_DEFAULT_OFF, NULL },
	{ "iommu", K_DEFAULT_OFF, NULL }, { "id", K_DEFAULT_OFF, NULL },
	{ "pci_segment", K_DEFAULT_OFF, NULL }, { "pci_device_id", K_DEFAULT_OFF, NULL },
	{ "iobase", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

/* DiskConfig: kiln implements raw images through virtio-blk (no vhost-user, no rate limits). */
static const struct field disk_fields[] = {
	{ "path", K_STRING, NULL }, { "readonly", K_ANY_BOOL, NULL },
	{ "direct", K_ANY_BOOL, NULL }, { "iommu", K_DEFAULT_OFF, NULL },
	{ "num_queues", K_UINT, NULL }, { "queue_size", K_UINT, NULL },
	{ "vhost_user", K_DEFAULT_OFF, NULL }, { "vhost_socket", K_DEFAULT_OFF, NULL },
	{ "rate_limit_group", K_DEFAULT_OFF, NULL }, { "rate_limiter_config", K_DEFAULT_OFF, NULL },
	{ "pci_segment", K_DEFAULT_OFF, NULL }, { "id", K_STRING, NULL },
	{ "serial", K_STRING, NULL }, { "queue_affinity", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

static const struct field rng_fields[] = {
	{ "src", K_STRING, NULL }, { "iommu", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

static const struct field vmconfig_fields[] = {
	{ "payload", K_OBJECT, payload_fields }, { "cpus", K_OBJECT, cpus_fields },
	{ "memory", K_OBJECT, memory_fields }, { "serial", K_OBJECT, output_fields },
	{ "console", K_OBJECT, output_fields },
	/* Devices of the devices issue and the rest of the schema: refused when set. */
	{ "disks", K_ARRAY, disk_fields }, { "rng", K_OBJECT, rng_fields },
	{ "rate_limit_groups", K_DEFAULT_OFF, NULL }, { "net", K_DEFAULT_OFF, NULL },
	{ "balloon", K_DEFAULT_OFF, NULL }, { "fs", K_DEFAULT_OFF, NULL },
	{ "generic_vhost_user", K_DEFAULT_OFF, NULL }, { "pmem", K_DEFAULT_OFF, NULL },
	{ "debug_console", K_DEFAULT_OFF, NULL }, { "devices", K_DEFAULT_OFF, NULL },
	{ "user_devices", K_DEFAULT_OFF, NULL }, { "vdpa", K_DEFAULT_OFF, NULL },
	{ "vsock", K_DEFAULT_OFF, NULL }, { "numa", K_DEFAULT_OFF, NULL },
	{ "iommu", K_DEFAULT_OFF, NULL }, { "watchdog", K_DEFAULT_OFF, NULL },
	{ "rtc", K_DEFAULT_OFF, NULL }, { "pvpanic", K_DEFAULT_OFF, NULL },
	{ "pci_segments", K_DEFAULT_OFF, NULL }, { "platform", K_DEFAULT_OFF, NULL },
	{ "tpm", K_DEFAULT_OFF, NULL }, { "landlock_enable", K_DEFAULT_OFF, NULL },
	{ "landlock_rules", K_DEFAULT_OFF, NULL }, { "sgx_epc", K_DEFAULT_OFF, NULL },
	{ "preserved_fds", K_DEFAULT_OFF, NULL },
	{ NULL, 0, NULL },
};

/* Checks every member of obj against its table (names, kinds); values are read later. */
static int check_object(struct ctx *c, const json_t *obj, const struct field *table,
			const char *path, int depth)
{
	const char *key;
	json_t *v;
	char sub[128];

	if (depth > 3)
		return fail(c, "%s: nested too deep", path);
	json_object_foreach((json_t *)obj, key, v) {
		const struct field *f = table;
		int r;

		while (f->name && strcmp(f->name, key))
			f++;
		snprintf(sub, sizeof(sub), "%s%s%.60s", path, *path ? "." : "", key);
		if (!f->name)
			return fail(c, "%s: unknown field (not in Cloud Hypervisor's VmConfig)", sub);
		switch (f->kind) {
		case K_STRING:
			if (!json_is_string(v) && !json_is_null(v))
				return fail(c, "%s: expected a string, got %s", sub, type_name(v));
			if (json_is_string(v) && strlen(json_string_value(v)) !=
						    json_string_length(v))
				return fail(c, "%s: contains a NUL character", sub);
			break;
		case K_UINT:
			if (!json_is_integer(v))
				return fail(c, "%s: expected an integer, got %s", sub, type_name(v));
			if (json_integer_value(v) < 0)
				return fail(c, "%s: must not be negative", sub);
			break;
		case K_OBJECT:
			if (json_is_null(v))
				break;
			if (!json_is_object(v))
				return fail(c, "%s: expected an object, got %s", sub, type_name(v));
			r = check_object(c, v, f->sub, sub, depth + 1);
			if (r)
				return r;
			break;
		case K_DEFAULT_OFF:
			if (!is_unset(v))
				return fail(c, "%s: not supported by kiln yet (set it to its default or "
					    "leave it out)", sub);
			break;
		case K_BOOL_TRUE:
			if (!json_is_boolean(v))
				return fail(c, "%s: expected a boolean, got %s", sub, type_name(v));
			if (!json_is_true(v))
				return fail(c, "%s=false is not supported by kiln yet", sub);
			break;
		case K_ANY_BOOL:
			if (!json_is_boolean(v))
				return fail(c, "%s: expected a boolean, got %s", sub, type_name(v));
			break;
		case K_MODE:
			if (!json_is_string(v))
				return fail(c, "%s: expected a string, got %s", sub, type_name(v));
			break;
		case K_ARRAY: {
			size_t i;
			json_t *e;

			if (json_is_null(v))
				break;
			if (!json_is_array(v))
				return fail(c, "%s: expected an array, got %s", sub, type_name(v));
			json_array_foreach(v, i, e) {
				char elem[160];

				snprintf(elem, sizeof(elem), "%s[%zu]", sub, i);
				if (!json_is_object(e))
					return fail(c, "%s: expected an object, got %s", elem,
						    type_name(e));
				r = check_object(c, e, f->sub, elem, depth + 1);
				if (r)
					return r;
			}
			break;
		}
		}
	}
	return 0;
}

static const char *get_string(const json_t *obj, const char *key)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;

	return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static int set_string(struct ctx *c, char **dst, const json_t *obj, const char *key)
{
	const char *s = get_string(obj, key);

	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* Reads an unsigned field checked by check_object(); *present tells whether it was there. */
static unsigned long long get_uint(const json_t *obj, const char *key, bool *present)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;

	*present = v && json_is_integer(v);
	return *present ? (unsigned long long)json_integer_value(v) : 0;
}

static int parse_cpus(struct ctx *c, const json_t *cpus)
{
	bool has_boot, has_max;
	unsigned long long boot = get_uint(cpus, "boot_vcpus", &has_boot);
	unsigned long long max = get_uint(cpus, "max_vcpus", &has_max);
	const char *sched = get_string(cpus, "core_scheduling");

	if (!cpus)
		return 0;
	if (!has_boot)
		return fail(c, "cpus.boot_vcpus: required when cpus is given");
	if (boot < 1 || boot > CONFIG_MAX_VCPUS)
		return fail(c, "cpus.boot_vcpus=%llu is out of range; expected 1..%d", boot,
			    CONFIG_MAX_VCPUS);
	if (!has_max)
		max = boot;
	if (max < boot || max > CONFIG_MAX_VCPUS)
		return fail(c, "cpus.max_vcpus=%llu is out of range; expected boot_vcpus..%d", max,
			    CONFIG_MAX_VCPUS);
	if (sched && strcmp(sched, "Vm"))
		return fail(c, "cpus.core_scheduling=%s is not supported by kiln yet; expected Vm",
			    sched);
	c->cfg->boot_vcpus = (unsigned int)boot;
	c->cfg->max_vcpus = (unsigned int)max;
	return 0;
}

static int parse_memory(struct ctx *c, const json_t *mem)
{
	bool has_size;
	unsigned long long size = get_uint(mem, "size", &has_size);
	const char *method = get_string(mem, "hotplug_method");

	if (!mem)
		return 0;
	if (!has_size)
		return fail(c, "memory.size: required when memory is given (bytes)");
	if (method && strcmp(method, "Acpi"))
		return fail(c, "memory.hotplug_method=%s is not supported by kiln yet", method);
	c->cfg->memory_size = size;
	return 0;
}

/* serial / console: {"mode": "Off|Null|Tty|File", "file": PATH}. */
static int parse_output(struct ctx *c, const json_t *o, const char *name, enum output_mode *mode,
			char **file)
{
	static const char *const modes[] = { "Off", "Null", "Tty", NULL }; /* enum order */
	const char *m = get_string(o, "mode");

	if (!o)
		return 0;
	if (!m)
		return fail(c, "%s.mode: required (Off, Null, Tty or File)", name);
	for (int i = 0; modes[i]; i++)
		if (!strcmp(m, modes[i])) {
			*mode = (enum output_mode)i;
			return 0;
		}
	if (strcmp(m, "File")) {
		bool known = !strcmp(m, "Pty") || !strcmp(m, "Socket");
		return fail(c, "%s.mode=%s %s; expected Off, Null, Tty or File", name, m,
			    known ? "is not supported by kiln yet" : "is not a console mode");
	}
	if (!get_string(o, "file") || !get_string(o, "file")[0])
		return fail(c, "%s.file: required with mode File", name);
	*mode = OUTPUT_FILE;
	return set_string(c, file, o, "file") ? -ENOMEM : 0;
}

static bool get_bool(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return v && json_is_true(v);
}

/* disks: [DiskConfig, ...] into cfg->disks (values checked later by config_validate). */
static int parse_disks(struct ctx *c, const json_t *disks)
{
	struct vm_config *cfg = c->cfg;
	size_t i;
	json_t *e;

	if (!disks || !json_is_array(disks))
		return 0;
	if (json_array_size(disks) > CONFIG_MAX_DISKS)
		return fail(c, "disks: %zu disks; kiln supports at most %d", json_array_size(disks),
			    CONFIG_MAX_DISKS);
	json_array_foreach(disks, i, e) {
		struct disk_config *d = &cfg->disks[i];
		bool has_nq, has_qs;
		unsigned long long nq = get_uint(e, "num_queues", &has_nq);
		unsigned long long qs = get_uint(e, "queue_size", &has_qs);

		*d = (struct disk_config){ .num_queues = 1, .queue_size = 128 };
		cfg->nr_disks = (unsigned int)i + 1;
		if (!get_string(e, "path") || !get_string(e, "path")[0])
			return fail(c, "disks[%zu].path: required (a raw disk image)", i);
		if (has_nq)
			d->num_queues = nq > 1000 ? 1000 : (unsigned int)nq;
		if (has_qs)
			d->queue_size = qs > 65536 ? 65536 : (unsigned int)qs;
		d->readonly = get_bool(e, "readonly");
		d->direct = get_bool(e, "direct");
		if (set_string(c, &d->path, e, "path") || set_string(c, &d->id, e, "id") ||
		    set_string(c, &d->serial, e, "serial"))
			return -ENOMEM;
		if (!d->id && asprintf(&d->id, "_disk%zu", i) < 0) {
			d->id = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* A member that is an object, or NULL when absent or null (check_object vetted types). */
static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return v && json_is_object(v) ? v : NULL;
}

static int parse_root(struct ctx *c, const json_t *root)
{
	const json_t *payload = member(root, "payload");
	struct vm_config *cfg = c->cfg;
	int r;

	if (!json_is_object(root))
		return fail(c, "the body must be a JSON object (a VmConfig), got %s", type_name(root));
	r = check_object(c, root, vmconfig_fields, "", 0);
	if (r)
		return r;
	if (!payload)
		return fail(c, "payload: required (payload.kernel names the kernel to boot)");
	if (!get_string(payload, "kernel") || !get_string(payload, "kernel")[0])
		return fail(c, "payload.kernel: required (a PVH ELF vmlinux or a bzImage path)");
	if (set_string(c, &cfg->kernel, payload, "kernel") ||
	    set_string(c, &cfg->initramfs, payload, "initramfs") ||
	    set_string(c, &cfg->cmdline, payload, "cmdline"))
		return -ENOMEM;
	if (cfg->initramfs && !cfg->initramfs[0]) {
		free(cfg->initramfs);
		cfg->initramfs = NULL;
	}
	r = parse_cpus(c, member(root, "cpus"));
	if (!r)
		r = parse_memory(c, member(root, "memory"));
	if (!r)
		r = parse_output(c, member(root, "serial"), "serial", &cfg->serial,
				 &cfg->serial_file);
	if (!r)
		r = parse_output(c, member(root, "console"), "console", &cfg->console,
				 &cfg->console_file);
	if (!r)
		r = parse_disks(c, json_object_get(root, "disks"));
	if (!r && member(root, "rng") && get_string(member(root, "rng"), "src"))
		r = set_string(c, &cfg->rng_src, member(root, "rng"), "src") ? -ENOMEM : 0;
	if (!r)
		r = config_validate(cfg, c->err, c->errlen);
	return r;
}

int vmconfig_from_json(const char *json, size_t len, struct vm_config *cfg, char *err,
		       size_t errlen)
{
	struct ctx c = { .cfg = cfg, .err = err, .errlen = errlen };
	json_error_t jerr;
	json_t *root;
	int r;

	config_init_defaults(cfg);
	/* Cloud Hypervisor's default serial is Null and console Tty; an API-created VM keeps
	 * kiln's command-line defaults, serial Tty and console Off, so its output stays where
	 * kiln's users find it. */
	if (err && errlen)
		err[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(&c, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
	r = parse_root(&c, root);
	json_decref(root);
	if (r) {
		if (r == -ENOMEM)
			fail(&c, "out of memory");
		config_free(cfg);
		config_init_defaults(cfg);
	}
	return r;
}

static const char *mode_name(enum output_mode m)
{
	switch (m) {
	case OUTPUT_OFF: return "Off";
	case OUTPUT_NULL: return "Null";
	case OUTPUT_TTY: return "Tty";
	case OUTPUT_FILE: return "File";
	}
	return "Off";
}

static json_t *output_json(enum output_mode m, const char *file)
{
	return json_pack("{s:s, s:s?, s:b}", "mode", mode_name(m), "file",
			 m == OUTPUT_FILE ? file : NULL, "iommu", 0);
}

static json_t *disks_json(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		json_array_append_new(a, json_pack("{s:s, s:b, s:b, s:b, s:i, s:i, s:s, s:s?}",
						   "path", d->path, "readonly", d->readonly,
						   "direct", d->direct, "iommu", 0,
						   "num_queues", (int)d->num_queues,
						   "queue_size", (int)d->queue_size, "id", d->id,
						   "serial", d->serial));
	}
	return a;
}

char *vmconfig_to_json(const struct vm_config *cfg)
{
	json_t *root = json_pack(
		"{s:{s:s, s:s?, s:s?}, s:{s:i, s:i, s:b, s:b}, s:{s:I, s:b, s:b, s:b, s:b},"
		" s:o, s:o, s:b, s:b, s:b, s:o, s:{s:s, s:b}}",
		"payload", "kernel", cfg->kernel ? cfg->kernel : "", "initramfs", cfg->initramfs,
		"cmdline", cfg->cmdline,
		"cpus", "boot_vcpus", (int)cfg->boot_vcpus, "max_vcpus", (int)cfg->max_vcpus,
		"kvm_hyperv", 0, "nested", 1,
		"memory", "size", (json_int_t)cfg->memory_size, "mergeable", 0, "shared", 0,
		"hugepages", 0, "thp", 1,
		"serial", output_json(cfg->serial, cfg->serial_file),
		"console", output_json(cfg->console, cfg->console_file),
		"iommu", 0, "watchdog", 0, "pvpanic", 0, "disks", disks_json(cfg),
		"rng", "src", cfg->rng_src ? cfg->rng_src : "/dev/urandom", "iommu", 0);
	char *s;

	if (!root)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}
