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
#   lab/bench.sh compare               `make compare-baseline`: the isolation
#                                      workloads on both kernels (build/compare/)
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

# The isolation workloads (tools/testing/selftests/spm) on the unpatched base
# kernel, with the RAM-backed node onlined as ordinary memory, and on the
# patched kernel, with the node registered as SPM: one table of the pages
# that landed on the node, per workload.
cmd_compare() {
	[ -d "$ksrc/.git" ] || die "no kernel tree (make tree)"
	ksft=$top/build/ksft-obj/install
	[ -x "$ksft/spm/run_spm.sh" ] || die "no $ksft/spm/run_spm.sh (make ksft)"
	cmp=$top/build/compare
	rm -rf "$cmp"
	mkdir -p "$cmp"
	build_kernel base
	build_kernel spm
	for which in base spm; do
		obj=$out/obj-$which
		if [ "$which" = base ]; then
			set -- --arg mode=control
		else
			set -- --append spm_nodes=1 --arg mode=spm --arg "ko=$obj/lib/test_spm.ko" \
				--arg expect_spm=1 --arg "allow_skip=${SPM_ALLOW_SKIP:?}"
		fi
		say "running the isolation workloads on the $which kernel (preset ram)"
		start=$(date +%s)
		"$spmlab" boot --top "$top" --results "$cmp/results" --name "compare-$which" \
			--kernel "$obj/arch/x86/boot/bzImage" --preset ram "$@" \
			--script lab/guest/spm-selftest.sh --arg "ksft=$ksft" \
			--arg "brd=$obj/drivers/block/brd.ko" --arg ksft_timeout=1740 --timeout 1800 >"$cmp/boot-$which.txt" || true
		cp "$top/build/runs/compare-$which/output.log" "$cmp/output-$which.log"
		[ -s "$top/build/runs/compare-$which/out/leaks.txt" ] ||
			{ tail -n 20 "$cmp/boot-$which.txt" >&2; die "the $which kernel reported no workloads"; }
		cp "$top/build/runs/compare-$which/out/leaks.txt" "$cmp/leaks-$which.txt"
		say "ran them on the $which kernel in $(($(date +%s) - start)) s"
	done
	compare_table "$cmp/leaks-base.txt" "$cmp/leaks-spm.txt" >"$cmp/table.md"
	cat "$cmp/table.md"
	# The patched kernel's own run must pass: the table is only worth
	# something if its tests did.
	grep -q '^FAIL' "$cmp/boot-spm.txt" && die "the patched kernel's isolation tests failed (see $cmp/boot-spm.txt)"
	return 0
}

# compare_table BASE SPM: leak lines ("workload=W node=N used=U held=H
# landed=L allocs=A") to a Markdown table, in the patched run's order.
compare_table() {
	echo "| workload | base kernel, node ordinary: pages landed (allocations) | patched, node SPM: pages landed (allocations) |"
	echo "|---|---:|---:|"
	awk '
		function val(line, key) { return match(line, key "=[^ ]+") ? substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1) : "" }
		FNR == NR { w = val($0, "workload"); if (!(w in base)) base[w] = val($0, "landed") " (" val($0, "allocs") ")"; next }
		{ w = val($0, "workload"); if (seen[w]++) next
		  printf "| %s | %s | %s |\n", w, (w in base) ? base[w] : "not run (needs an SPM node)", val($0, "landed") " (" val($0, "allocs") ")" }
	' "$1" "$2"
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
compare) shift; cmd_compare "$@" ;;
module) shift && cmd_module "$@" ;;
run) cmd_run ;;
*) die "usage: $0 module SRC OBJ DEST | run | compare" ;;
esac
