#!/bin/sh
# The allocator and fault-path benchmark: the unpatched base against the
# patched kernel, each built with lab.config + bench.config and booted under
# QEMU TCG with -icount shift=0,sleep=off (guest nanoseconds are guest
# instructions), one CPU, preset ram.
#
#   lab/bench.sh module SRC OBJ DEST   build bench/kmod against a kernel tree
#                                      into DEST, and bench/fault (static)
#   lab/bench.sh run                   `make bench`: build both kernels, boot
#                                      each, report (build/bench/)
#
# Iteration counts: BENCH_ITERS0 BENCH_ITERS9 BENCH_REPS BENCH_FAULT_MIB
# BENCH_FAULT_REPS.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ksrc=$top/build/linux
out=$top/build/bench
spmlab=$top/tools/spmlab/target/release/spmlab

say() { printf '[bench] %s\n' "$*"; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# Build the module out of tree against SRC/OBJ, in a copy under DEST (so that
# one source serves several kernels), and the static fault benchmark.
cmd_module() {
	[ $# = 3 ] || die "usage: $0 module SRC OBJ DEST"
	src=$1 obj=$2 dest=$3
	sh "$top/lab/extmod.sh" "$top/bench/kmod" "$dest" "$src" "$obj" ||
		die "building spm_bench against $obj failed"
	gcc -O2 -Wall -Wextra -Werror -static -o "$dest/spm_fault" "$top/bench/fault/spm_fault.c" ||
		die "building spm_fault failed"
}

# Build one kernel: $1 = base|spm.
build_kernel() {
	which=$1
	obj=$out/obj-$which
	if [ "$which" = base ]; then
		src=$out/base-src
		if [ ! -d "$src" ]; then
			git -C "$ksrc" worktree add -q --detach "$src" spm-base ||
				die "cannot make a worktree of spm-base"
		fi
		git -C "$src" checkout -q --detach spm-base
		lenient=1
	else
		# Exactly the exported series: patches/series applied to the base
		# (not whatever is being edited in build/linux).
		src=$out/spm-src
		stamp=$(cat "$top/patches/series" "$top"/patches/0*.patch | sha256sum | cut -c1-16)
		if [ ! -d "$src" ]; then
			git -C "$ksrc" worktree add -q --detach "$src" spm-base ||
				die "cannot make a worktree of the base"
		fi
		if [ "$(cat "$out/spm-src.stamp" 2>/dev/null)" != "$stamp" ]; then
			git -C "$src" checkout -q --detach spm-base
			for p in $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/series"); do
				git -C "$src" -c user.name=spmlab -c user.email=spmlab@localhost \
					am -q --keep-cr "$top/patches/$p" >/dev/null 2>&1 ||
					{ git -C "$src" am --abort >/dev/null 2>&1; die "$p does not apply"; }
			done
			echo "$stamp" >"$out/spm-src.stamp"
		fi
		lenient=0
	fi
	start=$(date +%s)
	say "building the $which kernel ($obj)"
	SPM_KCONFIG_EXTRA="$top/lab/kconfig/bench.config" SPM_LENIENT_CONFIG=$lenient \
		sh "$top/lab/kernel.sh" build "$src" "$obj" >"$out/build-$which.log" 2>&1 ||
		{ tail -n 20 "$out/build-$which.log" >&2; die "the $which kernel did not build"; }
	if [ "$which" = base ] && grep -q '^CONFIG_SPM_NODES' "$obj/.config"; then
		die "the base kernel has SPM symbols: $src is not the unpatched tree"
	fi
	say "built the $which kernel in $(($(date +%s) - start)) s"
	cmd_module "$src" "$obj" "$out/kmod-$which"
	size "$obj/vmlinux" | tail -n 1 >"$out/size-$which.txt"
}

boot_kernel() {
	which=$1
	say "booting the $which kernel under -icount (preset ram, 1 CPU)"
	start=$(date +%s)
	"$spmlab" boot --top "$top" --results "$out/results" --name "bench-$which" \
		--kernel "$out/obj-$which/arch/x86/boot/bzImage" --preset ram --cpus 1 --icount \
		--script lab/guest/bench.sh --arg "kmod=$out/kmod-$which/spm_bench.ko" \
		--arg "fault=$out/kmod-$which/spm_fault" \
		--arg "iters0=${BENCH_ITERS0:-200000}" --arg "iters9=${BENCH_ITERS9:-20000}" \
		--arg "reps=${BENCH_REPS:-3}" --arg "fmib=${BENCH_FAULT_MIB:-64}" \
		--arg "freps=${BENCH_FAULT_REPS:-3}" --timeout 1200 >"$out/boot-$which.txt" ||
		{ cat "$out/boot-$which.txt" >&2; die "the $which kernel's benchmark run failed"; }
	cp "$top/build/runs/bench-$which/output.log" "$out/output-$which.log"
	say "ran the $which kernel's benchmarks in $(($(date +%s) - start)) s"
}

cmd_run() {
	[ -d "$ksrc/.git" ] || die "no kernel tree (make tree)"
	[ -x "$spmlab" ] || die "no spmlab (make tools)"
	rm -rf "$out/results"
	mkdir -p "$out"
	t0=$(date +%s)
	build_kernel base
	build_kernel spm
	boot_kernel base
	boot_kernel spm
	say "built and ran both kernels in $(($(date +%s) - t0)) s; results, table and plot in $out"
	# The report ends with the summary line; it fails when a target is missed.
	"$spmlab" bench-report --base "$out/output-base.log" --spm "$out/output-spm.log" \
		--size-base "$out/size-base.txt" --size-spm "$out/size-spm.txt" --out "$out"
}

case "${1:-}" in
module) shift && cmd_module "$@" ;;
run) cmd_run ;;
*) die "usage: $0 module SRC OBJ DEST | run" ;;
esac
