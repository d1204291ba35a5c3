"""Debian's stock cloud kernel, booted as a bzImage and as a PVH ELF (vmlinux), to the busybox
/init of scripts/guest-artifacts. Slow: a stock-kernel boot takes 3-4 minutes on a host that
emulates guest kernel mode, so both VMs are started together when the module starts (unless
pytest-xdist runs the tests: then each test starts its own) and each boot carries many checks."""
import os

import pytest

from conftest import Kiln

pytestmark = pytest.mark.linux

# kiln adds what the host needs (noxsave, clearcpuid=..., and on emulating hosts
# cryptomgr.notests and the ftrace initcall blacklist). mitigations=off is the test's choice:
# retpolines and return thunks multiply the instructions an emulated boot executes.
# lockdown=confidentiality skips creating tracefs files for every trace event and
# mitigations=off the mitigations' extra instructions: minutes per boot where guest kernel code
# is emulated (README, "Hosts whose KVM emulates guest kernel mode").
CMDLINE = "console=ttyS0 panic=-1 mitigations=off lockdown=confidentiality"
BOOT_T = 1200     # seconds from the test's start to /init's marker
SHELL_T = 120     # a shell command's round trip (exec costs are high here)
MARKER = r"KILN-INIT-OK uptime=([0-9.]+) cpus=(\d+) memtotal_kb=(\d+)"
PROMPT = r"kiln# "

VMS = {
    "bzimage": {"test": "test_bzimage_2cpus_shell_reboot_poweroff", "kernel": "vmlinuz",
                "args": ["--cpus", "boot=2", "--memory", "size=256M"]},
    "pvh": {"test": "test_pvh_vmlinux_poweroff", "kernel": "vmlinux",
            "args": ["--cpus", "boot=2", "--memory", "size=256M"]},
}


class LinuxPool:
    """Starts each VM of VMS at most once; kills them all at the end of the module."""

    def __init__(self, artifacts, logdir):
        self.artifacts = artifacts
        self.logdir = logdir
        self.vms = {}

    def get(self, name):
        if name not in self.vms:
            spec = VMS[name]
            args = ["--kernel", self.artifacts[spec["kernel"]],
                    "--initramfs", self.artifacts["initramfs.cpio"],
                    "--cmdline", CMDLINE] + spec["args"]
            self.vms[name] = Kiln(args, self.logdir / ("kiln-%s.log" % name), name)
        return self.vms[name]

    def kill_all(self):
        for k in self.vms.values():
            k.kill()


@pytest.fixture(scope="module")
def linux_pool(request, kiln_bin, artifacts, tmp_path_factory):
    pool = LinuxPool(artifacts, tmp_path_factory.mktemp("linux"))
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        selected = {getattr(item, "originalname", item.name) for item in request.session.items
                    if getattr(item, "module", None) is request.module}
        for name, spec in VMS.items():
            if spec["test"] in selected:
                pool.get(name)  # boots in the background while earlier tests run
    yield pool
    pool.kill_all()


def vm_for(request, pool, name):
    k = pool.get(name)
    request.node.kiln_runs = [k]
    return k


def wait_for_init(k):
    """Waits for /init's marker; returns (uptime s, cpus, MemTotal kB)."""
    m = k.expect(MARKER, BOOT_T)
    uptime, cpus, mem = float(m.group(1)), int(m.group(2)), int(m.group(3))
    print("%s: /init after %.0f s (guest uptime %.1f s)" % (k.name, k.elapsed(), uptime))
    return uptime, cpus, mem


def test_bzimage_2cpus_shell_reboot_poweroff(request, linux_pool):
    k = vm_for(request, linux_pool, "bzimage")
    _, cpus, mem = wait_for_init(k)
    assert cpus == 2
    # 256 MiB less the kernel image, its reservations and the initramfs.
    assert 150_000 <= mem <= 262_144, "implausible MemTotal %d kB for 256M" % mem
    k.expect(PROMPT, SHELL_T)
    k.send("echo $((6*7))-typed\n")   # the console echoes the line: only the shell says 42
    k.expect(r"42-typed", SHELL_T)
    k.expect(PROMPT, SHELL_T)
    k.send("reboot -f\n")
    _, cpus, _ = wait_for_init(k)       # the same kernel and initramfs again
    assert cpus == 2
    k.expect(PROMPT, SHELL_T)
    k.send("poweroff -f\n")
    assert k.wait(120) == 0


def test_pvh_vmlinux_poweroff(request, linux_pool):
    k = vm_for(request, linux_pool, "pvh")
    _, cpus, mem = wait_for_init(k)
    # 2 vCPUs: on a host that emulates guest kernel mode a kernel thread was seen spinning for
    # minutes (kcompactd, under heavy host load); with one vCPU that stalls /init entirely.
    assert cpus == 2
    assert 150_000 <= mem <= 262_144, "implausible MemTotal %d kB for 256M" % mem
    k.expect(PROMPT, SHELL_T)
    k.send("poweroff -f\n")
    assert k.wait(120) == 0
