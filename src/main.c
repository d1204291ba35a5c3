/* kiln: a KVM micro-VM monitor with Cloud Hypervisor's command line and REST API. */
#include <signal.h>
#include <stdio.h>

#include "util/log.h"
#include "vmm/config.h"
#include "vmm/controller.h"
#include "vmm/vcpu.h"

#define EXIT_VM_FAILED 1
#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[512];
	int r, status = EXIT_VM_FAILED;

	log_init();
	signal(SIGPIPE, SIG_IGN); /* a closed serial output or API client must not kill kiln */
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
	if (vcpu_signals_init() == 0)
		status = controller_run(&cfg);
	config_free(&cfg);
	return status;
}
