#!/bin/sh
# The out-of-tree example drivers (drivers/), built against the lab tree,
# preset cxl-ram: load each, check what it prints, unload it; and the loads
# that must be refused.
#  - spm_example_c uses SPM node 1, the RAM-backed node brought up as SPM
#    through dax/kmem's spm_node;
#  - spm_example_rust owns SPM node 2: it binds to the CXL device's dax
#    device (new_id), registers the node and hotplugs the memory itself.
# Args: dir=PATH (where `make examples` put the modules).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

dir=
lab_args dir "$@" || exit 1

lab_wait "ls /sys/bus/dax/devices/dax*" 30 || true
ram=$(dax_devices | awk '$2 == 1 {print $1; exit}')
ok "dax_kmem_spm $ram" "kmem takes $ram back as an SPM node"
cmp_ge "$(node_online_blocks 1 online_kernel)" 1 "node 1's memory onlined"
is "$(cat /sys/devices/system/node/has_spm)" 1 "the RAM-backed memory is up as SPM node 1"
warns0=$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')

# The kernel log since the last mark.
log_mark() { LOG_MARK=$(dmesg | wc -l); }
log_since() { dmesg | tail -n +$((LOG_MARK + 1)); }

# Module $1's lines in the kernel log since the mark, into /tmp/mod.out.
mod_since() { log_since | sed -n "s/.*\] $1: //p" >/tmp/mod.out; }

# insmod $1 with parameters $2...; the module's lines go to /tmp/mod.out.
load() {
	ko=$1
	shift
	log_mark
	insmod "$ko" "$@" 2>/tmp/insmod.err
	rc=$?
	mod_since "$(basename "$ko" .ko)"
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

# The Rust example: owns node 2 (the CXL device) while bound.
r=$dir/spm_example_rust/spm_example_rust.ko
ok "[ -f $r ]" "Rust example built"
lab_wait "ls -d $CXL/endpoint*" 50 || true
is "$(cxl_create_ram_regions | grep -c region)" 1 "a RAM region on the CXL device"
lab_wait "[ -n \"\$(dax_devices | awk '\$2 == 2')\" ]" 50 || true
cxl=$(dax_devices | awk '$2 == 2 {print $1; exit}')
ok "echo $cxl >/sys/bus/dax/drivers/kmem/unbind" "kmem lets go of $cxl (node 2)"
if load "$r"; then
	tap_result PASS "Rust example loads"
	log_mark
	ok "echo $cxl >/sys/bus/dax/drivers/spm_example_rust/new_id" "Rust example takes $cxl"
	mod_since spm_example_rust
	sed 's/^/# Rust: /' /tmp/mod.out
	ok "grep -qx 'node 2: allocated 64 pages, 64 on the node, 64 verified' /tmp/mod.out" \
		"Rust example: 64 pages on SPM node 2, written and read back"
	ok "grep -qx 'node 2: freed 64 pages, 0 in use' /tmp/mod.out" "Rust example: freed its pages"
	is "$(cat /sys/devices/system/node/has_spm)" 1-2 "node 2 is an SPM node while the example holds it"
	log_mark
	ok "rmmod spm_example_rust" "Rust example unloads"
	mod_since spm_example_rust
	sed 's/^/# Rust: /' /tmp/mod.out
	ok "grep -q 'releasing node 2' /tmp/mod.out && grep -qx unloaded /tmp/mod.out" \
		"Rust example releases the node and says it unloaded"
	is "$(cat /sys/devices/system/node/has_spm)" 1 "node 2 is no SPM node after unloading"
	set -- $(node_blocks 2)
	is "$(($1 + $2))" 0 "node 2's memory was removed"
	ok "echo $cxl >/sys/bus/dax/drivers/kmem/bind" "kmem can take $cxl again"
else
	tap_result FAIL "Rust example loads" "insmod: $(cat /tmp/insmod.err); $(cat /tmp/mod.out)"
fi

is "$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')" "$warns0" "no kernel warning from the examples"
tap_done
