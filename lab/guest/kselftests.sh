#!/bin/sh
# Run kselftests in the guest.
#
# Args: BUILD (the kselftest build dir, with TARGET/TEST binaries), INSTALL
# (the installed cgroup and spm targets, with run_kselftest.sh), then
# TARGET/TEST names.
#
# The cgroup tests run through the kernel's own runner, the installed
# run_kselftest.sh: its results are this runner's, renumbered. The mm
# tests are not in mm's kselftest-list.txt: mm runs them all through
# run_vmtests.sh, whose categories hold tests that fail on the unpatched
# base in this guest (lab/kselftests.list). They run here the way
# run_kselftest.sh runs a test: its own TAP nested under "# ", then one
# "ok/not ok N selftests: TARGET: TEST" line; exit status 4 means skip and a
# test killed by the timeout fails.
build=$1 install=$2
shift 2
timeout=${KSFT_TIMEOUT:-120}
rcfile=/tmp/.ksft-rc
mm= cg=
for t in "$@"; do
	case "$t" in
	cgroup/*) cg="$cg ${t#cgroup/}" ;;
	*) mm="$mm $t" ;;
	esac
done
echo "TAP version 13"
echo "1..$#"
n=0 failed=0
for t in $mm; do
	n=$((n + 1))
	target=${t%%/*} test=${t#*/}
	name="selftests: $target: $test"
	if [ ! -x "$build/$target/$test" ]; then
		echo "not ok $n $name # missing $build/$target/$test"
		failed=$((failed + 1))
		continue
	fi
	# Each test writes its own status; one that did not write it fails,
	# and cannot inherit the previous test's.
	rm -f "$rcfile"
	(
		cd "$build/$target" || exit 1
		{ timeout "$timeout" "./$test" </dev/null 2>&1; echo $? >"$rcfile"; } | sed 's/^/# /'
	)
	rc=$(cat "$rcfile" 2>/dev/null || echo none)
	case "$rc" in
	0) echo "ok $n $name" ;;
	4) echo "ok $n $name # SKIP" ;;
	124) echo "not ok $n $name # TIMEOUT ${timeout}s"; failed=$((failed + 1)) ;;
	*) echo "not ok $n $name # exit=$rc"; failed=$((failed + 1)) ;;
	esac
done
if [ -n "$cg" ]; then
	args=
	for t in $cg; do args="$args -t cgroup:$t"; done
	# shellcheck disable=SC2086
	# Through a pipe: its runner opens /dev/stdout again for the tests'
	# output, and on a regular file that second open would write over it.
	# Kept on the host's side ($SPMLAB_OUT), so a guest that times out
	# still leaves it; each test gets the same timeout as the mm ones.
	out=${SPMLAB_OUT:-/tmp}/ksft-cgroup.out
	"$install/run_kselftest.sh" -o "$timeout" $args </dev/null 2>&1 | cat >"$out"
	# run_kselftest.sh exits 0 whatever its tests did. Its result lines,
	# renumbered, are this runner's (a SKIP stays a skip); its plan and
	# anything before it are dropped, the tests' own output stays nested.
	while IFS= read -r line; do
		case "$line" in
		"TAP version "* | 1..*) ;;
		"ok "[0-9]*" selftests: cgroup: "* | "not ok "[0-9]*" selftests: cgroup: "*)
			n=$((n + 1))
			case "$line" in "not ok "*) failed=$((failed + 1)) ;; esac
			printf '%s\n' "$line" | sed "s/^\(not \)\{0,1\}ok [0-9]* /\1ok $n /"
			;;
		*) printf '%s\n' "$line" ;;
		esac
	done <"$out"
	got=$(grep -c '^\(not \)\{0,1\}ok [0-9]* selftests: cgroup: ' "$out")
	if [ "$got" -ne "$(echo $cg | wc -w)" ]; then
		echo "# run_kselftest.sh$args gave $got result(s)"
		failed=$((failed + 1))
	fi
fi
[ "$failed" -eq 0 ]
