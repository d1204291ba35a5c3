#!/bin/sh
# Builds the bench guests: bench/guest/build.sh OUTDIR -> OUTDIR/first_insn.elf, OUTDIR/alive.elf
# (ELF64, loaded at 1 MiB, Xen PHYS32_ENTRY note; linked with the test guests' linker script).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
CC=${CC:-cc}
LD=${LD:-ld}
ldflags="-m elf_x86_64 -nostdlib --build-id=none -z noexecstack -z max-page-size=0x1000"
$LD --help 2>/dev/null | grep -q -- --no-warn-rwx-segments && ldflags="$ldflags --no-warn-rwx-segments"
for name in first_insn alive; do
	$CC -c -m64 -o "$out/$name.o" "$src/$name.S"
	# shellcheck disable=SC2086
	$LD $ldflags -T "$src/../../tests/guests/guest.ld" -o "$out/$name.elf" "$out/$name.o"
	rm -f "$out/$name.o"
done
