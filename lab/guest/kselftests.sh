#!/bin/sh
# Run kselftest binaries in the guest, the way tools/testing/selftests'
# runner does: each test's own TAP output nested under "# ", then one
# "ok/not ok N selftests: TARGET: TEST" line; exit status 4 means skip and
# a test killed by the timeout fails.
# Args: DIR (the kselftest output dir, with TARGET/TEST binaries), then
# TARGET/TEST names.
dir=$1
shift
timeout=${KSFT_TIMEOUT:-120}
rcfile=/tmp/.ksft-rc
echo "TAP version 13"
echo "1..$#"
n=0 failed=0
for t in "$@"; do
	n=$((n + 1))
	target=${t%%/*} test=${t#*/}
	name="selftests: $target: $test"
	if [ ! -x "$dir/$target/$test" ]; then
		echo "not ok $n $name # missing $dir/$target/$test"
		failed=$((failed + 1))
		continue
	fi
	# Each test writes its own status; one that did not write it fails,
	# and cannot inherit the previous test's.
	rm -f "$rcfile"
	(
		cd "$dir/$target" || exit 1
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
[ "$failed" -eq 0 ]
