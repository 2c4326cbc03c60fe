#!/bin/sh
# Build an out-of-tree module directory against a kernel tree, the way a
# vendor would (make -C <tree> O=<build> M=<dir>), in a copy under DEST so
# that one source serves several kernels. Warnings fail the build.
#
#   lab/extmod.sh DIR DEST [SRC OBJ]    (SRC/OBJ default: build/linux, build/obj)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 2 ] || [ $# = 4 ] || { echo "usage: $0 DIR DEST [SRC OBJ]" >&2; exit 2; }
dir=$1 dest=$2
src=${3:-$top/build/linux} obj=${4:-$top/build/obj}
name=$(basename "$dir")
[ -f "$obj/Module.symvers" ] || { echo "[extmod] no built kernel in $obj" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$dir"/. "$dest/"
log=$dest/build.log
if ! sh "$top/lab/kernel.sh" extmod "$src" "$obj" -- M="$dest" modules >"$log" 2>&1; then
	grep -E 'error|warning' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
	echo "[extmod] building $name against $obj failed (log: $log)" >&2
	exit 1
fi
if grep -q 'warning:' "$log"; then
	grep -A3 'warning:' "$log" >&2
	echo "[extmod] $name built with warnings (log: $log)" >&2
	exit 1
fi
