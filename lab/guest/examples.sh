#!/bin/sh
# The out-of-tree example drivers (drivers/), built against the lab tree:
# load each with the CXL memory up as an SPM node, check what it prints,
# unload it; and the loads that must be refused.
# Args: dir=PATH (where `make examples` put the .ko files).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

dir=
for a in "$@"; do
	case "$a" in
	dir=*) dir=${a#dir=} ;;
	*) diag "unknown argument '$a'" && exit 1 ;;
	esac
done

lab_bring_up_all
spm=$(cat /sys/devices/system/node/has_spm)
is "$spm" 1 "the CXL memory is up as SPM node 1"
warns0=$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')

# The kernel log since the last mark.
log_mark() { LOG_MARK=$(dmesg | wc -l); }
log_since() { dmesg | tail -n +$((LOG_MARK + 1)); }

# insmod $1 with parameters $2...; the module's lines go to /tmp/mod.out.
load() {
	ko=$1
	shift
	log_mark
	insmod "$ko" "$@" 2>/tmp/insmod.err
	rc=$?
	log_since | sed -n "s/.*\] $(basename "$ko" .ko): //p" >/tmp/mod.out
	return $rc
}

c=$dir/spm_example_c/spm_example_c.ko
ok "[ -f $c ]" "C example built"
if load "$c"; then
	tap_result PASS "C example loads"
	sed 's/^/# C: /' /tmp/mod.out
	ok "grep -qx 'node 1: allocated 64 pages, 64 on the node, 64 verified' /tmp/mod.out" \
		"C example: 64 pages on the SPM node, written and read back"
	ok "grep -qx 'node 1: freed 64 pages' /tmp/mod.out" "C example: freed its pages"
	log_mark
	ok "rmmod spm_example_c" "C example unloads"
	ok "log_since | grep -q 'spm_example_c: unloaded'" "C example says it unloaded"
else
	tap_result FAIL "C example loads" "insmod: $(cat /tmp/insmod.err); $(cat /tmp/mod.out)"
fi
for bad in "nid=0" "nid=7" "nid=-5" "pages=0" "pages=70000"; do
	if load "$c" "$bad"; then
		rmmod spm_example_c
		tap_result FAIL "C example refuses $bad" "it loaded"
	else
		# kmod reports EINVAL from init as "Invalid parameters".
		ok "grep -q 'Invalid' /tmp/insmod.err && grep -q 'not an SPM node\|must be 1..65536' /tmp/mod.out" \
			"C example refuses $bad with EINVAL and says why" \
			"insmod said: $(cat /tmp/insmod.err); module said: $(cat /tmp/mod.out)"
	fi
done

is "$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')" "$warns0" "no kernel warning from the examples"
tap_done
