#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/reset_vector.h"
#include "hw/debug_port.h"
#include "util/log.h"
#include "vmm/console.h"
#include "vmm/vcpu.h"

static void log_mask(const struct vmm *vmm)
{
	char buf[512];
	size_t n = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < vmm->mask.nr && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s-%s (%s)", i ? ", " : "",
				      vmm->mask.hidden[i]->name, vmm->mask.reason[i]);
	if (vmm->mask.nr == 0)
		log_info("cpu", "CPU feature mask: none; the guest sees every feature KVM supports");
	else
		log_info("cpu", "CPU feature mask: %s; applied through %s", buf,
			 vmm->quirks.active ? "the guest command line (clearcpuid=), since this host "
					      "ignores KVM_SET_CPUID2, and KVM_SET_CPUID2"
					    : "KVM_SET_CPUID2");
}

static int build_mask(struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	int r;

	for (unsigned int i = 0; i < cfg->nr_cpu_features; i++) {
		const char *name = cfg->cpu_features[i];
		if (name[0] != '-')
			continue; /* a feature to allow: kiln passes all supported ones already */
		const struct cpu_feature *f = cpu_feature_find(name + 1);
		if (!f)
			continue; /* config_parse() rejected unknown names */
		r = cpu_mask_add(&vmm->mask, f, "user: --cpus features=");
		if (r)
			return r;
	}
	return host_quirks_add_mask(&vmm->quirks, &vmm->mask);
}

/* --serial / --console: the output fd for `mode` (stdout for tty, a truncated file, or -1)
 * and whether stdin feeds the device. `name` is the option, for the error line. */
static int open_output(enum output_mode mode, const char *file, const char *name, int *fd,
		       bool *in)
{
	*fd = -1;
	*in = false;
	if (mode == OUTPUT_TTY) {
		*fd = STDOUT_FILENO;
		*in = true;
	} else if (mode == OUTPUT_FILE) {
		*fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (*fd < 0) {
			int r = -errno;
			log_error(name, "--%s file=%s: cannot open: %s", name, file, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int open_serial(struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;

	return open_output(cfg->serial, cfg->serial_file, "serial", &vmm->serial_out_fd,
			   &vmm->serial_in);
}

/* --console (virtio-console): where hvc0's output goes and whether stdin feeds it. */
static int open_console(struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;

	if (cfg->console == OUTPUT_TTY && cfg->serial == OUTPUT_TTY) {
		log_error("console", "--console tty and --serial tty both want the terminal; "
			  "give one of them off, null or file=<path>");
		return -EINVAL;
	}
	return open_output(cfg->console, cfg->console_file, "console", &vmm->console_out_fd,
			   &vmm->console_in);
}

int vmm_init(struct vmm *vmm, enum quirks_mode quirks)
{
	int r;

	memset(vmm, 0, sizeof(*vmm));
	vmm->sys.fd = -1;
	vmm->serial_out_fd = -1;
	vmm->console_out_fd = -1;

	r = kvm_sys_open(&vmm->sys);
	if (r) {
		log_error("kvm", "cannot use /dev/kvm: %s%s", strerror(-r),
			  r == -ENOENT ? " (is the kvm module loaded?)" :
			  r == -EACCES ? " (add yourself to the kvm group)" : "");
		goto fail;
	}
	r = kvm_get_supported_cpuid(&vmm->sys, &vmm->supported_cpuid);
	if (r) {
		log_error("kvm", "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-r));
		goto fail;
	}
	host_quirks_init(&vmm->quirks, quirks);
	log_info("host", "%s", vmm->quirks.why);
	return 0;

fail:
	vmm_cleanup(vmm);
	return r;
}

int vmm_configure(struct vmm *vmm, const struct vm_config *cfg)
{
	int r;

	vmm_unconfigure(vmm);
	vmm->cfg = cfg;
	r = build_mask(vmm);
	if (r) {
		log_error("cpu", "too many CPU features to hide");
		goto fail;
	}
	log_mask(vmm);
	vmm->cmdline = host_quirks_cmdline(&vmm->quirks, &vmm->mask, cfg->cmdline);
	if (!vmm->cmdline) {
		r = -ENOMEM;
		goto fail;
	}
	log_info("boot", "guest command line: %s", vmm->cmdline);
	r = open_serial(vmm);
	if (!r)
		r = open_console(vmm);
	if (r)
		goto fail;
	return 0;

fail:
	vmm_unconfigure(vmm);
	return r;
}

void vmm_unconfigure(struct vmm *vmm)
{
	free(vmm->cmdline);
	vmm->cmdline = NULL;
	if (vmm->serial_out_fd > STDERR_FILENO)
		close(vmm->serial_out_fd);
	vmm->serial_out_fd = -1;
	vmm->serial_in = false;
	if (vmm->console_out_fd > STDERR_FILENO)
		close(vmm->console_out_fd);
	vmm->console_out_fd = -1;
	vmm->console_in = false;
	memset(&vmm->mask, 0, sizeof(vmm->mask));
	vmm->cfg = NULL;
}

void vmm_cleanup(struct vmm *vmm)
{
	vmm_unconfigure(vmm);
	free(vmm->supported_cpuid);
	vmm->supported_cpuid = NULL;
	kvm_sys_close(&vmm->sys);
}

static void vm_power_event(void *opaque, enum power_event ev)
{
	struct vm *vm = opaque;

	log_info("vm", "guest requested %s", ev == POWER_EVENT_OFF ? "poweroff" : "reset");
	vm_request_exit(vm, ev == POWER_EVENT_OFF ? VM_EXIT_POWEROFF : VM_EXIT_RESET);
}

static void vm_irq_line(void *opaque, unsigned int irq, int level)
{
	struct vm *vm = opaque;
	int r = kvm_vm_irq_line(&vm->kvm, irq, level);

	if (r)
		log_ratelimited(LOG_WARN, "irq", "KVM_IRQ_LINE %u=%d failed: %s", irq, level,
				strerror(-r));
}

static int register_devices(struct vm *vm)
{
	struct vmm *vmm = vm->vmm;
	int r;

	vm->serial = serial_new(vmm->serial_out_fd, IRQ_COM1, vm_irq_line, vm);
	if (!vm->serial)
		return -ENOMEM;
	vm->i8042 = (struct i8042){ .power_fn = vm_power_event, .power_opaque = vm };
	vm->acpi_pm = (struct acpi_pm){ .power_fn = vm_power_event, .power_opaque = vm };
	uint64_t low = vm->mem.regions[0].size;
	cmos_init(&vm->cmos, low, vm->mem.ram_size - low);
	ged_init(&vm->ged, IRQ_GED, vm_irq_line, vm);

	vm->pio.kind = "pio";
	vm->mmio.kind = "mmio";
	if (vmm->cfg->serial != OUTPUT_OFF) {
		r = bus_register(&vm->pio, PORT_COM1, 8, serial_pio, vm->serial, "serial");
		if (r)
			return r;
	}
	r = bus_register(&vm->pio, PORT_I8042_DATA, 1, i8042_data_pio, &vm->i8042, "i8042");
	if (!r)
		r = bus_register(&vm->pio, PORT_I8042_CMD, 1, i8042_cmd_pio, &vm->i8042, "i8042");
	if (!r)
		r = bus_register(&vm->pio, PORT_CMOS, 2, cmos_pio, &vm->cmos, "cmos");
	if (!r)
		r = bus_register(&vm->pio, PORT_DEBUG, 1, debug_port_pio, NULL, "debug-port");
	if (!r)
		r = bus_register(&vm->pio, PORT_ACPI_PM, 1, acpi_pm_pio, &vm->acpi_pm, "acpi-pm");
	if (!r)
		r = bus_register(&vm->mmio, LAYOUT_GED_ADDR, LAYOUT_GED_SIZE, ged_mmio, &vm->ged,
				 "ged");
	return r;
}

static int setup_memory(struct vm *vm)
{
	int r = guest_mem_init(&vm->mem, vm->vmm->cfg->memory_size, LAYOUT_MEM_32BIT_HOLE);

	if (r) {
		log_error("memory", "cannot allocate %llu MiB of guest memory: %s",
			  (unsigned long long)(vm->vmm->cfg->memory_size >> 20), strerror(-r));
		return r;
	}
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_mem_region *g = &vm->mem.regions[i];
		r = kvm_vm_set_memory(&vm->kvm, i, g->gpa, g->size, g->hva);
		if (r) {
			log_error("memory", "KVM_SET_USER_MEMORY_REGION %u failed: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Reads the kernel and initramfs (again at each reboot, as they may have been updated) into
 * guest memory; the host copies are freed at once so they add nothing to kiln's resident set. */
static int load_payload(struct vm *vm)
{
	const struct vm_config *cfg = vm->vmm->cfg;
	struct boot_file kernel, initramfs = { 0 };
	struct boot_error err;
	int r;

	r = boot_file_read(cfg->kernel, "kernel", cfg->memory_size, &kernel, &err);
	if (r)
		goto out;
	if (cfg->initramfs) {
		r = boot_file_read(cfg->initramfs, "initramfs", cfg->memory_size, &initramfs, &err);
		if (r)
			goto out_kernel;
	}
	struct boot_request req = {
		.kernel = &kernel,
		.initramfs = cfg->initramfs ? &initramfs : NULL,
		.cmdline = vm->vmm->cmdline,
	};
	r = boot_load(&vm->mem, &req, &vm->entry, &err);
	boot_file_free(&initramfs);
out_kernel:
	boot_file_free(&kernel);
out:
	if (r)
		log_error("boot", "%s", err.msg);
	return r;
}

int vm_create(struct vm *vm, struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->vmm = vmm;
	vm->kvm.fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0)
		return -errno;
	r = kvm_vm_create(&vmm->sys, &vm->kvm);
	if (r) {
		log_error("kvm", "cannot create a VM: %s", strerror(-r));
		goto fail;
	}
	r = setup_memory(vm);
	if (r)
		goto fail;
	r = kvm_vm_create_irqchip(&vm->kvm);
	if (r) {
		log_error("kvm", "cannot create the in-kernel irqchip and PIT: %s", strerror(-r));
		goto fail;
	}
	r = load_payload(vm);
	if (r)
		goto fail;
	log_info("boot", "loaded %s, entry %#llx", vm->entry.format,
		 (unsigned long long)vm->entry.rip);
	r = acpi_build(&vm->mem, cfg->boot_vcpus);
	if (r) {
		log_error("acpi", "cannot build ACPI tables: %s", strerror(-r));
		goto fail;
	}
	r = reset_vector_write(&vm->mem);
	if (r) {
		log_error("vm", "cannot write the reset vector: %s", strerror(-r));
		goto fail;
	}
	r = register_devices(vm);
	if (r) {
		log_error("vm", "cannot set up devices: %s", strerror(-r));
		goto fail;
	}
	r = vm_devices_create(vm);
	if (r)
		goto fail;
	vm->vcpus = calloc(cfg->boot_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned int i = 0; i < cfg->boot_vcpus; i++) {
		r = vcpu_create(&vm->vcpus[i], vm, i);
		if (r) {
			log_error("vcpu", "cannot create vCPU %u: %s", i, strerror(-r));
			goto fail;
		}
		vm->nr_vcpus = i + 1;
	}
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

void vm_request_exit(struct vm *vm, enum vm_exit why)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;

	atomic_compare_exchange_strong(&vm->exit, &expected, (int)why);
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	ssize_t w = write(vm->wake_fd, &one, sizeof(one));
	(void)w;
}

int vm_power_button(struct vm *vm)
{
	if (!vm)
		return -EINVAL;
	if (atomic_load(&vm->stopping) || atomic_load(&vm->exit) != VM_EXIT_NONE)
		return -ESHUTDOWN;
	return ged_power_button(&vm->ged);
}

/* Moves bytes from stdin into the UART while it has room. Returns false on EOF or error. */
static bool pump_stdin(struct vm *vm)
{
	uint8_t buf[16];
	size_t room = serial_rx_space(vm->serial);

	if (room == 0)
		return true;
	if (room > sizeof(buf))
		room = sizeof(buf);
	ssize_t n = read(STDIN_FILENO, buf, room);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	serial_queue_input(vm->serial, buf, (size_t)n);
	return true;
}

static volatile sig_atomic_t dump_pending;

static void dump_handler(int sig)
{
	(void)sig;
	dump_pending = 1;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = dump_handler };

	/* SIGUSR2: every vCPU logs where it is (for a guest that seems stuck). */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	vm->stdin_open = vm->vmm->serial_in && vm->vmm->cfg->serial == OUTPUT_TTY;
	if (vm_devices_start(vm)) {
		log_error("vm", "cannot start the device thread");
		vm_request_exit(vm, VM_EXIT_FATAL);
		return -EAGAIN;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		int r = vcpu_start(&vm->vcpus[i]);
		if (r) {
			log_error("vcpu", "cannot start vCPU %u thread: %s", i, strerror(-r));
			vm_request_exit(vm, VM_EXIT_FATAL);
			return r;
		}
	}
	return 0;
}

bool vm_wants_stdin(const struct vm *vm)
{
	return vm->stdin_open && !atomic_load(&vm->pause_requested) &&
	       serial_rx_space(vm->serial) > 0;
}

int vm_poll_timeout_ms(const struct vm *vm)
{
	/* A full receive FIFO is re-checked every 10 ms; the quirks poll every 50 ms. */
	if (vm->stdin_open && !vm_wants_stdin(vm) && !atomic_load(&vm->pause_requested))
		return 10;
	return host_quirks_want_poll(&vm->vmm->quirks) ? 50 : -1;
}

void vm_service(struct vm *vm, bool wake, bool stdin_ready, bool timed_out)
{
	uint64_t v;

	if (wake) {
		ssize_t n = read(vm->wake_fd, &v, sizeof(v));
		(void)n;
	}
	if (dump_pending) {
		dump_pending = 0;
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			vcpu_request_dump(&vm->vcpus[i]);
	}
	if (stdin_ready && vm_wants_stdin(vm))
		vm->stdin_open = pump_stdin(vm);
	if (timed_out && host_quirks_want_poll(&vm->vmm->quirks) && vm->nr_vcpus &&
	    !atomic_load(&vm->pause_requested))
		vcpu_kick(&vm->vcpus[0]);
}

enum vm_exit vm_exit_reason(const struct vm *vm)
{
	return (enum vm_exit)atomic_load(&vm->exit);
}

enum vm_exit vm_run(struct vm *vm)
{
	if (vm_start(vm))
		return VM_EXIT_FATAL;
	while (vm_exit_reason(vm) == VM_EXIT_NONE) {
		struct pollfd p[2] = {
			{ .fd = vm->wake_fd, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool want_in = vm_wants_stdin(vm);
		int n = poll(p, want_in ? 2 : 1, vm_poll_timeout_ms(vm));

		if (n < 0 && errno != EINTR)
			break;
		vm_service(vm, n > 0 && (p[0].revents & POLLIN),
			   want_in && n > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)), n == 0);
	}
	atomic_store(&vm->stopping, true);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	return vm_exit_reason(vm);
}

/* Waits (bounded) until every started vCPU is parked or the VM is stopping. */
static int wait_parked(struct vm *vm)
{
	struct timespec deadline;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < vm->nr_vcpus && !atomic_load(&vm->stopping) && r == 0)
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	pthread_mutex_unlock(&vm->pause_lock);
	return r ? -ETIMEDOUT : 0;
}

int vm_pause(struct vm *vm)
{
	int r;

	if (atomic_exchange(&vm->pause_requested, true))
		return -EALREADY;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	r = wait_parked(vm);
	if (r) {
		log_error("vm", "pause: not every vCPU stopped within 5 s; resuming");
		vm_resume(vm);
		return r;
	}
	vm_devices_stop(vm); /* devices stop touching guest memory too */
	return 0;
}

int vm_resume(struct vm *vm)
{
	if (!atomic_load(&vm->pause_requested))
		return -EALREADY;
	if (vm_devices_start(vm))
		log_error("vm", "resume: cannot restart the device thread; virtio devices stay "
			  "stopped");
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

void vm_vcpu_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_destroy(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	vm_devices_destroy(vm);
	if (vm->serial)
		serial_free(vm->serial);
	vm->serial = NULL;
	kvm_vm_close(&vm->kvm);
	guest_mem_free(&vm->mem);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	vm->wake_fd = -1;
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
}
