#!/bin/sh
# Configure and build a kernel tree for the lab.
#
#   lab/kernel.sh config [SRC OBJ]   allnoconfig + lab/kconfig/*.config, verified
#   lab/kernel.sh build  [SRC OBJ]   bzImage + modules (config first when needed)
#   lab/kernel.sh make   [SRC OBJ] -- ARGS   any kbuild target with the lab's flags
#   lab/kernel.sh extmod [SRC OBJ] -- ARGS   kbuild in an already configured and built
#                                            tree (M= modules), never reconfiguring it
#
# SRC defaults to build/linux (the patched tree), OBJ to build/obj.
# Output goes to build/logs/; a failure prints the command and its last lines.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/lab/versions.env"
cmd=${1:-}
[ $# -gt 0 ] && shift
src=$top/build/linux
obj=$top/build/obj
if [ $# -ge 2 ] && [ "$1" != -- ]; then src=$1 obj=$2; shift 2; fi
[ "${1:-}" = -- ] && shift
. "$top/lab/progress.sh"
logs=$top/build/logs
mkdir -p "$logs" "$obj"
# One set of logs per object directory: build/obj logs as build.log, others
# (bisect-check) under their directory's name.
tag=
[ "$obj" = "$top/build/obj" ] || tag="$(basename "$obj")-"
frag="$top/lab/kconfig/lab.config"
extra_frags=${SPM_KCONFIG_EXTRA:-}

say() { printf '[kernel] %s\n' "$*"; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

[ -f "$src/Makefile" ] || die "no kernel source at $src (run 'make tree')"
PATH="$HOME/.cargo/bin:$PATH"
export PATH
LIBCLANG_PATH=/usr/lib/llvm$LLVM_SUFFIX/lib
CCACHE_BASEDIR=$top
CCACHE_NOHASHDIR=1
CCACHE_SLOPPINESS=time_macros
KBUILD_BUILD_TIMESTAMP="Wed Jan  1 00:00:00 UTC 2025"
KBUILD_BUILD_USER=spmlab
KBUILD_BUILD_HOST=spmlab
export LIBCLANG_PATH CCACHE_BASEDIR CCACHE_NOHASHDIR CCACHE_SLOPPINESS
export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER KBUILD_BUILD_HOST

jobs=${JOBS:-$(($(nproc) + 1))}

kmake() {
	make -C "$src" O="$obj" LLVM="$LLVM_SUFFIX" \
		"CC=ccache clang$LLVM_SUFFIX" \
		-j"$jobs" "$@"
}

# Run kmake, logging to $logs/$1.log; on failure show the command and the
# lines that matter.
logged() {
	name=$1
	shift
	log="$logs/$tag$name.log"
	progress_start kernel "$log"
	if ! kmake "$@" >"$log" 2>&1; then
		progress_stop
		printf '[kernel] failed: make -C %s O=%s LLVM=%s %s\n' "$src" "$obj" "$LLVM_SUFFIX" "$*" >&2
		grep -n -E 'error:|Error [0-9]|undefined reference|^make.*\*\*\*' "$log" | head -n 15 >&2 || true
		printf '[kernel] last lines of %s:\n' "$log" >&2
		tail -n 25 "$log" >&2
		exit 1
	fi
	progress_stop
}

# Every CONFIG_ line of the fragments must be in the final .config as written
# ("# CONFIG_X is not set" lines likewise).
verify_config() {
	bad=0
	# The fragments' requests, the last one for each symbol winning (as in
	# Kconfig); "=n" means "is not set".
	cat "$frag" $extra_frags | awk '
		/^CONFIG_[A-Za-z0-9_]+=/ { n = $0; sub(/=.*/, "", n); v = $0
			if (v ~ /=n$/) v = "# " n " is not set"; want[n] = v; order[n] = NR }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { n = $2; want[n] = $0; order[n] = NR }
		END { for (n in want) print order[n] "\t" want[n] }' |
		sort -n | cut -f2- >"$obj/.spmlab.wanted"
	{
		while IFS= read -r want; do
			case "$want" in
			"# "*" is not set")
				# Off: "is not set", or absent (dependencies unmet).
				n=${want#\# }
				grep -q "^${n%% *}=" "$obj/.config" || continue
				;;
			esac
			if ! grep -qxF "$want" "$obj/.config"; then
				name=$(printf '%s' "$want" | sed -e 's/^# //' -e 's/[= ].*//')
				# Building an early commit of the series (bisect-check):
				# symbols that its Kconfig does not define yet are fine.
				if [ "${SPM_LENIENT_CONFIG:-0}" = 1 ] &&
					! grep -rqs --include='Kconfig*' "^config ${name#CONFIG_}\$" "$src"; then
					continue
				fi
				got=$(grep -E "^$name=|^# $name is not set" "$obj/.config" || echo "absent")
				say "config mismatch: wanted '$want', got '$got'"
				bad=1
			fi
		done
	} <"$obj/.spmlab.wanted"
	if [ $bad = 1 ]; then
		if ! grep -qx CONFIG_RUST=y "$obj/.config"; then
			say "CONFIG_RUST is off; 'make rustavailable' says:"
			kmake rustavailable 2>&1 | tail -n 5 || true
		fi
		die "the lab config did not come out as lab/kconfig/lab.config asks"
	fi
}

cmd_config() {
	stamp="$obj/.spmlab-config"
	hash=$(cat "$frag" $extra_frags | sha256sum | cut -d' ' -f1)
	if [ -f "$obj/.config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
		return 0
	fi
	say "configuring: allnoconfig + lab/kconfig/lab.config${extra_frags:+ + $extra_frags} ($obj)"
	cat "$frag" $extra_frags >"$obj/.spmlab.allconfig"
	logged config KCONFIG_ALLCONFIG="$obj/.spmlab.allconfig" allnoconfig
	verify_config
	logged rustavailable rustavailable
	echo "$hash" >"$stamp"
}

cmd_build() {
	cmd_config
	start=$(date +%s)
	say "building bzImage and modules in $obj (log: $logs/${tag}build.log)"
	logged build bzImage modules
	say "built $(cat "$obj/include/config/kernel.release") in $(($(date +%s) - start)) s"
}

case "$cmd" in
config) cmd_config ;;
build) cmd_build ;;
make) cmd_config && kmake "$@" ;;
extmod)
	[ -f "$obj/.config" ] && [ -f "$obj/Module.symvers" ] || die "no built kernel in $obj"
	kmake "$@"
	;;
*) die "usage: $0 config|build|make|extmod [SRC OBJ] [-- ARGS]" ;;
esac
