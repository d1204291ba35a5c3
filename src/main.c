/* kiln: a KVM micro-VM monitor with Cloud Hypervisor's command line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define EXIT_VM_FAILED 1
#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vmm vmm;
	char err[512];
	int r, status = EXIT_VM_FAILED;

	log_init();
	signal(SIGPIPE, SIG_IGN); /* a closed serial output must not kill kiln */
	r = config_parse(argc, argv, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "kiln: error: %s\n", err);
		fprintf(stderr, "kiln: see 'kiln --help'\n");
		return EXIT_USAGE;
	}
	if (r == CONFIG_HELP) {
		config_print_help();
		return 0;
	}
	if (r == CONFIG_VERSION) {
		printf("kiln v%s\n", KILN_VERSION);
		return 0;
	}
	log_threshold = (enum log_level)(LOG_WARN + (cfg.verbosity > 2 ? 2 : cfg.verbosity));
	if (vcpu_signals_init() < 0)
		goto out_cfg;
	if (vmm_init(&vmm, &cfg))
		goto out_cfg;
	if (cfg.serial == OUTPUT_TTY)
		console_raw_mode();

	for (unsigned int boot = 1;; boot++) {
		struct vm vm;
		enum vm_exit why;

		if (vm_create(&vm, &vmm))
			break;
		log_info("vm", "boot %u: %u vCPU(s), %llu MiB", boot, cfg.boot_vcpus,
			 (unsigned long long)(cfg.memory_size >> 20));
		why = vm_run(&vm);
		vm_destroy(&vm);
		if (why == VM_EXIT_RESET) {
			log_info("vm", "rebooting: building a new VM with the same payload");
			host_quirks_reset_vm(&vmm.quirks);
			continue;
		}
		if (why == VM_EXIT_POWEROFF)
			status = 0;
		break;
	}
	console_restore();
	vmm_cleanup(&vmm);
out_cfg:
	config_free(&cfg);
	return status;
}
