#!/bin/sh
# Host-side tests of the lab tooling. Usage: lab/tests/host.sh RESULTS SPMLAB
results=$1 spmlab=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
ksrc=$top/build/linux
rec() { "$spmlab" record host-lab "$@" --results "$results" | grep -v '^PASS' || true; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# The patch queue: an unchanged tree exports to exactly patches/.
if sh "$top/lab/tree.sh" check >"$t/out" 2>&1; then
	rec PASS tree-matches-patches
else
	rec FAIL tree-matches-patches "$(tail -n 3 "$t/out" | tr '\n' ' ')"
fi

# `make tree` on a tree with nothing unexported resets it to base + series;
# the export of the reset tree is still exactly patches/.
if sh "$top/lab/tree.sh" check >/dev/null 2>&1; then
	if sh "$top/lab/tree.sh" create >"$t/out" 2>&1 && sh "$top/lab/tree.sh" check >>"$t/out" 2>&1; then
		rec PASS tree-reset-exports-identically
	else
		rec FAIL tree-reset-exports-identically "$(grep -v '^\[tree\] \(resetting\|applied\)' "$t/out" | head -n 3 | tr '\n' ' ')"
	fi
else
	rec SKIP tree-reset-exports-identically "the tree holds unexported work"
fi

# Kconfig keeps SPM_NODES off without memory hot-remove, which mm/spm.c
# uses (with it off, mm/spm.c did not build), and on with it: allnoconfig
# plus what SPM nodes need, with and without MEMORY_HOTREMOVE.
kc_spm() { # HOTREMOVE(y|n): prints SPM_NODES's value
	printf '%s\n' CONFIG_64BIT=y CONFIG_SMP=y CONFIG_PCI=y CONFIG_NUMA=y CONFIG_MIGRATION=y \
		CONFIG_MEMORY_HOTPLUG=y "CONFIG_MEMORY_HOTREMOVE=$1" CONFIG_SPM_NODES=y >"$t/kc-$1.frag"
	make -s -C "$ksrc" O="$t/kc-$1" ARCH=x86_64 KCONFIG_ALLCONFIG="$t/kc-$1.frag" \
		allnoconfig >"$t/kc-$1.log" 2>&1 || { echo "allnoconfig failed"; return; }
	# The rest of what SPM nodes need is there: only hot-remove differs.
	grep -qx 'CONFIG_MEMORY_HOTPLUG=y' "$t/kc-$1/.config" &&
		grep -qx 'CONFIG_NUMA=y' "$t/kc-$1/.config" || { echo "no NUMA or hotplug"; return; }
	sed -n 's/^CONFIG_SPM_NODES=//p; s/^# CONFIG_SPM_NODES is not set/n/p' "$t/kc-$1/.config"
}
with=$(kc_spm y) without=$(kc_spm n)
if [ "$with" = y ] && { [ "$without" = n ] || [ -z "$without" ]; }; then
	rec PASS kconfig-spm-needs-hotremove
else
	rec FAIL kconfig-spm-needs-hotremove "SPM_NODES with MEMORY_HOTREMOVE: '$with', without: '$without'"
fi

# export-check notices an edit to a tracked file, then a new file.
f=$ksrc/mm/Makefile
cp "$f" "$t/saved"
echo "# lab test edit" >>"$f"
if sh "$top/lab/tree.sh" check >"$t/out" 2>&1; then
	rec FAIL export-check-sees-edits "an edited mm/Makefile went unnoticed"
elif grep -q "mm/Makefile" "$t/out"; then
	rec PASS export-check-sees-edits
else
	rec FAIL export-check-sees-edits "did not name the edited file: $(tr '\n' ' ' <"$t/out")"
fi
cp "$t/saved" "$f"
touch "$ksrc/mm/spm-lab-test-new-file.c"
if sh "$top/lab/tree.sh" check >"$t/out" 2>&1; then
	rec FAIL export-check-sees-new-files "a new file in mm/ went unnoticed"
else
	rec PASS export-check-sees-new-files
fi
rm -f "$ksrc/mm/spm-lab-test-new-file.c"
if sh "$top/lab/tree.sh" check >/dev/null 2>&1; then
	rec PASS export-check-clean-after-revert
else
	rec FAIL export-check-clean-after-revert "tree still reported dirty"
fi

# Set-up refuses to run without root, before doing anything.
if command -v setpriv >/dev/null; then
	if setpriv --reuid=65534 --regid=65534 --clear-groups sh "$top/lab/setup.sh" --check-only >"$t/out" 2>&1; then
		rec FAIL setup-refuses-non-root "exited 0 as uid 65534"
	elif grep -q "run as root" "$t/out"; then
		rec PASS setup-refuses-non-root
	else
		rec FAIL setup-refuses-non-root "$(tr '\n' ' ' <"$t/out")"
	fi
else
	rec SKIP setup-refuses-non-root "setpriv not installed"
fi

# The runner refuses bad input with a clear message and exit status 2.
check_refusal() { # NAME EXPECTED-TEXT ARGS...
	name=$1 want=$2
	shift 2
	"$spmlab" "$@" >"$t/out" 2>&1
	rc=$?
	if [ $rc = 2 ] && grep -q "$want" "$t/out"; then
		rec PASS "$name"
	else
		rec FAIL "$name" "exit $rc: $(head -n 2 "$t/out" | tr '\n' ' ')"
	fi
}
check_refusal spmlab-unknown-option "unknown option '--frobnicate'" boot --frobnicate
check_refusal spmlab-unknown-preset "unknown preset 'huge'" qemu-cmd --top "$top" --preset huge
check_refusal spmlab-bad-size "multiple of 128 MiB" qemu-cmd --top "$top" --cxl-size 100
check_refusal spmlab-missing-kernel "not found" qemu-cmd --top "$top" --kernel /nonexistent

# A guest that never finishes is killed at its timeout and fails.
cat >"$top/build/lab-hang-test.sh" <<'EOS'
echo "TAP version 13"
echo "ok 1 started"
sleep 3600
EOS
start=$(date +%s)
"$spmlab" boot --top "$top" --results "$t/r" --name hang-test --preset plain \
	--script build/lab-hang-test.sh --timeout 20 >"$t/out" 2>&1
rc=$? took=$(($(date +%s) - start))
if [ $rc = 1 ] && [ $took -lt 40 ] && grep -q "FAIL  hang-test/guest-completed" "$t/out"; then
	rec PASS runner-kills-hung-guest
else
	rec FAIL runner-kills-hung-guest "exit $rc after ${took}s: $(grep FAIL "$t/out" | head -n 2 | tr '\n' ' ')"
fi
rm -f "$top/build/lab-hang-test.sh"

# The guest's kselftest runner: a test that dies before its exit status is
# written fails; it does not inherit the status of the test before it.
mkdir -p "$t/ksft/x"
printf '#!/bin/sh\nexit 0\n' >"$t/ksft/x/passes"
# Kills the shell that would record its exit status (timeout's parent).
printf '#!/bin/sh\nkill -9 "$(ps -o ppid= -p "$PPID" | tr -d " ")"\n' >"$t/ksft/x/dies"
printf '#!/bin/sh\nexit 4\n' >"$t/ksft/x/skips"
chmod +x "$t/ksft/x/passes" "$t/ksft/x/dies" "$t/ksft/x/skips"
sh "$top/lab/guest/kselftests.sh" "$t/ksft" "$t/none" x/passes x/dies x/skips x/absent >"$t/out" 2>&1
rc=$?
if [ $rc != 0 ] && grep -q '^ok 1 selftests: x: passes$' "$t/out" &&
	grep -q '^not ok 2 selftests: x: dies # exit=none' "$t/out" &&
	grep -q '^ok 3 selftests: x: skips # SKIP' "$t/out" &&
	grep -q '^not ok 4 selftests: x: absent # missing' "$t/out"; then
	rec PASS kselftest-runner-status-per-test
else
	rec FAIL kselftest-runner-status-per-test "exit $rc: $(grep 'ok [0-9]' "$t/out" | tr '\n' ' ')"
fi

# The cgroup tests go through run_kselftest.sh, which exits 0 whatever its
# tests did: its results must become the runner's, a failure a failure and
# a skip a skip, and a test it gave no result for must fail the run.
mkdir -p "$t/inst"
printf '#!/bin/sh\necho "TAP version 13"\necho 1..3\necho "# selftests: cgroup: a"\necho "ok 1 selftests: cgroup: a"\necho "not ok 2 selftests: cgroup: b # exit=1"\necho "ok 3 selftests: cgroup: c # SKIP"\n' \
	>"$t/inst/run_kselftest.sh"
chmod +x "$t/inst/run_kselftest.sh"
sh "$top/lab/guest/kselftests.sh" "$t/ksft" "$t/inst" x/passes cgroup/a cgroup/b cgroup/c >"$t/out" 2>&1
rc=$?
sh "$top/lab/guest/kselftests.sh" "$t/ksft" "$t/inst" cgroup/a cgroup/b cgroup/c cgroup/d >"$t/out2" 2>&1
rc2=$?
if [ $rc != 0 ] && grep -q '^1\.\.4$' "$t/out" && grep -q '^ok 1 selftests: x: passes$' "$t/out" &&
	grep -q '^ok 2 selftests: cgroup: a$' "$t/out" &&
	grep -q '^not ok 3 selftests: cgroup: b # exit=1$' "$t/out" &&
	grep -q '^ok 4 selftests: cgroup: c # SKIP$' "$t/out" &&
	[ $rc2 != 0 ] && grep -q 'gave 3 result(s)' "$t/out2"; then
	rec PASS kselftest-run_kselftest-results
else
	rec FAIL kselftest-run_kselftest-results "exit $rc/$rc2: $(grep 'ok [0-9]' "$t/out" | tr '\n' ' ')"
fi

# selftests/spm's wrapper, as run_kselftest.sh runs it: on a machine
# without an SPM node (this host) it skips with 4 and says why; a case
# that no program has is an error, not an empty pass.
inst=$top/build/ksft-obj/install/spm
if [ -x "$inst/run_spm.sh" ]; then
	env -u SPM_TEST_NODES -u SPM_TEST_CASES -u SPM_TEST_DESTRUCTIVE "$inst/run_spm.sh" >"$t/out" 2>&1
	rc=$?
	if [ $rc = 4 ] && grep -q 'SKIP: no SPM node' "$t/out"; then
		rec PASS run_spm-skips-without-spm-node
	else
		rec FAIL run_spm-skips-without-spm-node "exit $rc: $(head -n 3 "$t/out" | tr '\n' ' ')"
	fi
	env -u SPM_TEST_DESTRUCTIVE SPM_TEST_NODES=0 SPM_TEST_CASES=no_such_case "$inst/run_spm.sh" >"$t/out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "no SPM test case 'no_such_case'" "$t/out"; then
		rec PASS run_spm-refuses-unknown-case
	else
		rec FAIL run_spm-refuses-unknown-case "exit $rc: $(head -n 3 "$t/out" | tr '\n' ' ')"
	fi
	# Its list of cases is what the programs have: every TEST_F of the
	# sources, each once (the case names -t and SPM_TEST_CASES accept).
	want=$(cat "$ksrc"/tools/testing/selftests/spm/spm_*.c |
		sed -n 's/^TEST_F[A-Z_]*(spm, \([a-z0-9_]*\).*/\1/p' | sort)
	got=$("$inst/run_spm.sh" -l 2>&1 | awk '{ print $2 }' | sort)
	if [ -n "$want" ] && [ "$want" = "$got" ] &&
		"$inst/run_spm.sh" -l | grep -qxF "spm_hotplug hotremove_refused_while_in_use"; then
		rec PASS run_spm-lists-every-case
	else
		rec FAIL run_spm-lists-every-case "$(echo "$want" | wc -l) cases in the sources," \
			"$(echo "$got" | wc -l) listed: $(echo "$got" | head -n 3 | tr '\n' ' ')"
	fi
else
	rec FAIL run_spm-installed "no $inst/run_spm.sh (make ksft)"
fi

# Long steps say how far they got, and the command's status comes through.
start=$(date +%s)
SPM_PROGRESS_SECS=1 sh "$top/lab/progress.sh" step "$t/progress.log" \
	sh -c 'echo "  CC      a.o"; sleep 2.5; echo "  LD      b"; exit 3' >"$t/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" = 3 ] && [ "$(grep -c '^\[step\] [0-9]* s, [12] objects built so far$' "$t/out")" -ge 2 ] &&
	[ "$took" -lt 10 ]; then
	rec PASS progress-lines
else
	rec FAIL progress-lines "exit $rc after ${took}s: $(tr '\n' ' ' <"$t/out")"
fi

# The summary fails on an expected suite that left no results.
mkdir -p "$t/sum"
"$spmlab" record ran PASS one --results "$t/sum" >/dev/null
if "$spmlab" summary --results "$t/sum" --expect ran >"$t/out" 2>&1 &&
	! "$spmlab" summary --results "$t/sum" --expect ran,never-ran >"$t/out" 2>&1 &&
	grep -q 'never-ran/suite-ran' "$t/out" && grep -q '^  ran: 1 passed, 0 failed, 0 skipped$' "$t/out"; then
	rec PASS summary-fails-on-missing-suite
else
	rec FAIL summary-fails-on-missing-suite "$(tail -n 4 "$t/out" | tr '\n' ' ')"
fi

# Every patch of the series passes checkpatch --strict (the base tree's own
# copy of the script), with no error, warning or check.
if [ -x "$ksrc/scripts/checkpatch.pl" ]; then
	for p in $(sed -e 's/#.*//' "$top/patches/series"); do
		# On stdin: given the path of a file git tracks, checkpatch would
		# check it as a source file, not as a patch.
		if out=$("$ksrc/scripts/checkpatch.pl" --strict --no-tree --quiet --no-summary \
			--show-types - <"$top/patches/$p" 2>&1) && [ -z "$out" ]; then
			rec PASS "checkpatch: $p"
		else
			rec FAIL "checkpatch: $p" "$(printf '%s\n' "$out" | grep -E '^(ERROR|WARNING|CHECK)' | head -n 3 | tr '\n' ' ')"
		fi
	done
else
	rec FAIL checkpatch "no scripts/checkpatch.pl in $ksrc"
fi

# make run/shell refuse a bad topology before anything long starts.
start=$(date +%s)
out=$(make -s -C "$top" validate PRESET=huge 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $(($(date +%s) - start)) -lt 60 ] &&
	printf '%s\n' "$out" | grep -q "unknown preset 'huge'"; then
	rec PASS make-refuses-unknown-preset
else
	rec FAIL make-refuses-unknown-preset "exit $rc: $(printf '%s\n' "$out" | tail -n 2 | tr '\n' ' ')"
fi

# The lab tool itself: rustfmt and clippy clean.
if (cd "$top/tools/spmlab" && cargo fmt --check) >/tmp/spmlab-fmt.log 2>&1; then
	rec PASS "rustfmt: tools/spmlab"
else
	rec FAIL "rustfmt: tools/spmlab" "$(head -n 3 /tmp/spmlab-fmt.log | tr '\n' ' ')"
fi
if (cd "$top/tools/spmlab" && cargo clippy -q --release --all-targets -- -D warnings) >/tmp/spmlab-clippy.log 2>&1; then
	rec PASS "clippy: tools/spmlab"
else
	rec FAIL "clippy: tools/spmlab" "$(grep -m 3 -E '^(warning|error)' /tmp/spmlab-clippy.log | tr '\n' ' ')"
fi

# The series' Rust and the out-of-tree Rust example: rustfmt and clippy clean
# (CLIPPY=1 kbuild, as Rust-for-Linux checks it), rustdoc builds.
fmt_files="$ksrc/rust/kernel/mm/spm.rs $ksrc/rust/kernel/mm.rs $ksrc/rust/kernel/dax.rs
	$ksrc/drivers/dax/dax_spm.rs $top/drivers/spm_example_rust/spm_example_rust.rs"
if PATH="$HOME/.cargo/bin:$PATH" rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check \
	$fmt_files >/tmp/series-fmt.log 2>&1; then
	rec PASS "rustfmt: the series' Rust and drivers/spm_example_rust"
else
	rec FAIL "rustfmt: the series' Rust and drivers/spm_example_rust" "$(head -n 3 /tmp/series-fmt.log | tr '\n' ' ')"
fi
# The example first: it must build against the kernel crate as vmlinux has it.
rm -rf "$top/build/clippy-example"
cp -r "$top/drivers/spm_example_rust" "$top/build/clippy-example"
if sh "$top/lab/kernel.sh" extmod -- M="$top/build/clippy-example" CLIPPY=1 modules >/tmp/example-clippy.log 2>&1 &&
	! grep -qE '^(warning|error)' /tmp/example-clippy.log; then
	rec PASS "clippy: drivers/spm_example_rust"
else
	rec FAIL "clippy: drivers/spm_example_rust" "$(grep -m 3 -E '^(warning|error)' /tmp/example-clippy.log | tr '\n' ' ')"
fi
if sh "$top/lab/kernel.sh" make -- CLIPPY=1 rust/kernel.o drivers/dax/dax_spm.o >/tmp/series-clippy.log 2>&1 &&
	! grep -qE '^(warning|error)' /tmp/series-clippy.log; then
	rec PASS "clippy: kernel::mm::spm, kernel::dax, dax_spm"
else
	rec FAIL "clippy: kernel::mm::spm, kernel::dax, dax_spm" "$(grep -m 3 -E '^(warning|error)' /tmp/series-clippy.log | tr '\n' ' ')"
fi
if sh "$top/lab/kernel.sh" make -- rustdoc >/tmp/series-rustdoc.log 2>&1 &&
	! grep -qE '^(warning|error)' /tmp/series-rustdoc.log; then
	rec PASS "rustdoc: the kernel crate builds its documentation"
else
	rec FAIL "rustdoc: the kernel crate builds its documentation" "$(grep -m 3 -E '^(warning|error)' /tmp/series-rustdoc.log | tr '\n' ' ')"
fi
# The clippy build replaced the kernel crate's objects; rebuild them as the
# lab builds them, so that build/obj matches its vmlinux again.
sh "$top/lab/kernel.sh" build >/tmp/series-rebuild.log 2>&1 ||
	rec FAIL "rebuild after clippy" "$(tail -n 3 /tmp/series-rebuild.log | tr '\n' ' ')"
