#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/regs.h"
#include "util/log.h"
#include "vmm/exit_report.h"
#include "vmm/vm.h"

#define SIG_VCPU_KICK SIGUSR1

static __thread struct kvm_run *tls_run;

static void kick_handler(int sig)
{
	(void)sig;
	if (tls_run)
		tls_run->immediate_exit = 1;
}

int vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIG_VCPU_KICK, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vcpu *c, struct vm *vm, unsigned int id)
{
	struct vmm *vmm = vm->vmm;
	struct kvm_cpuid2 *cpuid;
	int r;

	c->vm = vm;
	c->started = false;
	r = kvm_vcpu_create(&vm->kvm, id, &c->kvm);
	if (r)
		return r;
	cpuid = cpuid_for_vcpu(vmm->supported_cpuid, id, vmm->cfg->boot_vcpus, &vmm->mask);
	if (!cpuid) {
		r = -ENOMEM;
		goto err;
	}
	r = kvm_vcpu_set_cpuid(&c->kvm, cpuid);
	free(cpuid);
	if (r)
		goto err;
	r = regs_init_vcpu(&c->kvm);
	if (r)
		goto err;
	if (id == 0) {
		r = regs_init_boot_vcpu(&c->kvm, &vm->entry);
		if (r)
			goto err;
	}
	return 0;
err:
	kvm_vcpu_close(&c->kvm);
	return r;
}

static void handle_io(struct vcpu *c)
{
	struct kvm_run *run = c->kvm.run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_access(&c->vm->pio, run->io.port, data, run->io.size, is_write))
			log_ratelimited(LOG_DEBUG, "pio", "vCPU %u: %s of %u bytes at unhandled port %#x",
					c->kvm.id, is_write ? "write" : "read", run->io.size,
					run->io.port);
	}
}

static void handle_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->kvm.run;
	unsigned int len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (!bus_access(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write))
		log_ratelimited(LOG_DEBUG, "mmio", "vCPU %u: %s of %u bytes at unhandled address %#llx",
				c->kvm.id, run->mmio.is_write ? "write" : "read", len,
				(unsigned long long)run->mmio.phys_addr);
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *c)
{
	struct vm *vm = c->vm;
	struct kvm_run *run = c->kvm.run;
	int r;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(c);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(c);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
			r = host_quirks_emulation_failure(&vm->vmm->quirks, &c->kvm, &vm->mem);
			if (r == 0)
				return true;
		}
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vm_request_exit(vm, VM_EXIT_RESET);
			return false;
		}
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_request_exit(vm, VM_EXIT_POWEROFF);
			return false;
		}
		break;
	default:
		break;
	}
	exit_report(&c->kvm, &vm->mem);
	vm_request_exit(vm, VM_EXIT_FATAL);
	return false;
}

static void vcpu_dump_state(struct vcpu *c)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (kvm_vcpu_get_regs(&c->kvm, &regs) || kvm_vcpu_get_sregs(&c->kvm, &sregs))
		return;
	log_warn("vcpu", "vCPU %u: RIP %#llx RSP %#llx RFLAGS %#llx CPL %u CR3 %#llx", c->kvm.id,
		 (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		 (unsigned long long)regs.rflags, sregs.cs.selector & 3u,
		 (unsigned long long)sregs.cr3);
}

void vcpu_request_dump(struct vcpu *c)
{
	atomic_store(&c->dump_requested, true);
	vcpu_kick(c);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vm *vm = c->vm;
	struct host_quirks *q = &vm->vmm->quirks;
	char name[16];

	unsigned long long last_poll_ns = 0;

	snprintf(name, sizeof(name), "kiln-vcpu%u", c->kvm.id);
	pthread_setname_np(pthread_self(), name);
	tls_run = c->kvm.run;

	while (!atomic_load(&vm->stopping)) {
		int r;

		if (atomic_load(&vm->pause_requested)) {
			vm_vcpu_park(vm);
			continue;
		}
		r = kvm_vcpu_run(&c->kvm);

		if (r == -EINTR || r == -EAGAIN) {
			c->kvm.run->immediate_exit = 0;
			if (atomic_exchange(&c->dump_requested, false))
				vcpu_dump_state(c);
			if (c->kvm.id == 0 && host_quirks_want_poll(q))
				host_quirks_poll(q, &c->kvm, &vm->mem);
			continue;
		}
		if (r) {
			log_error("vcpu", "vCPU %u: KVM_RUN failed: %s", c->kvm.id, strerror(-r));
			vm_request_exit(vm, VM_EXIT_FATAL);
			break;
		}
		if (!handle_exit(c))
			break;
		/* Between kicks, poll at most every 10 ms: an exit costs far less than the
		 * KVM_GET_MSRS a poll does. */
		if (c->kvm.id == 0 && host_quirks_want_poll(q) &&
		    log_elapsed_ns() - last_poll_ns > 10000000ull) {
			last_poll_ns = log_elapsed_ns();
			host_quirks_poll(q, &c->kvm, &vm->mem);
		}
	}
	tls_run = NULL;
	return NULL;
}

int vcpu_start(struct vcpu *c)
{
	sigset_t set, old;
	int r;

	/* The thread starts with SIG_VCPU_KICK unblocked; everything else stays with main. */
	sigfillset(&set);
	sigdelset(&set, SIG_VCPU_KICK);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	r = pthread_create(&c->thread, NULL, vcpu_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	c->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *c)
{
	if (c->started)
		pthread_kill(c->thread, SIG_VCPU_KICK);
}

void vcpu_destroy(struct vcpu *c)
{
	if (c->started) {
		vcpu_kick(c);
		pthread_join(c->thread, NULL);
		c->started = false;
	}
	kvm_vcpu_close(&c->kvm);
}
