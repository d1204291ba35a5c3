"""Bad files and malformed command lines: kiln must fail fast (10 s) with a non-zero status,
never by a signal, and say on stderr, in a line starting "kiln: ", which file or option."""
import random
import re
import struct

import pytest

T = 10


def elf_file(ei_class, machine, with_load=False):
    """An ELF executable of the given class (1: 32-bit, 2: 64-bit) and e_machine; with_load adds
    one PT_LOAD of 4 KiB at 1 MiB, as a real kernel of that kind would have. No PVH note."""
    ident = b"\x7fELF" + bytes([ei_class, 1, 1]) + bytes(9)
    phnum = 1 if with_load else 0
    if ei_class == 1:
        hdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0x100000, 52, 0, 0, 52,
                                  32, phnum, 40, 0, 0)
        ph = struct.pack("<IIIIIIII", 1, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000, 7, 0x1000)
    else:
        hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x100000, 64, 0, 0, 64,
                                  56, phnum, 64, 0, 0)
        ph = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000, 0x1000)
    data = hdr + (ph if with_load else b"")
    return data + b"\xf4" * (0x2000 - len(data))  # hlt


def run_bad(run_kiln, *args, name=None):
    k = run_kiln(*args, name=name)
    rc = k.wait(T)
    assert rc > 0, "expected a failure status, got %s (negative: killed by a signal)" \
        % (rc)
    lines = [ln for ln in k.stderr.splitlines() if ln.strip()]
    assert lines, "nothing on stderr"
    return k, rc, lines


def assert_names(k, lines, needle):
    hits = [ln for ln in lines if ln.startswith("kiln: ") and needle in ln]
    assert hits, "no stderr line starting 'kiln: ' names %r" % needle


def assert_option_error(k, rc, lines, name):
    """Exit 2; the first stderr line names the option; at most one more (a --help hint)."""
    assert rc == 2
    assert lines[0].startswith("kiln: ") and name in lines[0], \
        "first stderr line does not name %r" % name
    assert len(lines) <= 2, "expected one error line (and at most a hint) on stderr"
    assert k.stdout == "", "the guest ran despite the bad option"


@pytest.fixture
def write(tmp_path):
    def w(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        return p
    return w


def test_missing_kernel(run_kiln, tmp_path):
    path = tmp_path / "no-such-kernel"
    k, rc, lines = run_bad(run_kiln, "--kernel", path)
    assert rc == 1
    assert_names(k, lines, str(path))


def test_directory_as_kernel(run_kiln, tmp_path):
    k, rc, lines = run_bad(run_kiln, "--kernel", tmp_path)
    assert rc == 1
    assert_names(k, lines, str(tmp_path))


@pytest.mark.parametrize("kind", ["empty", "random", "elf32-i386", "elf64-aarch64",
                                  "elf64-aarch64-load", "elf32-i386-load", "elf64-x86-no-pvh"])
def test_bad_kernel_file(run_kiln, write, kind):
    data = {
        "empty": b"",
        "random": random.Random(1234).randbytes(64 * 1024),
        "elf32-i386": elf_file(1, 3),
        "elf64-aarch64": elf_file(2, 183),
        "elf64-aarch64-load": elf_file(2, 183, with_load=True),
        "elf32-i386-load": elf_file(1, 3, with_load=True),
        "elf64-x86-no-pvh": elf_file(2, 62, with_load=True),  # no Xen PHYS32_ENTRY note
    }[kind]
    path = write(kind + ".bin", data)
    k, rc, lines = run_bad(run_kiln, "--kernel", path)
    assert rc == 1
    assert_names(k, lines, str(path))


@pytest.mark.parametrize("size", [600, 20000])
def test_truncated_bzimage(run_kiln, write, artifacts, size):
    with open(artifacts["vmlinuz"], "rb") as f:
        data = f.read(size)
    path = write("vmlinuz-%d" % size, data)
    k, rc, lines = run_bad(run_kiln, "--kernel", path)
    assert rc == 1
    assert_names(k, lines, str(path))


def test_missing_initramfs(run_kiln, guests, tmp_path):
    path = tmp_path / "no-such-initramfs"
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--initramfs", path)
    assert rc == 1
    assert_names(k, lines, str(path))
    assert "hello" not in k.stdout, "the guest ran despite the bad initramfs"


def test_initramfs_larger_than_memory(run_kiln, guests, tmp_path):
    path = tmp_path / "huge-initramfs"
    with open(path, "wb") as f:
        f.truncate(96 << 20)  # sparse: costs no disk
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--initramfs", path,
                           "--memory", "size=64M")
    assert rc == 1
    assert_names(k, lines, str(path))
    assert "hello" not in k.stdout, "the guest ran despite the oversized initramfs"


BAD_OPTIONS = [
    (["--cpus", "boot=0"], "cpus"),
    (["--cpus", "boot=abc"], "cpus"),
    (["--cpus", "boot=2,max=1"], "cpus"),
    (["--cpus", "bogus=1"], "cpus"),
    (["--memory", "size=12Q"], "memory"),
    (["--memory", "size="], "memory"),
    (["--memory", "frob=1G"], "memory"),
    (["--serial", "bogus"], "serial"),
    (["--console", "bogus"], "console"),
    (["--host-quirks", "maybe"], "host-quirks"),
    (["--frobnicate"], "frobnicate"),
    (["--cmdline"], "cmdline"),  # missing value
    (["--disk", "readonly=on"], "disk"),
    (["--disk", "path=/x.img,queue_size=3"], "disk"),
    (["--disk", "path=/x.img,readonly=maybe"], "disk"),
    (["--disk", "path=/x.img,vhost_user=on"], "disk"),
    (["--disk", "path=/x.img", "--disk", "path=/x.img"], "disk"),
    (["--rng", "source=/dev/random"], "rng"),
    (["--console", "pty"], "console"),
]


@pytest.mark.parametrize("opts,name", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_malformed_option(run_kiln, guests, opts, name):
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], *opts)
    assert_option_error(k, rc, lines, name)


def test_kernel_option_required(run_kiln):
    k, rc, lines = run_bad(run_kiln, "--memory", "size=64M")
    assert_option_error(k, rc, lines, "kernel")


def test_help_and_version(run_kiln):
    k = run_kiln("--help")
    assert k.wait(T) == 0
    assert "--kernel" in k.stdout
    k = run_kiln("--version")
    assert k.wait(T) == 0
    assert re.search(r"\d+\.\d+\.\d+", k.stdout + k.stderr)


def test_disk_missing_or_directory(run_kiln, guests, tmp_path):
    for path in (tmp_path / "no-such-disk.img", tmp_path):
        k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--disk", "path=%s" % path)
        assert rc == 1
        assert_names(k, lines, str(path))
        assert "hello" not in k.stdout, "the guest ran despite the bad disk"


def test_disk_held_by_another_kiln(run_kiln, guests, tmp_path):
    """A raw image is locked by the kiln using it: a second kiln is refused before boot."""
    img = tmp_path / "shared.img"
    img.write_bytes(bytes(1 << 20))
    first = run_kiln("--kernel", guests["ticker"], "--disk", "path=%s" % img, name="first")
    first.expect(r"tick", 30)
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--disk", "path=%s" % img,
                           name="second")
    assert rc == 1
    assert_names(k, lines, "in use")
    assert_names(k, lines, str(img))
    # read-only use of a locked image is refused too (the first kiln writes to it)
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"],
                           "--disk", "path=%s,readonly=on" % img, name="third")
    assert rc == 1
    first.kill()


def test_rng_source_missing(run_kiln, guests, tmp_path):
    path = tmp_path / "no-such-entropy"
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--rng", "src=%s" % path)
    assert rc == 1
    assert_names(k, lines, str(path))


def test_console_and_serial_both_tty(run_kiln, guests):
    k, rc, lines = run_bad(run_kiln, "--kernel", guests["hello"], "--console", "tty")
    assert rc == 1
    assert_names(k, lines, "--serial tty")
