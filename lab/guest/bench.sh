#!/bin/sh
# `make bench` (and, with tiny counts, `make check`): the allocator and
# fault-path benchmarks on one kernel, preset ram (node 1 is RAM-backed
# soft-reserved memory that hmem hands to kmem, offline).
#
#   (a) nospm: node 1's memory is not online; no SPM node exists.
#   (b) spm:   node 1 is brought up -- as an SPM node on the patched kernel
#              (dax spm_node=1), as ordinary memory on the unpatched one --
#              and the default allocations run again; on the patched kernel
#              GFP_SPM_NODE allocations from node 1 are measured beside
#              allocations that name SysRAM node 0.
#
# Args: kmod=PATH (spm_bench.ko for this kernel), fault=PATH (spm_fault),
# iters0= iters9= batch= reps= (the module's), fmib= freps= (spm_fault's).
# Raw figures are printed as "# bench STATE LINE" diagnostics.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

kmod= fault= fmib=64 freps=3 modargs=
for a in "$@"; do
	case "$a" in
	kmod=*) kmod=${a#kmod=} ;;
	fault=*) fault=${a#fault=} ;;
	fmib=*) fmib=${a#fmib=} ;;
	freps=*) freps=${a#freps=} ;;
	iters0=* | iters9=* | batch=* | reps=*) modargs="$modargs $a" ;;
	*) diag "unknown argument '$a'" && exit 1 ;;
	esac
done
spm_kernel=0
[ -e /sys/devices/system/node/has_spm ] && spm_kernel=1
diag "kernel $(uname -r), SPM nodes supported: $spm_kernel"

# Load the module for state $1 with extra parameters $2..., print its rows.
bench_module() {
	state=$1
	shift
	dmesg -c >/dev/null
	if ! insmod "$kmod" tag="$state" $modargs "$@" 2>/tmp/insmod.err; then
		tap_result FAIL "$state: spm_bench loads" "insmod: $(cat /tmp/insmod.err)"
		dmesg | grep spm_bench | sed 's/^/# /'
		return
	fi
	rmmod spm_bench
	dmesg | sed -n 's/.*spm_bench: \(row=\|sizeof \|done \)/\1/p' >/tmp/bench.out
	sed "s/^/# bench $state /" /tmp/bench.out
	done=$(sed -n 's/^done rows=\([0-9]*\) failed=\([0-9]*\)$/\1 \2/p' /tmp/bench.out)
	set -- $done
	cmp_ge "${1:-0}" 5 "$state: spm_bench measured its rows"
	is "${2:-x}" 0 "$state: no spm_bench row failed"
	is "$(grep -c 'total_ns=0 ' /tmp/bench.out)" 0 "$state: every row took measurable time"
	# Where the pages landed: GFP_SPM_NODE rows on SPM node 1, every
	# other row on SysRAM node 0.
	is "$(grep '^row=' /tmp/bench.out | grep -v -- '-spmnode-' | grep -vc ' node=0$')" 0 \
		"$state: default and SysRAM allocations landed on node 0"
	if [ "$state" = spm ] && [ "$spm_kernel" = 1 ]; then
		is "$(grep -- '-spmnode-' /tmp/bench.out | grep -c ' node=1$')" \
			"$(grep -c -- '-spmnode-' /tmp/bench.out)" "$state: GFP_SPM_NODE allocations landed on node 1"
		cmp_ge "$(grep -c -- '-spmnode-' /tmp/bench.out)" 3 "$state: GFP_SPM_NODE rows were measured"
	fi
}

bench_fault() {
	if "$fault" "$fmib" "$freps" >/tmp/fault.out 2>&1; then
		sed "s/^/# bench $1 /" /tmp/fault.out
		is "$(grep -c '^spm_fault: rep=' /tmp/fault.out)" "$freps" "$1: spm_fault ran $freps passes"
	else
		tap_result FAIL "$1: spm_fault runs" "$(cat /tmp/fault.out)"
	fi
}

lab_wait "ls /sys/bus/dax/devices/dax*" 30 || true
dax=$(dax_devices | awk '$2 == 1 {print $1; exit}')
ok "[ -n '$dax' ]" "node 1's dax device is present"
is "$(cat /sys/devices/system/node/has_spm 2>/dev/null)" "" "(a) no SPM node"
bench_module nospm
bench_fault nospm

# (b) bring node 1 up.
if [ "$spm_kernel" = 1 ]; then
	ok "dax_kmem_spm $dax" "kmem takes $dax back as an SPM node"
fi
cmp_ge "$(node_online_blocks 1 online_kernel)" 1 "node 1's memory onlined"
if [ "$spm_kernel" = 1 ]; then
	is "$(cat /sys/devices/system/node/has_spm)" 1 "(b) node 1 is an SPM node"
	bench_module spm sysram_nid=0 spm_nid=1
else
	is "$(cat /sys/devices/system/node/has_memory)" 0-1 "(b) node 1 is ordinary memory"
	bench_module spm sysram_nid=0
fi
bench_fault spm
tap_done
