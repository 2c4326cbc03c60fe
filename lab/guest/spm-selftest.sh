#!/bin/sh
# tools/testing/selftests/spm in the guest: bring the topology's memory up,
# give the tests a disk filesystem (ext2 on a brd RAM disk) for page cache,
# slab and swap, load the test driver, run spm_isolation.
#
# Args: bin=PATH (spm_isolation), ko=PATH (test_spm.ko; absent on the base
# kernel), brd=PATH (brd.ko), mode=spm|control, tests=A+B+... (only these
# TEST cases; default all), online_sysram=1 (mode spm: also online every
# RAM-backed node that is not SPM, as ordinary SysRAM: preset ram2 with
# spm_nodes=1 then has SysRAM nodes 0 and 2 around SPM node 1).
#   spm      the SPM nodes are under test; every test must pass (nested TAP)
#   control  negative control: the RAM-backed node is onlined as ordinary
#            SysRAM and put under test instead; the workloads must land
#            pages on it (so the leak checks can see a leak), and that is
#            what this suite's results say. The pages that landed per
#            workload go to $SPMLAB_OUT/leaks.txt (make compare-baseline).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

bin= ko= brd= mode=spm tests= only= online_sysram=
lab_args "bin ko brd mode tests online_sysram" "$@" || exit 1
for t in $(echo "$tests" | tr + " "); do only="$only -t $t"; done

lab_bring_up_all
if [ "$mode" = spm ] && [ "$online_sysram" = 1 ]; then
	sysram=
	for d in /sys/bus/dax/devices/dax*; do
		[ -e "$d" ] || continue
		nid=$(cat "$d/target_node")
		node_in_list "$nid" "$(cat /sys/devices/system/node/has_spm)" && continue
		node_online_blocks "$nid" online_movable >/dev/null
		sysram=${sysram:+$sysram,}$nid
	done
	ok "[ -n '$sysram' ] && node_in_list ${sysram%%,*} \"\$(cat /sys/devices/system/node/has_memory)\"" \
		"node(s) $sysram online as ordinary SysRAM, beside SPM node(s) $(cat /sys/devices/system/node/has_spm)"
fi
if [ "$mode" = control ]; then
	# The RAM-backed node as ordinary memory, the way the unpatched
	# kernel has it: onlined to ZONE_NORMAL, in has_memory.
	nodes=
	for d in /sys/bus/dax/devices/dax*; do
		[ -e "$d" ] || continue
		nid=$(cat "$d/target_node")
		node_online_blocks "$nid" online_kernel >/dev/null
		nodes=${nodes:+$nodes,}$nid
	done
	ok "[ -n '$nodes' ] && node_in_list ${nodes%%,*} \"\$(cat /sys/devices/system/node/has_memory)\"" \
		"control: node(s) $nodes online as ordinary memory"
	export SPM_TEST_NODES=$nodes
fi
[ -n "$ko" ] && [ -e "$ko" ] && insmod "$ko"

if insmod "$brd" rd_nr=1 rd_size=1048576 && mkfs.ext2 -q /dev/ram0 &&
	mkdir -p /run/spmtest && mount -t ext2 /dev/ram0 /run/spmtest; then
	export SPM_TEST_DIR=/run/spmtest
else
	diag "no RAM disk filesystem: the page cache, slab and swap tests will skip"
fi
echo 0 >/proc/sys/kernel/printk_ratelimit 2>/dev/null

if [ "$mode" = spm ]; then
	# The test program's TAP, nested: each TEST case is a result.
	# shellcheck disable=SC2086
	{ "$bin" $only 2>&1; echo $? >/tmp/spm_isolation.rc; } | tee /tmp/spm.out | sed 's/^/    /'
	rc=$(cat /tmp/spm_isolation.rc)
	tap_result "$([ "$rc" = 0 ] && echo PASS || echo FAIL)" "spm_isolation"
	grep '^# spm-leak:' /tmp/spm.out | sed 's/^# spm-leak: //' >"$SPMLAB_OUT/leaks.txt"
else
	# shellcheck disable=SC2086
	"$bin" $only >/tmp/control.out 2>&1
	sed 's/^/# | /' /tmp/control.out
	grep '^# spm-leak:' /tmp/control.out | sed 's/^# spm-leak: //' >"$SPMLAB_OUT/leaks.txt"
	# The workloads that must put pages on an ordinary node (those run).
	must_leak=
	for w in anon thp page_cache_read interleave_all cpuset_default hugetlb demotion; do
		grep -q "^workload=$w " "$SPMLAB_OUT/leaks.txt" && must_leak="$must_leak $w"
	done
	cmp_ge "$(echo $must_leak | wc -w)" 4 "control: at least 4 leak-prone workloads ran ($must_leak)"
	for w in $must_leak; do
		line=$(grep "^workload=$w " "$SPMLAB_OUT/leaks.txt" | head -n 1)
		landed=$(echo "$line" | sed -n 's/.* landed=\([0-9]*\).*/\1/p')
		allocs=$(echo "$line" | sed -n 's/.* allocs=\([0-9]*\).*/\1/p')
		ok "[ \"\${landed:-0}\" -gt 0 ] || [ \"\${allocs:-0}\" -gt 0 ]" \
			"control: $w lands pages on ordinary node $nodes (landed=${landed:-?} allocs=${allocs:-?})"
	done
fi
lab_report | sed 's/^/# /'
tap_done
