#!/bin/sh
# tools/testing/selftests/spm in the guest, through the kernel's own runner:
# bring the topology's memory up, give the tests a disk filesystem (ext2 on
# a brd RAM disk) for page cache, slab and swap, load the test driver, then
# run the installed run_kselftest.sh -t spm:run_spm.sh, with the
# destructive cases on (SPM_TEST_DESTRUCTIVE=1).
#
# Args: ksft=DIR (the kselftest install dir: run_kselftest.sh, spm/), ko=PATH
# (test_spm.ko; absent on the base kernel), brd=PATH (brd.ko),
# mode=spm|control, tests=A+B+... (only these cases; default all),
# online_sysram=1 (mode spm: also online every RAM-backed node that is not
# SPM, as ordinary SysRAM: preset ram2 with spm_nodes=1 then has SysRAM
# nodes 0 and 2 around SPM node 1), expect_spm=LIST (mode spm: has_spm must
# read exactly this before anything runs), allow_skip=A+B+... (mode spm:
# the cases this topology cannot run; any other case that skips is a
# failure), ksft_timeout=SECS (run_kselftest.sh -o; default: the suite's
# settings file), ko_by=lab|wrapper (who loads test_spm: this script, or
# run_spm.sh through SPM_TEST_MODULE, which must then unload it again).
#   spm      the SPM nodes are under test; every test must pass (nested TAP)
#   control  negative control: the RAM-backed node is onlined as ordinary
#            SysRAM and put under test instead; the workloads must land
#            pages on it (so the leak checks can see a leak), and that is
#            what this suite's results say. The pages that landed per
#            workload go to $SPMLAB_OUT/leaks.txt (make compare-baseline).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

ksft= ko= brd= mode=spm tests= online_sysram= expect_spm= allow_skip= ksft_timeout= ko_by=lab
lab_args "ksft ko brd mode tests online_sysram expect_spm allow_skip ksft_timeout ko_by" "$@" || exit 1

lab_bring_up_all
if [ "$mode" = spm ]; then
	# Without the SPM nodes every case would skip, and skips are not
	# failures of the test program: stop here instead.
	has_spm=$(cat /sys/devices/system/node/has_spm)
	if [ -z "$expect_spm" ] || [ "$has_spm" != "$expect_spm" ]; then
		tap_result FAIL "the SPM nodes under test are up" \
			"has_spm reads '$has_spm', want '$expect_spm' (expect_spm=)"
		tap_result FAIL "the SPM tests" "not run: the SPM nodes under test are missing"
		tap_done
		exit 1
	fi
	tap_result PASS "the SPM nodes under test are up (has_spm $has_spm)"
fi
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
# The test driver: required in mode spm (the cases that need it would
# skip); the unpatched kernel of make compare-baseline has none.
if [ -n "$ko" ] && [ "$ko_by" = wrapper ]; then
	export SPM_TEST_MODULE="$ko"
elif [ -n "$ko" ]; then
	ok "insmod '$ko'" "test_spm.ko loaded"
elif [ "$mode" = spm ]; then
	tap_result FAIL "test_spm.ko loaded" "no ko= given"
fi

# The disk filesystem the page cache, slab and swap cases need (they
# would skip without it).
if insmod "$brd" rd_nr=1 rd_size=1048576 && mkfs.ext2 -q /dev/ram0 &&
	mkdir -p /run/spmtest && mount -t ext2 /dev/ram0 /run/spmtest; then
	export SPM_TEST_DIR=/run/spmtest
	tap_result PASS "ext2 on a brd RAM disk for the page cache, slab and swap cases"
else
	tap_result FAIL "ext2 on a brd RAM disk for the page cache, slab and swap cases" \
		"brd=$brd, mkfs.ext2 or mount failed"
fi
echo 0 >/proc/sys/kernel/printk_ratelimit 2>/dev/null
# The runner and the pipes that carry its output are the OOM killer's last
# choice (-999; -1000 would leave it nothing to choose and panic): the
# 2026-12-02 spm-cxl2 run lost run_kselftest.sh's prefix.pl to a second
# OOM kill, just after the thp hog's, and run_spm.sh died of SIGPIPE
# (exit 141). run_spm.sh cannot do it for its runner; the cases
# themselves run at the default badness.
echo -999 >/proc/self/oom_score_adj

# The kernel's own runner, and the suite's wrapper under it.
runner="$ksft/run_kselftest.sh"
ok "[ -x '$runner' ] && [ -x '$ksft/spm/run_spm.sh' ] && grep -qx 'spm:run_spm.sh' '$ksft/kselftest-list.txt'" \
	"run_kselftest.sh lists spm:run_spm.sh" "missing: $runner, $ksft/spm/run_spm.sh or its kselftest-list.txt entry"
export SPM_TEST_CASES="$tests" SPM_TEST_DESTRUCTIVE=1
# run_kselftest.sh's output: in mode spm nested, each case a result; in
# the control only shown, since there the leak checks fail by design.
prefix='    '
[ "$mode" = spm ] || prefix='# | '
# shellcheck disable=SC2046
"$runner" $([ -z "$ksft_timeout" ] || echo "-o $ksft_timeout") -t spm:run_spm.sh 2>&1 |
	tee /tmp/spm.out | sed "s/^/$prefix/"
# run_kselftest.sh exits 0 whatever its tests did: its result line says.
if grep -qx 'ok 1 selftests: spm: run_spm.sh' /tmp/spm.out; then res=PASS; else res=FAIL; fi
grep '^\(# \)*spm-leak:' /tmp/spm.out | sed 's/^\(# \)*spm-leak: //' >"$SPMLAB_OUT/leaks.txt"

if [ "$mode" = spm ]; then
	tap_result "$res" "run_kselftest.sh -t spm:run_spm.sh" \
		"its result: $(grep -m1 '^\(not \)\{0,1\}ok 1 selftests: spm: run_spm.sh' /tmp/spm.out || echo none)"
	# After that result line: the nested results above are its subtests.
	# With an ordinary node beside the SPM one, demotion_enabled must have
	# found it as its demotion target (or its assertions on demotion would not
	# have run).
	if [ -n "${sysram:-}" ] && case "+$tests+" in *+demotion_enabled+*) true ;; *) false ;; esac; then
		ok "grep -q 'demotion_enabled:demotion targets: $sysram;' /tmp/spm.out" \
			"demotion_enabled found node(s) $sysram as its demotion target" \
			"$(grep -m1 'demotion targets' /tmp/spm.out || echo 'no demotion targets line')"
	fi
	if [ "$ko_by" = wrapper ]; then
		ok "! grep -q 'test_spm is not loaded' /tmp/spm.out && [ ! -e /dev/spm_test ] && ! grep -q '^test_spm ' /proc/modules" \
			"run_spm.sh loaded test_spm itself (SPM_TEST_MODULE) and unloaded it on exit" \
			"$(grep -m1 'test_spm' /tmp/spm.out || echo 'test_spm still loaded')"
	fi
	# A skip is a failure unless this topology cannot run the case.
	allowed=" $(echo "$allow_skip" | tr + ' ') "
	sed -n 's/^\(# \)*ok [0-9]* spm\.\([a-z0-9_]*\) # SKIP *\(.*\)$/\2 \3/p' /tmp/spm.out >/tmp/spm.skips
	unexpected=0
	while read -r case why; do
		case "$allowed" in
		*" $case "*) ;;
		*)
			tap_result FAIL "unexpected skip: $case" "$why (not in allow_skip)"
			unexpected=$((unexpected + 1))
			;;
		esac
	done </tmp/spm.skips
	diag "skipped: $(wc -l </tmp/spm.skips) case(s), $unexpected not allowed"
	# Every case named has a result: a filter that ran nothing is no pass.
	if [ -n "$tests" ]; then
		missing=
		for t in $(echo "$tests" | tr + ' '); do
			grep -q "^\(# \)*\(not \)\{0,1\}ok [0-9]* spm\.$t\( \|\$\)" /tmp/spm.out ||
				missing="$missing $t"
		done
		is "$missing" "" "every case named in tests= has a result"
	fi
else
	# Each workload run (tests=, or all: every one with a control form)
	# must put pages on the ordinary node: that it did is what the
	# control shows. docs/isolation.md says why the others have none.
	must_leak=
	forms="anon_beyond_ram thp_beyond_ram page_cache_read page_cache_write swap_and_zswap"
	forms="$forms interleave_all_nodes migrate_pages_refused move_pages_refused"
	forms="$forms cpuset_default_allocations_avoid_spm hugetlb_pool_avoids_spm demotion_enabled"
	forms="$forms tmpfs_fill slab_dentries_inodes"
	[ -z "$tests" ] || forms=$(echo "$tests" | tr + " ")
	for t in $forms; do
		case "$t" in
		anon_beyond_ram) w=anon ;; thp_beyond_ram) w=thp ;;
		swap_and_zswap) w=swap_zswap ;; interleave_all_nodes) w=interleave_all ;;
		migrate_pages_refused) w=migrate_pages ;; move_pages_refused) w=move_pages ;;
		cpuset_default_allocations_avoid_spm) w=cpuset_default ;;
		hugetlb_pool_avoids_spm) w=hugetlb ;; demotion_enabled) w=demotion ;;
		page_cache_read | page_cache_write) w=$t ;;
		tmpfs_fill) w=tmpfs ;; slab_dentries_inodes) w=slab ;;
		*) tap_result FAIL "control: $t" "not a workload with a control form" && continue ;;
		esac
		must_leak="$must_leak $w"
	done
	cmp_ge "$(echo $must_leak | wc -w)" 1 "control: workloads named ($must_leak)"
	for w in $must_leak; do
		line=$(grep "^workload=$w " "$SPMLAB_OUT/leaks.txt" | head -n 1)
		if [ -z "$line" ]; then
			tap_result FAIL "control: $w allocates on ordinary node $nodes" "the workload printed no leak check"
			continue
		fi
		landed=$(echo "$line" | sed -n 's/.* landed=\([0-9]*\).*/\1/p')
		allocs=$(echo "$line" | sed -n 's/.* allocs=\([0-9]*\).*/\1/p')
		# allocs (numa_hit + numa_miss) is what check_leak() asserts on in
		# the SPM suites; landed (used pages) is sampled and noisy.
		ok "[ \"\${allocs:-0}\" -gt 0 ]" \
			"control: $w allocates on ordinary node $nodes (allocs=${allocs:-?} landed=${landed:-?})"
		# Behind a ballast any allocation may fall back onto the node: the
		# fills must show that theirs did, 8 MiB and more of it.
		case "$w" in
		tmpfs | slab)
			cmp_ge "${landed:-0}" 2048 "control: $w puts 8 MiB or more on ordinary node $nodes (landed=${landed:-?})"
			;;
		esac
	done
fi
lab_report | sed 's/^/# /'
tap_done
