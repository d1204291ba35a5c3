"""Shared helpers of kiln's bench/ scripts: set-up (packages, kiln build, bench guests),
statistics, the QEMU microvm reference command, and /proc/PID/smaps accounting.

Not a test library: the scripts print figures for a human to read; nothing here asserts."""
import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
QEMU = "qemu-system-x86_64"
# Debian packages the benchmarks need beyond kiln's own build dependencies.
BENCH_PACKAGES = {"qemu-system-x86_64": "qemu-system-x86", "hyperfine": "hyperfine"}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def setup():
    """Makes SIGTERM and SIGINT (even when inherited as ignored, as in background jobs) unwind
    the script, so its finally blocks stop the VMMs it started; then installs packages."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    ensure_packages()


def ensure_packages():
    """Installs the reference VMM and hyperfine with apt-get when missing (root only)."""
    missing = [pkg for tool, pkg in BENCH_PACKAGES.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log("missing %s and cannot install (not root or no apt-get); continuing without"
            % " ".join(missing))
        return
    log("installing " + " ".join(missing))
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)


def kiln_binary():
    """Returns kiln's path: $KILN if set, else builds build/kiln with scripts/build."""
    if os.environ.get("KILN"):
        return os.path.abspath(os.environ["KILN"])
    out = subprocess.run([os.path.join(REPO, "scripts", "build"), "build"], cwd=REPO,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return os.path.join(REPO, out.strip().splitlines()[-1])


def bench_guests():
    """Builds bench/guest/*.S into a temporary directory; returns {name: path}."""
    out = os.path.join(tempfile.gettempdir(), "kiln-bench-guests-%d" % os.getpid())
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["sh", os.path.join(BENCH, "guest", "build.sh"), out], check=True)
    return {n: os.path.join(out, n + ".elf") for n in ("first_insn", "alive")}


def qemu_cmd(kernel, mem_mib, serial="none", extra=()):
    """QEMU microvm command line booting a PVH ELF directly (qboot firmware, no devices but
    isa-debug-exit at 0xf4 so the bench guest can end it; exit status 1 = guest wrote 0)."""
    return [QEMU, "-M", "microvm", "-accel", "kvm", "-m", "%dM" % mem_mib, "-smp", "1",
            "-nodefaults", "-no-user-config", "-nographic", "-serial", serial,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", kernel] + list(extra)


def qemu_version():
    try:
        out = subprocess.run([QEMU, "--version"], stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout
        return out.splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def qemu_usable(first_insn):
    """Returns None if QEMU microvm boots the bench guest and exits through isa-debug-exit,
    else a one-line reason why it cannot serve as the reference here."""
    if shutil.which(QEMU) is None:
        return "%s not installed (Debian package qemu-system-x86)" % QEMU
    try:
        p = subprocess.run(qemu_cmd(first_insn, 512), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "QEMU microvm did not finish the bench guest within 30 s"
    if p.returncode != 1:
        err = (p.stderr.strip().splitlines() or ["no message"])[-1]
        return "QEMU microvm exited %d on the bench guest: %s" % (p.returncode, err)
    return None


def host_description():
    """One line: CPU model, core count, KVM backend."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    backend = "kvm_pvm (nested PVM: guest kernel mode is emulated)" \
        if os.path.exists("/sys/module/kvm_pvm") else \
        "kvm_intel" if os.path.exists("/sys/module/kvm_intel") else \
        "kvm_amd" if os.path.exists("/sys/module/kvm_amd") else "unknown"
    return "%s, %d cores, KVM backend %s, kernel %s" % (model, os.cpu_count() or 0, backend,
                                                     os.uname().release)


def header(title):
    print("=" * 78)
    print(title)
    print("date: %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    print("host: %s" % host_description())
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print("load average at start: %s (other work on this shared machine skews the figures)"
              % load)
    except OSError:
        pass
    print("=" * 78)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values):
    """(min, median, p90) of a non-empty list."""
    return min(values), statistics.median(values), percentile(values, 90)


def fmt_ms(v):
    return "%8.2f ms" % (v * 1000.0) if v is not None else "%11s" % "n/a"


def smaps_rss(pid, guest_bytes):
    """Reads /proc/PID/smaps. Returns a dict: total_kb (sum of Rss of every mapping), guest_kb
    (Rss of the anonymous or memfd mapping whose size equals guest_bytes: the guest RAM; the
    first such if several; None if none), overhead_kb (total minus guest), file_kb / anon_kb
    (the overhead split into file-backed mappings, mostly shared library text, and the rest),
    private_kb (Private_Clean + Private_Dirty of the overhead mappings: pages no other process
    shares), top (the largest other mappings as (rss_kb, name))."""
    maps = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                name = " ".join(fields[5:])
                cur = {"size": hi - lo, "name": name, "rss": 0, "priv": 0, "inode": fields[4]}
                maps.append(cur)
            elif fields[0] == "Rss:" and cur is not None:
                cur["rss"] = int(fields[1])
            elif fields[0] in ("Private_Clean:", "Private_Dirty:") and cur is not None:
                cur["priv"] += int(fields[1])
    guest = None
    for m in maps:
        anonymous = (m["inode"] == "0" and not m["name"]) or m["name"].startswith("/memfd:")
        if m["size"] == guest_bytes and anonymous:
            guest = m
            break
    others = [m for m in maps if m is not guest]
    file_kb = sum(m["rss"] for m in others
                  if m["name"].startswith("/") and not m["name"].startswith("/memfd:"))
    total = sum(m["rss"] for m in maps)
    overhead = total - (guest["rss"] if guest else 0)
    top = sorted(others, key=lambda m: -m["rss"])[:6]
    return {"total_kb": total, "guest_kb": guest["rss"] if guest else None,
            "overhead_kb": overhead, "file_kb": file_kb, "anon_kb": overhead - file_kb,
            "private_kb": sum(m["priv"] for m in others),
            "top": [(m["rss"], m["name"] or "[anon %d KiB]" % (m["size"] // 1024)) for m in top]}


def wait_for_text(path, text, timeout, proc=None):
    """Polls file PATH until it contains TEXT; returns the time it appeared (monotonic) or None
    on timeout or when PROC has exited."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                if text.encode() in f.read():
                    return time.monotonic()
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.005)
    return None


def stop(proc):
    """Ends a child VMM started by a bench script (by its own pid) and reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
