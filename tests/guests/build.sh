#!/bin/sh
# Builds the tiny PVH test guests: tests/guests/build.sh OUTDIR
# Each NAME.S becomes OUTDIR/NAME.elf (ELF64 x86-64, loaded at 1 MiB, Xen PHYS32_ENTRY note).
# Needs a C compiler driver for the preprocessor and GNU ld (binutils).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
CC=${CC:-cc}
LD=${LD:-ld}
ldflags="-m elf_x86_64 -nostdlib --build-id=none -z noexecstack -z max-page-size=0x1000"
# The guests are one RWX segment on purpose; binutils >= 2.39 would warn about it.
$LD --help 2>/dev/null | grep -q -- --no-warn-rwx-segments && ldflags="$ldflags --no-warn-rwx-segments"
$CC -c -m64 -o "$out/lib.o" "$src/lib.S"
for s in "$src"/*.S; do
	name=$(basename "$s" .S)
	[ "$name" = lib ] && continue
	$CC -c -m64 -o "$out/$name.o" "$s"
	# shellcheck disable=SC2086
	$LD $ldflags -T "$src/guest.ld" -o "$out/$name.elf" "$out/lib.o" "$out/$name.o"
	rm -f "$out/$name.o"
done
rm -f "$out/lib.o"
