/* kiln's command line, in Cloud Hypervisor's syntax: "--opt value" or "--opt=value", where a
 * value is a comma-separated key=value list and a list value is bracketed ("features=[a,b]"). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/cpu_features.h"

#define MIB (1024ULL * 1024)
#define DEFAULT_MEMORY (512 * MIB)
#define MIN_MEMORY MIB                    /* kernel image, boot_params, page tables, ACPI */
#define MAX_MEMORY (1024ULL * 1024 * MIB) /* 1 TiB, for now */
#define PAGE_SIZE_4K 4096ULL
#define MAX_KEYS 8
/* Names shown when an unknown one is given (the test checks each resolves). */
#define FEATURE_HINT "xsave, smap, smep, popcnt, ssse3, sse4_2, avx, avx2, avx512f, pku, la57, amx"
#define STR(x) #x
#define XSTR(x) STR(x)

struct parser {
	struct vm_config *cfg;
	char *err;
	size_t errlen;
	unsigned int seen; /* bit per options[] index */
};

/* A parsed key list; buf owns the strings the items point into. */
struct keylist {
	char *buf;
	unsigned int n;
	struct {
		char *key;
		char *val; /* NULL when the item has no '=' */
	} kv[MAX_KEYS];
};

struct option_desc {
	const char *name; /* without the leading "--" */
	const char *form; /* expected value, for errors */
	int (*parse)(struct parser *p, const struct option_desc *o, const char *val);
	size_t field;     /* offsetof the vm_config member set by the generic parsers */
	size_t file;      /* output options: offsetof the file path member */
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int fail_nomem(struct parser *p)
{
	fail(p, "out of memory while parsing the command line");
	return -ENOMEM;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v = 0;
	unsigned int shift = 0;

	if (!s || !out || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (*s) {
		const char *u = strchr(units, *s);

		if (!u || s[1])
			return -EINVAL;
		shift = 10 * (unsigned int)(u - units + 1);
	}
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Decimal digits only, no sign or space, 1..max; 0 or -EINVAL. */
static int parse_count(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v = 0;

	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9' || (v = v * 10 + (unsigned long)(*c - '0')) > max)
			return -EINVAL;
	}
	if (!*s || !v)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* Index of s in the NULL-terminated names[], or -1. */
static int choice(const char *s, const char *const names[])
{
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Splits kl->buf in place at commas outside [...] into key[=value] items. */
static int split_keys(struct parser *p, const struct option_desc *o, const char *val,
		      struct keylist *kl)
{
	char *item = kl->buf, *c = kl->buf;
	int depth = 0;

	for (;; c++) {
		if ((*c == '[' && ++depth > 1) || (*c == ']' && --depth < 0))
			return fail(p, "--%s: misplaced '%c' in '%s'", o->name, *c, val);
		if (*c == '\0' && depth)
			return fail(p, "--%s: unterminated '[' in '%s'; close the list with ']'",
				    o->name, val);
		if (*c != '\0' && (*c != ',' || depth))
			continue;
		if (c == item)
			return fail(p, "--%s: empty item in '%s'; expected %s", o->name, val, o->form);
		if (kl->n == MAX_KEYS)
			return fail(p, "--%s: too many keys in '%s'", o->name, val);
		kl->kv[kl->n].key = item;
		kl->kv[kl->n++].val = NULL;
		if (*c == '\0')
			return 0;
		*c = '\0';
		item = c + 1;
	}
}

/* Parses val into kl (caller frees kl->buf): every key one of keys[] (NULL-terminated; its
 * list for messages in valid), given once, with a non-empty value. */
static int parse_keylist(struct parser *p, const struct option_desc *o, const char *val,
			 const char *const keys[], const char *valid, struct keylist *kl)
{
	int ret;

	kl->n = 0;
	kl->buf = strdup(val);
	if (!kl->buf)
		return fail_nomem(p);
	ret = split_keys(p, o, val, kl);
	for (unsigned int i = 0; ret == 0 && i < kl->n; i++) {
		char *key = kl->kv[i].key, *eq = strchr(key, '=');

		if (eq) {
			*eq = '\0';
			kl->kv[i].val = eq + 1;
		}
		if (choice(key, keys) < 0)
			return fail(p, "--%s: unknown key '%s'; valid keys: %s; expected %s", o->name,
				    key, valid, o->form);
		if (!eq || !eq[1])
			return fail(p, "--%s: '%s' needs '=<value>'; expected %s", o->name, key,
				    o->form);
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(kl->kv[j].key, key) == 0)
				return fail(p, "--%s: key '%s' given twice", o->name, key);
	}
	return ret;
}

static const char *kl_get(const struct keylist *kl, const char *key)
{
	for (unsigned int i = 0; i < kl->n; i++)
		if (strcmp(kl->kv[i].key, key) == 0)
			return kl->kv[i].val;
	return NULL;
}

/* One features= name, "NAME" or "-NAME". Opposite signs conflict; repeats are dropped. */
static int add_feature(struct parser *p, const char *name)
{
	struct vm_config *cfg = p->cfg;
	bool hide = name[0] == '-';
	const struct cpu_feature *f = cpu_feature_find(name + hide);

	if (!name[hide])
		return fail(p, "--cpus: empty name in features=; expected features=<name> or "
			    "features=[<name>,-<name>,...]");
	if (!f)
		return fail(p, "--cpus: unknown CPU feature '%s' in features=; valid names include "
			    FEATURE_HINT " (kiln --help lists all), each optionally prefixed by '-' "
			    "to hide it", name);
	for (unsigned int i = 0; i < cfg->nr_cpu_features; i++) {
		const char *old = cfg->cpu_features[i];

		if (cpu_feature_find(old + (old[0] == '-')) != f)
			continue;
		if ((old[0] == '-') != hide)
			return fail(p, "--cpus: features= both allows and hides '%s'", name + hide);
		return 0;
	}
	if (cfg->nr_cpu_features == CONFIG_MAX_CPU_FEATURES)
		return fail(p, "--cpus: more than %d names in features=", CONFIG_MAX_CPU_FEATURES);
	cfg->cpu_features[cfg->nr_cpu_features] = strdup(name);
	if (!cfg->cpu_features[cfg->nr_cpu_features])
		return fail_nomem(p);
	cfg->nr_cpu_features++;
	return 0;
}

/* "name" or "[name,name,...]" (Cloud Hypervisor's list syntax); v is modified in place.
 * split_keys has already checked the brackets pair up and do not nest. */
static int parse_features(struct parser *p, char *v)
{
	size_t len = strlen(v);
	char *name, *next;
	int ret = 0;

	if (v[0] != '[') {
		if (strpbrk(v, "[]"))
			return fail(p, "--cpus: features=%s: bracket the whole list; expected "
				    "features=[<name>,-<name>,...]", v);
		return add_feature(p, v);
	}
	if (v[len - 1] != ']')
		return fail(p, "--cpus: text after ']' in features=%s", v);
	v[len - 1] = '\0';
	for (name = v + 1; ret == 0 && len > 2; name = next + 1) {
		next = strchr(name, ',');
		if (next)
			*next = '\0';
		ret = add_feature(p, name);
		if (!next)
			break;
	}
	return ret;
}

static int parse_cpus(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const keys[] = { "boot", "max", "features", NULL };
	struct vm_config *cfg = p->cfg;
	struct keylist kl;
	const char *boot, *max;
	char *features;
	int ret = parse_keylist(p, o, val, keys, "boot, max, features", &kl);

	if (ret < 0)
		goto out;
	boot = kl_get(&kl, "boot");
	max = kl_get(&kl, "max");
	features = (char *)kl_get(&kl, "features");
	if (boot && parse_count(boot, CONFIG_MAX_VCPUS, &cfg->boot_vcpus) < 0)
		ret = fail(p, "--cpus: 'boot=%s' is not a vCPU count; expected boot=<1..%d>", boot,
			   CONFIG_MAX_VCPUS);
	else if (max && parse_count(max, CONFIG_MAX_VCPUS, &cfg->max_vcpus) < 0)
		ret = fail(p, "--cpus: 'max=%s' is not a vCPU count; expected max=<boot..%d>", max,
			   CONFIG_MAX_VCPUS);
	else if (max && cfg->max_vcpus < cfg->boot_vcpus)
		ret = fail(p, "--cpus: max=%u is less than boot=%u; expected max >= boot",
			   cfg->max_vcpus, cfg->boot_vcpus);
	else if (features)
		ret = parse_features(p, features);
	if (!max)
		cfg->max_vcpus = cfg->boot_vcpus;
out:
	free(kl.buf);
	return ret;
}

static int parse_memory(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const keys[] = { "size", NULL };
	struct keylist kl;
	const char *size;
	uint64_t bytes;
	int ret = parse_keylist(p, o, val, keys, "size", &kl);

	if (ret < 0)
		goto out;
	size = kl_get(&kl, "size");
	if (!size || config_parse_size(size, &bytes) < 0)
		ret = fail(p, "--memory: '%s' is not a valid size; expected size=<bytes>[K|M|G|T], "
			   "e.g. size=512M", val);
	else if (bytes < MIN_MEMORY)
		ret = fail(p, "--memory: size=%s is too small: the kernel and its boot structures "
			   "need at least size=1M", size);
	else if (bytes % PAGE_SIZE_4K)
		ret = fail(p, "--memory: size=%s is not a multiple of 4K (the page size); expected "
			   "e.g. size=512M", size);
	else if (bytes > MAX_MEMORY)
		ret = fail(p, "--memory: size=%s is above kiln's limit for now; expected at most "
			   "size=1T", size);
	else
		p->cfg->memory_size = bytes;
out:
	free(kl.buf);
	return ret;
}

_Static_assert(OUTPUT_OFF == 0 && OUTPUT_NULL == 1 && OUTPUT_TTY == 2, "modes[] order");
_Static_assert(QUIRKS_AUTO == 0 && QUIRKS_ON == 1 && QUIRKS_OFF == 2, "modes[] order");

/* --serial / --console: off|null|tty|file=PATH. */
static int parse_output(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const modes[] = { "off", "null", "tty", NULL }; /* enum order */
	enum output_mode *mode = (enum output_mode *)((char *)p->cfg + o->field);
	char **file = (char **)((char *)p->cfg + o->file);
	int i = choice(val, modes);

	if (i >= 0) {
		*mode = (enum output_mode)i;
		return 0;
	}
	if (strncmp(val, "file=", 5) != 0)
		return fail(p, "--%s: '%s' is not %s; expected %s", o->name, val,
			    strcmp(val, "pty") ? "valid" : "supported by kiln yet", o->form);
	if (!val[5])
		return fail(p, "--%s: 'file=' needs a path; expected %s", o->name, o->form);
	*file = strdup(val + 5);
	if (!*file)
		return fail_nomem(p);
	*mode = OUTPUT_FILE;
	return 0;
}

static int parse_quirks(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const modes[] = { "auto", "on", "off", NULL }; /* enum order */
	int i = choice(val, modes);

	if (i < 0)
		return fail(p, "--%s: '%s' is not valid; expected %s", o->name, val, o->form);
	p->cfg->host_quirks = (enum quirks_mode)i;
	return 0;
}

/* --api-socket / --event-monitor: path=PATH, fd=N, or a bare PATH (as Cloud Hypervisor). */
static int parse_endpoint(struct parser *p, const struct option_desc *o, const char *val)
{
	char **path = (char **)((char *)p->cfg + o->field);
	int *fd = (int *)((char *)p->cfg + o->file);
	unsigned int n;

	if (!strncmp(val, "fd=", 3)) {
		if (parse_count(val + 3, 1u << 20, &n) < 0 && strcmp(val + 3, "0"))
			return fail(p, "--%s: '%s' is not a file descriptor number; expected %s",
				    o->name, val + 3, o->form);
		*fd = strcmp(val + 3, "0") ? (int)n : 0;
		return 0;
	}
	if (!strncmp(val, "path=", 5))
		val += 5;
	else if (strchr(val, '=') && !strchr(val, '/'))
		return fail(p, "--%s: '%s' is not valid; expected %s", o->name, val, o->form);
	if (!*val)
		return fail(p, "--%s: empty path; expected %s", o->name, o->form);
	*path = strdup(val);
	return *path ? 0 : fail_nomem(p);
}

/* on|off|true|false (Cloud Hypervisor's Toggle); 0 or -EINVAL. */
static int parse_toggle(const char *s, bool *out)
{
	static const char *const names[] = { "off", "on", "false", "true", NULL };
	int i = choice(s, names);

	if (i < 0)
		return -EINVAL;
	*out = i & 1;
	return 0;
}

/* One --disk value (Cloud Hypervisor's DiskConfig keys that kiln implements). */
static int parse_disk(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const keys[] = { "path", "readonly", "direct", "id", "serial",
					    "num_queues", "queue_size", NULL };
	struct vm_config *cfg = p->cfg;
	struct disk_config *d;
	struct keylist kl;
	const char *v;
	int ret;

	if (cfg->nr_disks == CONFIG_MAX_DISKS)
		return fail(p, "--disk: more than %d disks", CONFIG_MAX_DISKS);
	d = &cfg->disks[cfg->nr_disks];
	ret = parse_keylist(p, o, val, keys,
			    "path, readonly, direct, id, serial, num_queues, queue_size", &kl);
	if (ret < 0)
		goto out;
	*d = (struct disk_config){ .num_queues = 1, .queue_size = 128 };
	cfg->nr_disks++; /* owns its strings from here, for config_free */
	if (!(v = kl_get(&kl, "path"))) {
		ret = fail(p, "--disk: path= is required in '%s'; expected %s", val, o->form);
		goto out;
	}
	if (!(d->path = strdup(v))) {
		ret = fail_nomem(p);
		goto out;
	}
	if ((v = kl_get(&kl, "readonly")) && parse_toggle(v, &d->readonly) < 0)
		ret = fail(p, "--disk: readonly=%s: expected on or off", v);
	else if ((v = kl_get(&kl, "direct")) && parse_toggle(v, &d->direct) < 0)
		ret = fail(p, "--disk: direct=%s: expected on or off", v);
	else if ((v = kl_get(&kl, "num_queues")) && parse_count(v, 16, &d->num_queues) < 0)
		ret = fail(p, "--disk: num_queues=%s: expected a count 1..16", v);
	else if ((v = kl_get(&kl, "queue_size")) &&
		 (parse_count(v, 1024, &d->queue_size) < 0 || (d->queue_size & (d->queue_size - 1))))
		ret = fail(p, "--disk: queue_size=%s: expected a power of two 1..1024", v);
	else if ((v = kl_get(&kl, "serial")) && strlen(v) > 20)
		ret = fail(p, "--disk: serial=%s is %zu bytes; virtio-blk serials are at most 20",
			   v, strlen(v));
	if (ret < 0)
		goto out;
	if ((v = kl_get(&kl, "serial")) && !(d->serial = strdup(v))) {
		ret = fail_nomem(p);
		goto out;
	}
	v = kl_get(&kl, "id");
	if (v) {
		d->id = strdup(v);
	} else if (asprintf(&d->id, "_disk%u", cfg->nr_disks - 1) < 0) {
		d->id = NULL;
	}
	if (!d->id) {
		ret = fail_nomem(p);
		goto out;
	}
	for (unsigned int i = 0; i + 1 < cfg->nr_disks; i++) {
		if (!strcmp(cfg->disks[i].id, d->id))
			ret = fail(p, "--disk: id=%s is used by two disks; give each a unique id",
				   d->id);
		else if (!strcmp(cfg->disks[i].path, d->path))
			ret = fail(p, "--disk: %s is given twice; a raw image can back one disk",
				   d->path);
	}
out:
	free(kl.buf);
	return ret;
}

static int parse_rng(struct parser *p, const struct option_desc *o, const char *val)
{
	static const char *const keys[] = { "src", NULL };
	struct keylist kl;
	const char *src;
	int ret = parse_keylist(p, o, val, keys, "src", &kl);

	if (ret == 0) {
		src = kl_get(&kl, "src");
		if (!src)
			ret = fail(p, "--rng: expected %s", o->form);
		else if (!(p->cfg->rng_src = strdup(src)))
			ret = fail_nomem(p);
	}
	free(kl.buf);
	return ret;
}

static int parse_string(struct parser *p, const struct option_desc *o, const char *val)
{
	char **field = (char **)((char *)p->cfg + o->field);

	*field = strdup(val);
	return *field ? 0 : fail_nomem(p);
}

#define CFG(member) offsetof(struct vm_config, member)

static const struct option_desc options[] = {
	{ "kernel", "<path>", parse_string, CFG(kernel), 0 },
	{ "initramfs", "<path>", parse_string, CFG(initramfs), 0 },
	{ "cmdline", "<string>", parse_string, CFG(cmdline), 0 },
	{ "cpus", "boot=<n>[,max=<n>][,features=<name>|[<name>,-<name>,...]]", parse_cpus, 0, 0 },
	{ "memory", "size=<bytes>[K|M|G|T]", parse_memory, 0, 0 },
	{ "serial", "tty|file=<path>|null|off", parse_output, CFG(serial), CFG(serial_file) },
	{ "console", "off|null|tty|file=<path>", parse_output, CFG(console), CFG(console_file) },
	{ "host-quirks", "auto|on|off", parse_quirks, 0, 0 },
	{ "api-socket", "path=<path>|fd=<n>", parse_endpoint, CFG(api_socket_path),
	  CFG(api_socket_fd) },
	{ "event-monitor", "path=<path>|fd=<n>", parse_endpoint, CFG(event_monitor_path),
	  CFG(event_monitor_fd) },
	{ "disk", "path=<image>[,readonly=on|off][,direct=on|off][,id=<id>][,serial=<s>]"
		  "[,num_queues=<n>][,queue_size=<n>]", parse_disk, 0, 0 },
	{ "rng", "src=<path>", parse_rng, 0, 0 },
};

/* options[] indices of the VM options that need --kernel (bits of parser.seen). */
#define VM_OPTION_BITS 0xc7eu /* initramfs, cmdline, cpus, memory, serial, console, disk, rng */
#define OPT_DISK 10 /* repeatable, and takes several values as Cloud Hypervisor's --disk */

#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Cloud Hypervisor options kiln does not implement yet: named in the error, not "unknown". */
static const char *const unsupported[] = {
	"balloon", "debug-console", "device", "firmware", "fs", "log-file",
	"memory-zone", "net", "numa", "platform", "pmem", "pvpanic", "restore", "seccomp",
	"tpm", "user-device", "vdpa", "vsock", "watchdog", NULL,
};

/* name is "--NAME" or "--NAME=...": the option_desc, or NULL. */
static const struct option_desc *find_option(const char *arg)
{
	size_t len = strcspn(arg + 2, "=");

	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, arg + 2, len))
			return &options[i];
	return NULL;
}

/* -h, -V, --help, --version: the config_action + 1; -v, -vv...: 0; otherwise -1. */
static int parse_flag(const char *a)
{
	static const char *const flags[] = { "-h", "--help", "-V", "--version", NULL };
	int i = choice(a, flags);

	if (i >= 0)
		return 1 + (i < 2 ? CONFIG_HELP : CONFIG_VERSION);
	return a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1) ? 0 : -1;
}

/* True when a separate argument is an option rather than the previous option's value. */
static bool is_option(const char *a)
{
	return parse_flag(a) >= 0 || (a[0] == '-' && a[1] == '-' && find_option(a));
}

/* --NAME=VALUE or --NAME VALUE: 0 or -errno; *i may advance. */
static int parse_long(struct parser *p, int argc, char *const argv[], int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '='), *val;
	const struct option_desc *o = find_option(arg);
	int len = (int)strcspn(arg, "=");

	if (!o) {
		const char *what = "unknown option";

		for (const char *const *u = unsupported; *u; u++)
			if ((int)strlen(*u) == len - 2 && !strncmp(*u, arg + 2, (size_t)len - 2))
				what = "Cloud Hypervisor option not supported by kiln yet";
		if (!strncmp(arg, "--help=", 7) || !strncmp(arg, "--version=", 10))
			what = "takes no value";
		return fail(p, "%.*s: %s", len, arg, what);
	}
	if ((p->seen & (1u << (o - options))) && o - options != OPT_DISK)
		return fail(p, "--%s given twice; give each option once", o->name);
	p->seen |= 1u << (o - options);
	if (eq)
		val = eq + 1;
	else if (*i + 1 < argc && argv[*i + 1] && !is_option(argv[*i + 1]))
		val = argv[++*i];
	else
		return fail(p, "--%s: missing value; expected --%s %s", o->name, o->name, o->form);
	if (!*val && o->field != CFG(cmdline))
		return fail(p, "--%s: empty value; expected --%s %s", o->name, o->name, o->form);
	int ret = o->parse(p, o, val);
	/* "--disk path=a path=b": further values until the next option */
	while (ret == 0 && o - options == OPT_DISK && !eq && *i + 1 < argc && argv[*i + 1] &&
	       !is_option(argv[*i + 1]) && strchr(argv[*i + 1], '='))
		ret = o->parse(p, o, argv[++*i]);
	return ret;
}

/* Returns 0, a config_action + 1 for help/version, or -errno. */
static int parse_args(struct parser *p, int argc, char *const argv[])
{
	for (int i = 1; i < argc && argv[i]; i++) {
		const char *a = argv[i];
		int ret = parse_flag(a);

		if (ret > 0)
			return ret;
		if (ret == 0) {
			p->cfg->verbosity += (int)strlen(a) - 1;
			continue;
		}
		if (!strcmp(a, "--")) {
			if (i + 1 >= argc || !argv[i + 1])
				break;
			a = argv[i + 1];
		} else if (a[0] == '-' && a[1] == '-') {
			ret = parse_long(p, argc, argv, &i);
			if (ret < 0)
				return ret;
			continue;
		} else if (a[0] == '-' && a[1]) {
			return fail(p, "%s: unknown option", a);
		}
		return fail(p, "unexpected argument '%s': kiln takes only options",
			    a);
	}
	return 0;
}

static const struct vm_config defaults = {
	.boot_vcpus = 1, .max_vcpus = 1, .memory_size = DEFAULT_MEMORY,
	.serial = OUTPUT_TTY, .console = OUTPUT_OFF, .host_quirks = QUIRKS_AUTO,
	.api_socket_fd = -1, .event_monitor_fd = -1,
};

void config_init_defaults(struct vm_config *cfg)
{
	*cfg = defaults;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	struct parser p = { .cfg = NULL, .err = err, .errlen = errlen };

	if (!cfg->kernel || !cfg->kernel[0])
		return fail(&p, "payload.kernel is required (the VM needs a payload)");
	if (cfg->boot_vcpus < 1 || cfg->boot_vcpus > CONFIG_MAX_VCPUS)
		return fail(&p, "cpus.boot_vcpus=%u is out of range; expected 1..%d",
			    cfg->boot_vcpus, CONFIG_MAX_VCPUS);
	if (cfg->max_vcpus < cfg->boot_vcpus || cfg->max_vcpus > CONFIG_MAX_VCPUS)
		return fail(&p, "cpus.max_vcpus=%u is out of range; expected boot_vcpus..%d",
			    cfg->max_vcpus, CONFIG_MAX_VCPUS);
	if (cfg->memory_size < MIN_MEMORY || cfg->memory_size > MAX_MEMORY)
		return fail(&p, "memory.size=%llu is out of range; expected 1 MiB..1 TiB in bytes",
			    (unsigned long long)cfg->memory_size);
	if (cfg->memory_size % PAGE_SIZE_4K)
		return fail(&p, "memory.size=%llu is not a multiple of 4096 (the page size)",
			    (unsigned long long)cfg->memory_size);
	if (cfg->serial == OUTPUT_FILE && (!cfg->serial_file || !cfg->serial_file[0]))
		return fail(&p, "serial.file is required with mode File");
	if (cfg->console == OUTPUT_FILE && (!cfg->console_file || !cfg->console_file[0]))
		return fail(&p, "console.file is required with mode File");
	if (cfg->console == OUTPUT_TTY && cfg->serial == OUTPUT_TTY)
		return fail(&p, "console.mode and serial.mode are both Tty; only one device can have "
			    "the terminal");
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (!d->path || !d->path[0])
			return fail(&p, "disks[%u].path is required", i);
		if (d->num_queues < 1 || d->num_queues > 16)
			return fail(&p, "disks[%u].num_queues=%u is out of range; expected 1..16", i,
				    d->num_queues);
		if (d->queue_size < 1 || d->queue_size > 1024 || (d->queue_size & (d->queue_size - 1)))
			return fail(&p, "disks[%u].queue_size=%u: expected a power of two 1..1024", i,
				    d->queue_size);
		if (d->serial && strlen(d->serial) > 20)
			return fail(&p, "disks[%u].serial is %zu bytes; virtio-blk serials are at "
				    "most 20", i, strlen(d->serial));
		for (unsigned int j = 0; j < i; j++) {
			if (d->id && cfg->disks[j].id && !strcmp(d->id, cfg->disks[j].id))
				return fail(&p, "disks[%u].id=%s is used by disks[%u] too", i, d->id, j);
			if (!strcmp(d->path, cfg->disks[j].path))
				return fail(&p, "disks[%u].path=%s is disks[%u]'s image too; a raw image "
					    "can back one disk", i, d->path, j);
		}
	}
	return 0;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int config_copy_vm(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	dst->api_socket_path = dst->event_monitor_path = NULL;
	dst->api_socket_fd = dst->event_monitor_fd = -1;
	dst->nr_cpu_features = 0;
	dst->nr_disks = 0;
	dst->rng_src = NULL;
	for (unsigned int i = 0; i < src->nr_disks; i++) {
		struct disk_config *d = &dst->disks[i];
		const struct disk_config *s = &src->disks[i];
		*d = *s;
		d->path = d->id = d->serial = NULL;
		dst->nr_disks = i + 1;
		if (dup_str(&d->path, s->path) || dup_str(&d->id, s->id) ||
		    dup_str(&d->serial, s->serial))
			goto nomem;
	}
	if (dup_str(&dst->rng_src, src->rng_src) || dup_str(&dst->kernel, src->kernel) || dup_str(&dst->initramfs, src->initramfs) ||
	    dup_str(&dst->cmdline, src->cmdline) || dup_str(&dst->serial_file, src->serial_file) ||
	    dup_str(&dst->console_file, src->console_file))
		goto nomem;
	for (unsigned int i = 0; i < src->nr_cpu_features; i++) {
		if (dup_str(&dst->cpu_features[i], src->cpu_features[i]))
			goto nomem;
		dst->nr_cpu_features = i + 1;
	}
	return 0;
nomem:
	config_free(dst);
	return -ENOMEM;
}

int config_parse(int argc, char *const argv[], struct vm_config *cfg, char *err, size_t errlen)
{
	struct parser p = { .cfg = cfg, .err = err, .errlen = errlen };
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg || !argv)
		return -EINVAL;
	*cfg = defaults;
	ret = parse_args(&p, argc, argv);
	if (ret == 0 && !cfg->kernel && !config_has_api(cfg))
		ret = fail(&p, "--kernel is required (the VM needs a payload), unless --api-socket "
			   "is given to create the VM through the REST API");
	else if (ret == 0 && !cfg->kernel && (p.seen & VM_OPTION_BITS)) {
		unsigned int i = (unsigned int)__builtin_ctz(p.seen & VM_OPTION_BITS);
		ret = fail(&p, "--%s needs --kernel; without --kernel the VM's configuration comes "
			   "from PUT /api/v1/vm.create", options[i].name);
	}
	if (ret != 0) /* error, or help/version: nothing of the parse is kept */
		config_free(cfg);
	if (ret > 0)
		*cfg = defaults;
	return ret > 0 ? ret - 1 : ret < 0 ? ret : CONFIG_RUN;
}

void config_free(struct vm_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->kernel);
	free(cfg->initramfs);
	free(cfg->cmdline);
	for (unsigned int i = 0; i < cfg->nr_cpu_features && i < CONFIG_MAX_CPU_FEATURES; i++)
		free(cfg->cpu_features[i]);
	free(cfg->serial_file);
	free(cfg->console_file);
	for (unsigned int i = 0; i < cfg->nr_disks && i < CONFIG_MAX_DISKS; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].id);
		free(cfg->disks[i].serial);
	}
	free(cfg->rng_src);
	free(cfg->api_socket_path);
	free(cfg->event_monitor_path);
	memset(cfg, 0, sizeof(*cfg));
	cfg->api_socket_fd = cfg->event_monitor_fd = -1;
}

void config_print_help(void)
{
	unsigned int count;
	const struct cpu_feature *t = cpu_feature_table(&count);

	fputs("Usage: kiln --kernel <path> [OPTIONS]\n"
	      "       kiln --api-socket <path> [OPTIONS]   (the VM comes from PUT vm.create)\n"
	      "Launch a kiln micro-VM (Cloud Hypervisor command-line syntax).\n\n"
	      "  --kernel <path>       PVH ELF vmlinux or bzImage to boot (required)\n"
	      "  --initramfs <path>    initramfs image [default: none]\n"
	      "  --cmdline <string>    kernel command line [default: none]\n"
	      "  --cpus boot=<n>[,max=<n>][,features=<list>]\n"
	      "                        vCPUs, 1.." XSTR(CONFIG_MAX_VCPUS) ", max >= boot "
	      "[default: boot=1,max=boot]\n"
	      "                        features=<name> or [<name>,-<name>,...]: a leading '-'\n"
	      "                        hides a CPU feature from the guest; 'amx' is accepted\n"
	      "                        (kiln passes supported CPUID, AMX included, by default)\n"
	      "  --memory size=<bytes>[K|M|G|T]\n"
	      "                        guest RAM, 1M..1T, a multiple of 4K [default: size=512M]\n"
	      "  --serial tty|file=<path>|null|off\n"
	      "                        COM1 16550A UART [default: tty; Cloud Hypervisor's is null]\n"
	      "  --console off|null|tty|file=<path>\n"
	      "                        virtio-console, the guest's hvc0; tty needs --serial other\n"
	      "                        than tty [default: off; Cloud Hypervisor's is tty]\n"
	      "  --disk path=<image>[,readonly=on|off][,direct=on|off][,id=<id>][,serial=<s>]\n"
	      "         [,num_queues=<1..16>][,queue_size=<2^n, <=1024>]\n"
	      "                        virtio-blk on a raw image; repeatable, or several values\n"
	      "                        after one --disk [default: none; 1 queue of 128]\n"
	      "  --rng src=<path>      virtio-rng entropy source [default: src=/dev/urandom]\n"
	      "  --host-quirks auto|on|off\n"
	      "                        workarounds for hosts whose KVM emulates guest kernel mode\n"
	      "                        (nested PVM); auto detects such hosts [default: auto]\n"
	      "  --api-socket path=<path>|fd=<n>\n"
	      "                        serve Cloud Hypervisor's REST API on a Unix socket\n"
	      "  --event-monitor path=<path>|fd=<n>\n"
	      "                        write lifecycle events as JSON lines\n"
	      "  -v                    more log output, repeatable (-vv) [default: warnings]\n"
	      "  -h, --help            print this help and exit\n"
	      "  -V, --version         print the version and exit\n\n"
	      "Sizes are bytes, or K/M/G/T (powers of 1024). Key lists: key=value,key=value.\n"
	      "CPU features (aliases: sse3 = pni, amx = amx_tile):",
	      stdout);
	for (unsigned int i = 0; i < count; i++)
		printf("%s%s", i % 10 ? " " : "\n  ", t[i].name);
	putchar('\n');
}
