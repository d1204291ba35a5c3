/* Unit tests for vmm/config.c (command line) and vmm/cpu_features.c (feature table, masks). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/cpu_features.h"

#define MIB (1024ULL * 1024)
#define GIB (1024 * MIB)

static char err[512];

static int parse_argv(struct vm_config *cfg, const char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(err, 'x', sizeof(err) - 1); /* a stale message must not pass for a new one */
	err[sizeof(err) - 1] = '\0';
	return config_parse(argc, (char *const *)argv, cfg, err, sizeof(err));
}

#define PARSE(cfg, ...) parse_argv((cfg), (const char *[]){ "kiln", __VA_ARGS__, NULL })

static void test_defaults(void **state)
{
	struct vm_config cfg;

	assert_int_equal(PARSE(&cfg, "--kernel", "/boot/vmlinuz"), CONFIG_RUN);
	assert_string_equal(err, "");
	assert_string_equal(cfg.kernel, "/boot/vmlinuz");
	assert_null(cfg.initramfs);
	assert_null(cfg.cmdline);
	assert_int_equal(cfg.boot_vcpus, 1);
	assert_int_equal(cfg.max_vcpus, 1);
	assert_int_equal(cfg.nr_cpu_features, 0);
	assert_int_equal(cfg.memory_size, 512 * MIB);
	assert_int_equal(cfg.serial, OUTPUT_TTY);
	assert_null(cfg.serial_file);
	assert_int_equal(cfg.console, OUTPUT_OFF);
	assert_int_equal(cfg.verbosity, 0);
	assert_int_equal(cfg.host_quirks, QUIRKS_AUTO);
	config_free(&cfg);
	assert_null(cfg.kernel);
	config_free(&cfg); /* twice is harmless */
	config_free(NULL);
}

static void test_all_options_both_forms(void **state)
{
	struct vm_config cfg;

	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--initramfs", "i", "--cmdline",
			       "console=ttyS0 panic=-1", "--cpus", "boot=2,max=4", "--memory",
			       "size=1G", "--serial", "file=/tmp/s.log", "--console", "null",
			       "--host-quirks", "off", "-v"), CONFIG_RUN);
	assert_string_equal(cfg.kernel, "k");
	assert_string_equal(cfg.initramfs, "i");
	assert_string_equal(cfg.cmdline, "console=ttyS0 panic=-1");
	assert_int_equal(cfg.boot_vcpus, 2);
	assert_int_equal(cfg.max_vcpus, 4);
	assert_int_equal(cfg.memory_size, GIB);
	assert_int_equal(cfg.serial, OUTPUT_FILE);
	assert_string_equal(cfg.serial_file, "/tmp/s.log");
	assert_int_equal(cfg.console, OUTPUT_NULL);
	assert_int_equal(cfg.host_quirks, QUIRKS_OFF);
	assert_int_equal(cfg.verbosity, 1);
	config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--kernel=k=1", "--initramfs=i", "--cmdline=a=b c",
			       "--cpus=boot=3", "--memory=size=64M", "--serial=off",
			       "--console=file=/tmp/c", "--host-quirks=on"), CONFIG_RUN);
	assert_string_equal(cfg.kernel, "k=1");
	assert_string_equal(cfg.cmdline, "a=b c");
	assert_int_equal(cfg.boot_vcpus, 3);
	assert_int_equal(cfg.max_vcpus, 3);
	assert_int_equal(cfg.memory_size, 64 * MIB);
	assert_int_equal(cfg.serial, OUTPUT_OFF);
	assert_int_equal(cfg.console, OUTPUT_FILE);
	assert_string_equal(cfg.console_file, "/tmp/c");
	assert_int_equal(cfg.host_quirks, QUIRKS_ON);
	config_free(&cfg);

	/* an empty command line is allowed; a value may start with a single '-' */
	assert_int_equal(PARSE(&cfg, "--cmdline=", "--kernel", "-k", "--serial", "null",
			       "--console", "tty", "--host-quirks", "auto"), CONFIG_RUN);
	assert_string_equal(cfg.cmdline, "");
	assert_string_equal(cfg.kernel, "-k");
	assert_int_equal(cfg.serial, OUTPUT_NULL);
	assert_int_equal(cfg.console, OUTPUT_TTY);
	assert_int_equal(cfg.host_quirks, QUIRKS_AUTO);
	config_free(&cfg);
}

static void test_verbosity(void **state)
{
	struct vm_config cfg;

	assert_int_equal(PARSE(&cfg, "-v", "--kernel", "k", "-vv", "-v", "-vvv"), CONFIG_RUN);
	assert_int_equal(cfg.verbosity, 7);
	config_free(&cfg);
}

static void test_cpus_good(void **state)
{
	struct vm_config cfg;

	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "max=4"), CONFIG_RUN);
	assert_int_equal(cfg.boot_vcpus, 1);
	assert_int_equal(cfg.max_vcpus, 4);
	config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "boot=255,max=255"), CONFIG_RUN);
	assert_int_equal(cfg.boot_vcpus, 255);
	assert_int_equal(cfg.max_vcpus, 255);
	config_free(&cfg);

	/* the commas inside the brackets do not split keys */
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus",
			       "boot=2,features=[-smap,-popcnt,ssse3,-sse3,-smap],max=3"), CONFIG_RUN);
	assert_int_equal(cfg.boot_vcpus, 2);
	assert_int_equal(cfg.max_vcpus, 3);
	assert_int_equal(cfg.nr_cpu_features, 4); /* the repeated -smap is dropped */
	assert_string_equal(cfg.cpu_features[0], "-smap");
	assert_string_equal(cfg.cpu_features[1], "-popcnt");
	assert_string_equal(cfg.cpu_features[2], "ssse3");
	assert_string_equal(cfg.cpu_features[3], "-sse3");
	config_free(&cfg);

	static const char *const single[] = { "features=amx", "features=[amx]", "features=-xsave" };
	static const char *const stored[] = { "amx", "amx", "-xsave" };

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", single[i]), CONFIG_RUN);
		assert_int_equal(cfg.nr_cpu_features, 1);
		assert_string_equal(cfg.cpu_features[0], stored[i]);
		config_free(&cfg);
	}
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "features=[]"), CONFIG_RUN);
	assert_int_equal(cfg.nr_cpu_features, 0);
	config_free(&cfg);
}

static void test_memory_good(void **state)
{
	static const struct { const char *arg; uint64_t bytes; } good[] = {
		{ "size=512M", 512 * MIB }, { "size=1G", GIB }, { "size=1M", MIB },
		{ "size=1T", 1024 * GIB }, { "size=4096K", 4 * MIB },
		{ "size=1073741824", GIB }, { "size=1052672", MIB + 4096 },
	};
	struct vm_config cfg;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--memory", good[i].arg), CONFIG_RUN);
		assert_int_equal(cfg.memory_size, good[i].bytes);
		config_free(&cfg);
	}
}

/* Every malformed command line: the message must contain `needle` (which names the option). */
#define K "--kernel", "k"
static const struct {
	const char *needle;
	const char *args[8];
} bad_cmdlines[] = {
	/* --cpus */
	{ "--cpus: empty value; expected --cpus boot=<n>", { K, "--cpus=" } },
	{ "--cpus: missing value", { K, "--cpus" } },
	{ "--cpus: missing value", { "--cpus", K } },
	{ "--cpus: 'boot' needs '=<value>'", { K, "--cpus", "boot" } },
	{ "--cpus: 'boot' needs '=<value>'", { K, "--cpus", "boot=" } },
	{ "--cpus: 'boot=0' is not a vCPU count; expected boot=<1..255>", { K, "--cpus", "boot=0" } },
	{ "--cpus: 'boot=256'", { K, "--cpus", "boot=256" } },
	{ "--cpus: 'boot=99999999999999999999'", { K, "--cpus", "boot=99999999999999999999" } },
	{ "--cpus: 'boot=-1'", { K, "--cpus", "boot=-1" } },
	{ "--cpus: 'boot=+1'", { K, "--cpus", "boot=+1" } },
	{ "--cpus: 'boot= 1'", { K, "--cpus", "boot= 1" } },
	{ "--cpus: 'boot=2x'", { K, "--cpus", "boot=2x" } },
	{ "--cpus: 'boot=0x2'", { K, "--cpus", "boot=0x2" } },
	{ "--cpus: 'max=0'", { K, "--cpus", "max=0" } },
	{ "--cpus: 'max=256'", { K, "--cpus", "boot=2,max=256" } },
	{ "--cpus: max=2 is less than boot=4; expected max >= boot", { K, "--cpus", "boot=4,max=2" } },
	{ "--cpus: unknown key 'topology'; valid keys: boot, max, features",
	  { K, "--cpus", "boot=1,topology=1:1:1:1" } },
	{ "--cpus: unknown key '2'", { K, "--cpus", "2" } },
	{ "--cpus: unknown key 'Boot'", { K, "--cpus", "Boot=1" } },
	{ "--cpus: key 'boot' given twice", { K, "--cpus", "boot=1,boot=2" } },
	{ "--cpus: empty item", { K, "--cpus", "boot=1,,max=2" } },
	{ "--cpus: empty item", { K, "--cpus", "boot=1," } },
	{ "--cpus: empty item", { K, "--cpus", ",boot=1" } },
	{ "--cpus: too many keys", { K, "--cpus", "a,b,c,d,e,f,g,h,i" } },
	{ "--cpus: 'features' needs", { K, "--cpus", "features=" } },
	{ "--cpus: unknown CPU feature 'foo'", { K, "--cpus", "features=foo" } },
	{ "--cpus: unknown CPU feature '-foo'", { K, "--cpus", "features=[-smap,-foo]" } },
	{ "--cpus: unknown CPU feature '+smap'", { K, "--cpus", "features=+smap" } },
	{ "--cpus: unknown CPU feature 'SMAP'", { K, "--cpus", "features=SMAP" } },
	{ "--cpus: unknown CPU feature '--smap'", { K, "--cpus", "features=--smap" } },
	{ "--cpus: unknown CPU feature ' smap'", { K, "--cpus", "features=[-xsave, smap]" } },
	{ "--cpus: unterminated '['", { K, "--cpus", "features=[-smap,-xsave" } },
	{ "--cpus: unterminated '['", { K, "--cpus", "features=[-smap,boot=2" } },
	{ "--cpus: misplaced ']'", { K, "--cpus", "features=-smap]" } },
	{ "--cpus: misplaced '['", { K, "--cpus", "features=[[smap]]" } },
	{ "--cpus: features=-smap[x]: bracket the whole list", { K, "--cpus", "features=-smap[x]" } },
	{ "--cpus: text after ']'", { K, "--cpus", "features=[smap]x" } },
	{ "--cpus: empty name", { K, "--cpus", "features=[smap,]" } },
	{ "--cpus: empty name", { K, "--cpus", "features=[,smap]" } },
	{ "--cpus: empty name", { K, "--cpus", "features=[smap,,avx]" } },
	{ "--cpus: empty name", { K, "--cpus", "features=-" } },
	{ "--cpus: empty name", { K, "--cpus", "features=[-]" } },
	{ "--cpus: features= both allows and hides 'smap'", { K, "--cpus", "features=[smap,-smap]" } },
	{ "--cpus: features= both allows and hides 'pni'", { K, "--cpus", "features=[sse3,-pni]" } },
	{ "--cpus given twice", { K, "--cpus", "boot=1", "--cpus=boot=2" } },
	/* --memory */
	{ "--memory: 'size=12Q' is not a valid size; expected size=<bytes>[K|M|G|T], e.g. size=512M",
	  { K, "--memory", "size=12Q" } },
	{ "--memory: 'size=99999999999T' is not a valid size", { K, "--memory", "size=99999999999T" } },
	{ "--memory: 'size=512m' is not a valid size", { K, "--memory", "size=512m" } },
	{ "--memory: 'size=1GB' is not", { K, "--memory", "size=1GB" } },
	{ "--memory: 'size=1GiB' is not", { K, "--memory", "size=1GiB" } },
	{ "--memory: 'size=1.5G' is not", { K, "--memory", "size=1.5G" } },
	{ "--memory: 'size=-1G' is not", { K, "--memory", "size=-1G" } },
	{ "--memory: 'size=G' is not", { K, "--memory", "size=G" } },
	{ "--memory: 'size' needs", { K, "--memory", "size=" } },
	{ "--memory: 'size' needs", { K, "--memory", "size" } },
	{ "--memory: empty value", { K, "--memory", "" } },
	{ "--memory: missing value", { K, "--memory" } },
	{ "--memory: size=0 is too small: the kernel and its boot structures need at least size=1M",
	  { K, "--memory", "size=0" } },
	{ "--memory: size=1020K is too small", { K, "--memory", "size=1020K" } },
	{ "--memory: size=1048577 is not a multiple of 4K", { K, "--memory", "size=1048577" } },
	{ "--memory: size=2T is above", { K, "--memory", "size=2T" } },
	{ "--memory: size=1048577M is above", { K, "--memory", "size=1048577M" } },
	{ "--memory: unknown key 'mergeable'; valid keys: size", { K, "--memory", "size=1G,mergeable=on" } },
	{ "--memory: unknown key '512M'", { K, "--memory", "512M" } },
	{ "--memory: key 'size' given twice", { K, "--memory", "size=1G,size=2G" } },
	{ "--memory given twice", { "--memory", "size=1G", K, "--memory=size=1G" } },
	/* --serial, --console, --host-quirks */
	{ "--serial: 'x' is not valid; expected tty|file=<path>|null|off", { K, "--serial", "x" } },
	{ "--console: 'x' is not valid; expected off|null|tty|file=<path>", { K, "--console", "x" } },
	{ "--serial: 'pty' is not supported by kiln yet", { K, "--serial", "pty" } },
	{ "--console: 'pty' is not supported by kiln yet", { K, "--console", "pty" } },
	{ "--serial: 'file=' needs a path", { K, "--serial", "file=" } },
	{ "--console: 'file=' needs a path", { K, "--console=file=" } },
	{ "--serial: 'TTY' is not valid", { K, "--serial", "TTY" } },
	{ "--serial: 'file' is not valid", { K, "--serial", "file" } },
	{ "--console: 'tty,iommu=on' is not valid", { K, "--console", "tty,iommu=on" } },
	{ "--serial: empty value", { K, "--serial", "" } },
	{ "--console: missing value", { K, "--console" } },
	{ "--serial given twice", { K, "--serial", "tty", "--serial", "null" } },
	{ "--console given twice", { K, "--console=off", "--console=off" } },
	{ "--host-quirks: 'yes' is not valid; expected auto|on|off", { K, "--host-quirks", "yes" } },
	{ "--host-quirks: empty value", { K, "--host-quirks=" } },
	{ "--host-quirks given twice", { K, "--host-quirks", "on", "--host-quirks", "on" } },
	/* paths, flags, arguments */
	{ "--kernel: empty value; expected --kernel <path>", { "--kernel=" } },
	{ "--kernel: missing value", { "--kernel" } },
	{ "--kernel: missing value", { "--kernel", "-v" } },
	{ "--kernel: missing value", { "--kernel", "--memory=size=1G" } },
	{ "--initramfs: empty value", { K, "--initramfs", "" } },
	{ "--initramfs: missing value", { K, "--initramfs" } },
	{ "--cmdline: missing value", { K, "--cmdline" } },
	{ "--kernel given twice", { "--kernel", "a", "--kernel=b" } },
	{ "--cmdline given twice", { K, "--cmdline=", "--cmdline", "x" } },
	{ "-vx: unknown option", { K, "-vx" } },
	{ "-x: unknown option", { K, "-x" } },
	{ "-v=1: unknown option", { K, "-v=1" } },
	{ "unexpected argument 'vmlinux'", { "vmlinux" } },
	{ "unexpected argument 'extra'", { K, "extra" } },
	{ "unexpected argument 'extra'", { K, "--", "extra" } },
	{ "unexpected argument '-'", { K, "-" } },
	{ "--foo: unknown option", { K, "--foo" } },
	{ "--foo: unknown option", { K, "--foo=1" } },
	{ "--foo: unknown option", { "--foo", "--help" } }, /* an earlier error wins */
	{ "--kern: unknown option", { "--kern", "k" } },
	{ "--: unknown option", { K, "--=x" } },
	{ "--net: Cloud Hypervisor option not supported by kiln yet", { K, "--net", "tap=t0" } },
	{ "--net: Cloud Hypervisor option not supported", { K, "--net=tap=" } },
	{ "--cpus needs --kernel", { "--api-socket", "/tmp/s", "--cpus", "boot=2" } },
	{ "--memory needs --kernel", { "--api-socket=path=/tmp/s", "--memory", "size=1G" } },
	{ "--api-socket: empty path", { K, "--api-socket", "path=" } },
	{ "--api-socket: 'x' is not a file descriptor", { K, "--api-socket", "fd=x" } },
	{ "--api-socket: 'bogus=1' is not valid", { K, "--api-socket", "bogus=1" } },
	{ "--event-monitor: missing value", { K, "--event-monitor" } },
	{ "--api-socket given twice", { K, "--api-socket", "/a", "--api-socket", "/b" } },
	{ "--help: takes no value", { "--help=1" } },
	{ "--disk: path= is required", { K, "--disk", "readonly=on" } },
	{ "--disk: readonly=maybe: expected on or off", { K, "--disk", "path=/a,readonly=maybe" } },
	{ "--disk: queue_size=100: expected a power of two", { K, "--disk", "path=/a,queue_size=100" } },
	{ "--disk: num_queues=17", { K, "--disk", "path=/a,num_queues=17" } },
	{ "--disk: unknown key 'vhost_user'", { K, "--disk", "path=/a,vhost_user=on" } },
	{ "--disk: /a is given twice", { K, "--disk", "path=/a", "--disk", "path=/a" } },
	{ "--disk: id=x is used by two disks", { K, "--disk", "path=/a,id=x", "path=/b,id=x" } },
	{ "virtio-blk serials are at most 20", { K, "--disk", "path=/a,serial=123456789012345678901" } },
	{ "--rng: unknown key 'source'", { K, "--rng", "source=/dev/random" } },
	{ "--rng given twice", { K, "--rng", "src=/a", "--rng", "src=/b" } },
	{ "--kernel is required (the VM needs a payload)", { "--memory", "size=1G" } },
	{ "--kernel is required (the VM needs a payload)", { "-v", "--" } },
};
#undef K

static void test_disks(void **state)
{
	const char *argv[] = { "kiln", "--kernel", "/k", "--disk", "path=/a.img",
			       "path=/b.img,readonly=on,direct=on,serial=S1,num_queues=2,queue_size=256",
			       "--disk", "path=/c.img,id=data", "--rng", "src=/dev/random", NULL };
	struct vm_config cfg, copy;

	assert_int_equal(parse_argv(&cfg, argv), CONFIG_RUN);
	assert_int_equal(cfg.nr_disks, 3);
	assert_string_equal(cfg.disks[0].path, "/a.img");
	assert_string_equal(cfg.disks[0].id, "_disk0");
	assert_false(cfg.disks[0].readonly);
	assert_int_equal(cfg.disks[0].num_queues, 1);
	assert_int_equal(cfg.disks[0].queue_size, 128);
	assert_null(cfg.disks[0].serial);
	assert_true(cfg.disks[1].readonly);
	assert_true(cfg.disks[1].direct);
	assert_string_equal(cfg.disks[1].serial, "S1");
	assert_int_equal(cfg.disks[1].num_queues, 2);
	assert_int_equal(cfg.disks[1].queue_size, 256);
	assert_string_equal(cfg.disks[2].id, "data");
	assert_string_equal(cfg.rng_src, "/dev/random");
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(config_copy_vm(&copy, &cfg), 0);
	assert_string_equal(copy.disks[1].serial, "S1");
	assert_ptr_not_equal(copy.disks[1].path, cfg.disks[1].path);
	assert_string_equal(copy.rng_src, "/dev/random");
	config_free(&copy);
	config_free(&cfg);
}

static void test_bad_command_lines(void **state)
{
	static const struct vm_config zero = { .api_socket_fd = -1, .event_monitor_fd = -1 };

	for (size_t i = 0; i < sizeof(bad_cmdlines) / sizeof(bad_cmdlines[0]); i++) {
		const char *argv[10] = { "kiln" };
		struct vm_config cfg;
		int ret;

		memcpy(argv + 1, bad_cmdlines[i].args, sizeof(bad_cmdlines[i].args));
		ret = parse_argv(&cfg, argv);
		if (ret != -EINVAL || !strstr(err, bad_cmdlines[i].needle))
			print_error("case %zu: ret=%d err='%s' (wanted '%s')\n", i, ret, err,
				    bad_cmdlines[i].needle);
		assert_int_equal(ret, -EINVAL);
		assert_non_null(strstr(err, bad_cmdlines[i].needle));
		assert_null(strchr(err, '\n'));
		assert_memory_equal(&cfg, &zero, sizeof(cfg)); /* freed and zeroed */
	}
}

/* The names an unknown-feature error suggests must all be valid. */
static void test_feature_hint(void **state)
{
	struct vm_config cfg;
	char *list, *name, *save = NULL;

	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "features=nope"), -EINVAL);
	list = strstr(err, "include ");
	assert_non_null(list);
	list += strlen("include ");
	*strchr(list, '(') = '\0';
	for (name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
		if (!cpu_feature_find(name))
			print_error("hint names '%s'\n", name);
		assert_non_null(cpu_feature_find(name));
	}
}

static void test_no_arguments(void **state)
{
	struct vm_config cfg;
	const char *argv0[] = { "kiln", NULL };

	assert_int_equal(parse_argv(&cfg, argv0), -EINVAL);
	assert_string_equal(err, "--kernel is required (the VM needs a payload), unless "
				 "--api-socket is given to create the VM through the REST API");
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--"), CONFIG_RUN);
	config_free(&cfg);
}

/* --api-socket alone is a complete command line (the VM comes from vm.create). */
static void test_api_socket(void **state)
{
	struct vm_config cfg;

	assert_int_equal(PARSE(&cfg, "--api-socket", "/run/k.sock"), CONFIG_RUN);
	assert_null(cfg.kernel);
	assert_string_equal(cfg.api_socket_path, "/run/k.sock");
	assert_int_equal(cfg.api_socket_fd, -1);
	assert_true(config_has_api(&cfg));
	config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--api-socket=path=/x.sock", "--event-monitor", "fd=3"),
			 CONFIG_RUN);
	assert_string_equal(cfg.api_socket_path, "/x.sock");
	assert_int_equal(cfg.event_monitor_fd, 3);
	config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--api-socket", "fd=0", "--kernel", "k"), CONFIG_RUN);
	assert_int_equal(cfg.api_socket_fd, 0);
	assert_null(cfg.api_socket_path);
	assert_string_equal(cfg.kernel, "k");
	config_free(&cfg);
}

/* config_validate() and config_copy_vm(), used by vm.create. */
static void test_validate_copy(void **state)
{
	struct vm_config cfg, copy;

	config_init_defaults(&cfg);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "payload.kernel"));
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "boot=2,features=-avx",
			       "--api-socket", "/s"), CONFIG_RUN);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(config_copy_vm(&copy, &cfg), 0);
	assert_string_equal(copy.kernel, "k");
	assert_int_equal(copy.boot_vcpus, 2);
	assert_int_equal(copy.nr_cpu_features, 1);
	assert_string_equal(copy.cpu_features[0], "-avx");
	assert_null(copy.api_socket_path); /* process options are not copied */
	cfg.memory_size = 4097;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "memory.size"));
	config_free(&copy);
	config_free(&cfg);
}

static void test_help_version(void **state)
{
	static const char *const help[] = { "-h", "--help" }, *const ver[] = { "-V", "--version" };
	struct vm_config cfg;

	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(PARSE(&cfg, help[i]), CONFIG_HELP); /* no --kernel needed */
		assert_int_equal(PARSE(&cfg, ver[i]), CONFIG_VERSION);
		/* parsing stops there: what was parsed is dropped, defaults remain */
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--memory", "size=1G", help[i], "junk"),
				 CONFIG_HELP);
		assert_null(cfg.kernel);
		assert_int_equal(cfg.memory_size, 512 * MIB);
		assert_int_equal(PARSE(&cfg, "--cmdline", "x", ver[i]), CONFIG_VERSION);
		assert_null(cfg.cmdline);
	}
}

static void test_error_buffer(void **state)
{
	struct vm_config cfg;
	char small[8];
	const char *argv[] = { "kiln", "--memory", "size=1Q", NULL };

	memset(small, 'x', sizeof(small));
	assert_int_equal(config_parse(3, (char *const *)argv, &cfg, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "--memor");
	assert_int_equal(config_parse(3, (char *const *)argv, &cfg, NULL, 0), -EINVAL);
	assert_int_equal(config_parse(3, (char *const *)argv, NULL, small, sizeof(small)), -EINVAL);
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "4096", 4096 }, { "1K", 1024 }, { "512M", 512 * MIB },
		{ "1G", GIB }, { "3T", 3ULL << 40 }, { "007K", 7168 },
		{ "16777215T", 16777215ULL << 40 }, { "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};
	static const char *const bad[] = {
		"", "K", "1k", "1m", "1KB", "1KiB", "1B", "1P", "1E", " 1", "1 ", "+1", "-1", "0x10",
		"1.5G", "1e3", "99999999999T", "16777216T", "18446744073709551616",
		"99999999999999999999999", "17179869184G", "1KK", "1GM",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		assert_int_equal(config_parse_size(good[i].s, &v), 0);
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_parse_size(bad[i], &v) != -EINVAL)
			print_error("'%s' was accepted\n", bad[i]);
		assert_int_equal(config_parse_size(bad[i], &v), -EINVAL);
		assert_int_equal(v, 12345); /* untouched on error */
	}
	assert_int_equal(config_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(config_parse_size("1", NULL), -EINVAL);
}

static void test_cpu_features(void **state)
{
	static const struct { const char *name; unsigned int nr, leaf, reg, bit; } known[] = {
		{ "smap", 308, 7, 1, 20 }, { "popcnt", 151, 1, 2, 23 }, { "ssse3", 137, 1, 2, 9 },
		{ "xsave", 154, 1, 2, 26 }, { "pni", 128, 1, 2, 0 }, { "sse3", 128, 1, 2, 0 },
		{ "smep", 295, 7, 1, 7 }, { "avx2", 293, 7, 1, 5 }, { "avx512f", 304, 7, 1, 16 },
		{ "rdseed", 306, 7, 1, 18 }, { "fsgsbase", 288, 7, 1, 0 }, { "umip", 514, 7, 2, 2 },
		{ "pku", 515, 7, 2, 3 }, { "la57", 528, 7, 2, 16 }, { "x2apic", 149, 1, 2, 21 },
		{ "tsc_deadline_timer", 152, 1, 2, 24 }, { "pcid", 145, 1, 2, 17 },
		{ "sse4_1", 147, 1, 2, 19 }, { "sse4_2", 148, 1, 2, 20 }, { "aes", 153, 1, 2, 25 },
		{ "avx", 156, 1, 2, 28 }, { "rdrand", 158, 1, 2, 30 }, { "amx", 600, 7, 3, 24 },
	};
	unsigned int count;
	const struct cpu_feature *t = cpu_feature_table(&count);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct cpu_feature *f = cpu_feature_find(known[i].name);

		assert_non_null(f);
		assert_int_equal(f->linux_nr, known[i].nr);
		assert_int_equal(f->leaf, known[i].leaf);
		assert_int_equal(f->subleaf, 0);
		assert_int_equal(f->reg, known[i].reg);
		assert_int_equal(f->bit, known[i].bit);
	}
	assert_ptr_equal(cpu_feature_find("sse3"), cpu_feature_find("pni"));
	assert_ptr_equal(cpu_feature_find("amx"), cpu_feature_find("amx_tile"));
	assert_null(cpu_feature_find("foo"));
	assert_null(cpu_feature_find(""));
	assert_null(cpu_feature_find("-smap"));
	assert_null(cpu_feature_find("SMAP"));
	assert_null(cpu_feature_find(NULL));
	/* every entry: findable, unique, and its Linux number is word * 32 + CPUID bit */
	assert_true(count >= 22);
	assert_ptr_equal(cpu_feature_table(NULL), t);
	for (unsigned int i = 0; i < count; i++) {
		unsigned int word = t[i].leaf == 1 ? 4 : t[i].leaf == 0xd ? 10 : t[i].reg == 1 ? 9 :
				    t[i].reg == 2 ? 16 : 18;

		assert_non_null(t[i].name);
		assert_ptr_equal(cpu_feature_find(t[i].name), &t[i]);
		if (t[i].leaf == 0xd) /* XSAVE extensions: CPUID 0xd.1 EAX */
			assert_true(t[i].subleaf == 1 && t[i].reg == 0);
		else
			assert_true(t[i].leaf == 1 ? t[i].reg == 2 : t[i].leaf == 7 && t[i].reg != 0);
		assert_int_equal(t[i].linux_nr, word * 32 + t[i].bit);
		assert_true(t[i].bit < 32);
	}
}

static void test_cpu_mask(void **state)
{
	static struct cpu_feature fake[CPU_MASK_MAX + 1];
	struct cpu_mask m = { .nr = 0 };
	const struct cpu_feature *smap = cpu_feature_find("smap"), *pni = cpu_feature_find("pni");

	assert_false(cpu_mask_has(&m, smap));
	assert_int_equal(cpu_mask_add(&m, smap, "clac is not emulated"), 0);
	assert_true(cpu_mask_has(&m, smap));
	assert_false(cpu_mask_has(&m, pni));
	assert_int_equal(cpu_mask_add(&m, smap, "again"), 0);
	assert_int_equal(m.nr, 1);
	assert_string_equal(m.reason[0], "clac is not emulated");
	assert_int_equal(cpu_mask_add(&m, cpu_feature_find("sse3"), "alias"), 0);
	assert_true(cpu_mask_has(&m, pni));
	assert_int_equal(cpu_mask_add(&m, NULL, "x"), -EINVAL);
	assert_int_equal(cpu_mask_add(NULL, smap, "x"), -EINVAL);
	assert_false(cpu_mask_has(NULL, smap));
	assert_false(cpu_mask_has(&m, NULL));

	m.nr = 0;
	for (unsigned int i = 0; i <= CPU_MASK_MAX; i++) {
		fake[i].name = "fake";
		fake[i].linux_nr = (uint16_t)(1000 + i);
		assert_int_equal(cpu_mask_add(&m, &fake[i], "r"), i < CPU_MASK_MAX ? 0 : -ENOSPC);
	}
	assert_int_equal(m.nr, CPU_MASK_MAX);
	assert_false(cpu_mask_has(&m, &fake[CPU_MASK_MAX]));
	assert_int_equal(cpu_mask_add(&m, &fake[0], "dup still fine when full"), 0);
}

static void test_help_text(void **state)
{
	static const char *const want[] = {
		"--kernel <path>", "--initramfs <path>", "--cmdline <string>", "--cpus boot=<n>",
		"features=", "--memory size=<bytes>[K|M|G|T]", "default: size=512M",
		"--serial tty|file=<path>|null|off", "default: tty", "virtio-console",
		"--console off|null|tty|file=<path>", "default: off", "--host-quirks auto|on|off",
		"default: auto", "-v", "-h, --help", "-V, --version", "smap", "amx",
	};
	char path[] = "/tmp/kiln-help-XXXXXX", buf[8192];
	int fd = mkstemp(path), saved = dup(STDOUT_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	config_print_help();
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!strstr(buf, want[i]))
			print_error("help lacks '%s'\n", want[i]);
		assert_non_null(strstr(buf, want[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options_both_forms),
		cmocka_unit_test(test_verbosity),
		cmocka_unit_test(test_cpus_good),
		cmocka_unit_test(test_memory_good),
		cmocka_unit_test(test_bad_command_lines),
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_feature_hint),
		cmocka_unit_test(test_no_arguments),
		cmocka_unit_test(test_api_socket),
		cmocka_unit_test(test_validate_copy),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_cpu_features),
		cmocka_unit_test(test_cpu_mask),
		cmocka_unit_test(test_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
