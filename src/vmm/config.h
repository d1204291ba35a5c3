/* kiln's VM configuration and its command line, in Cloud Hypervisor's syntax: options take
 * comma-separated key=value lists ("--cpus boot=2", "--memory size=1G"). */
#ifndef KILN_VMM_CONFIG_H
#define KILN_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum output_mode { OUTPUT_OFF, OUTPUT_NULL, OUTPUT_TTY, OUTPUT_FILE };

/* auto: on when the host is detected to emulate guest kernel mode (kvm_pvm); on/off force. */
enum quirks_mode { QUIRKS_AUTO, QUIRKS_ON, QUIRKS_OFF };

#define CONFIG_MAX_CPU_FEATURES 32
#define CONFIG_MAX_DISKS 16

/* --disk path=,readonly=on|off,direct=on|off,id=,serial=,num_queues=,queue_size= (Cloud
 * Hypervisor's DiskConfig names). */
struct disk_config {
	char *path;              /* raw image, owned */
	bool readonly;           /* VIRTIO_BLK_F_RO, image opened O_RDONLY */
	bool direct;             /* O_DIRECT */
	char *id;                /* owned; default "_disk<N>" as Cloud Hypervisor */
	char *serial;            /* owned or NULL: VIRTIO_BLK_T_GET_ID answer, <= 20 bytes */
	unsigned int num_queues; /* 1..16, default 1 */
	unsigned int queue_size; /* power of two 1..1024 (advertised max), default 128 */
};
#define CONFIG_MAX_VCPUS 255

struct vm_config {
	char *kernel;     /* --kernel PATH; owned */
	char *initramfs;  /* --initramfs PATH or NULL; owned */
	char *cmdline;    /* --cmdline STR or NULL; owned */
	unsigned int boot_vcpus; /* --cpus boot=N, 1..CONFIG_MAX_VCPUS, default 1 */
	unsigned int max_vcpus;  /* --cpus max=N, >= boot_vcpus, default boot_vcpus */
	/* --cpus features=: names from vmm/cpu_features.h; a leading '-' hides the feature from
	 * the guest. Owned strings. */
	char *cpu_features[CONFIG_MAX_CPU_FEATURES];
	unsigned int nr_cpu_features;
	uint64_t memory_size;    /* --memory size=, bytes, multiple of 4 KiB, default 512 MiB */
	enum output_mode serial; /* --serial tty|file=PATH|null|off, default tty (see README) */
	char *serial_file;       /* owned, with OUTPUT_FILE */
	enum output_mode console; /* --console off|null|tty|file=PATH (virtio-console: later) */
	char *console_file;
	struct disk_config disks[CONFIG_MAX_DISKS]; /* --disk, repeatable */
	unsigned int nr_disks;
	char *rng_src;           /* --rng src=PATH; owned, NULL = no virtio-rng (default /dev/urandom when --rng given) */
	int verbosity;           /* number of -v */
	enum quirks_mode host_quirks; /* --host-quirks auto|on|off */
	/* Process options (not part of a VM's configuration): */
	char *api_socket_path;   /* --api-socket path=PATH (or bare PATH); owned, or NULL */
	int api_socket_fd;       /* --api-socket fd=N: an inherited listening socket; -1 if none */
	char *event_monitor_path; /* --event-monitor path=PATH; owned, or NULL */
	int event_monitor_fd;    /* --event-monitor fd=N: an inherited writable fd; -1 if none */
};

/* True when kiln serves the REST API (--api-socket given). */
static inline bool config_has_api(const struct vm_config *cfg)
{
	return cfg->api_socket_path || cfg->api_socket_fd >= 0;
}

/* What config_parse() asks the caller to do. */
enum config_action { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION };

/* Parses argv (argv[0] is the program name) into cfg, starting from defaults.
 * On error returns -EINVAL and writes a one-line message naming the option and the expected
 * form into err (errlen bytes, NUL-terminated, no trailing newline); cfg is then freed.
 * On success returns a config_action. A missing --kernel is an error for CONFIG_RUN unless
 * --api-socket is given (the VM then comes from vm.create); cfg->kernel is NULL then. */
int config_parse(int argc, char *const argv[], struct vm_config *cfg, char *err, size_t errlen);

/* Defaults for a VM configuration (1 vCPU, 512 MiB, serial tty, console off): what
 * vm.create starts from before applying its JSON. No strings are allocated. */
void config_init_defaults(struct vm_config *cfg);

/* Checks the VM part of cfg as the command-line parser does (vCPU counts, memory size range
 * and alignment, CPU feature names, a kernel path). Returns 0, or -EINVAL with a one-line
 * message naming the field (JSON names: "cpus.boot_vcpus", "memory.size", ...) in err. */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);

/* Deep copy of the VM part of src into dst (process options are not copied: dst gets none).
 * Returns 0 or -ENOMEM (dst then holds nothing to free). */
int config_copy_vm(struct vm_config *dst, const struct vm_config *src);

/* Releases the strings cfg owns and zeroes it. */
void config_free(struct vm_config *cfg);

/* Parses a size "512M", "1G", "4096", "64K" (K/M/G/T, powers of 1024, optional "B"/"iB" not
 * accepted: Cloud Hypervisor takes only the bare suffix). Returns 0 or -EINVAL (empty, junk,
 * overflow). */
int config_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* Writes the --help text to the given FILE-like stdout. */
void config_print_help(void);

#endif
