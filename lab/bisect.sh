#!/bin/sh
# make bisect-check: build every commit of the series on its own (bzImage +
# modules, lab config), then the whole series once more with
# CONFIG_SPM_NODES=n. Uses a git worktree of build/linux and its own object
# directory; ccache keeps repeated runs short. Prints one line per build and
# exits non-zero if any failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
ksrc=$top/build/linux
wt=$top/build/bisect-src
obj=$top/build/bisect-obj
logs=$top/build/logs
mkdir -p "$logs"
[ -d "$ksrc/.git" ] || { echo "[bisect] no kernel tree: make tree" >&2; exit 1; }
if [ ! -d "$wt" ]; then
	git -C "$ksrc" worktree add -q --detach "$wt" spm-base || exit 1
fi
failed=0 n=0
for c in $(git -C "$ksrc" rev-list --reverse spm-base..HEAD); do
	n=$((n + 1))
	subj=$(git -C "$ksrc" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c" || exit 1
	start=$(date +%s)
	if SPM_LENIENT_CONFIG=1 sh "$top/lab/kernel.sh" build "$wt" "$obj" >"$logs/bisect-$n.log" 2>&1; then
		echo "[bisect] $n ok   ($(($(date +%s) - start)) s) $subj"
	else
		echo "[bisect] $n FAIL ($(($(date +%s) - start)) s) $subj (log: $logs/bisect-$n.log)"
		tail -n 15 "$logs/bisect-$n.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
# The whole series with the feature compiled out: the !CONFIG_SPM_NODES stubs.
off=$top/build/bisect-off.config
# Everything that depends on SPM_NODES goes with it, or the config check
# sees the lab config's =y/=m for it come out absent.
printf '# CONFIG_%s is not set\n' SPM_NODES SPM_KUNIT_TEST DEV_DAX_SPM TEST_SPM >"$off"
start=$(date +%s)
if SPM_KCONFIG_EXTRA="$off" SPM_LENIENT_CONFIG=1 sh "$top/lab/kernel.sh" build "$wt" "$obj-off" \
	>"$logs/bisect-off.log" 2>&1 && ! grep -q '^CONFIG_SPM_NODES=y' "$obj-off/.config"; then
	echo "[bisect] series with CONFIG_SPM_NODES=n ok ($(($(date +%s) - start)) s)"
else
	echo "[bisect] series with CONFIG_SPM_NODES=n FAIL (log: $logs/bisect-off.log)"
	tail -n 15 "$logs/bisect-off.log" | sed 's/^/    /'
	failed=$((failed + 1))
fi
echo "[bisect] $n commits and the SPM=n build: $failed failed"
[ "$failed" = 0 ]
