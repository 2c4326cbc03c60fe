#!/bin/sh
# Fault injection on the SPM paths (debug kernel, preset ram: dax0.0 is the
# RAM-backed soft-reserved range of node 1, bound to kmem at boot).
#
# Each step is one write(2) to a sysfs file, made with the Nth fault
# injection site of the writing task failing (/proc/thread-self/fail-nth:
# slab allocations through failslab, with its GFP filter off so that every
# slab allocation is a site), for N = 1, 2, ... until the write passes
# fewer than N sites (every N up to 24, then every ~N/6th). fail-nth is
# per task: nothing else in the guest sees a failure. Page allocations
# (fail_page_alloc) are sites only for the consumer's allocations, SPM
# pages: memory hot-add allocates the direct map's page tables with
# alloc_low_page(), which x86's phys_pud_init()/phys_pmd_init() do not
# check (6.12 as upstream), and a failure there is a NULL dereference in
# code that is not the series'. After every injected failure the state
# must be whole:
#  - kmem bind of the device as an SPM node (registration, add_memory):
#    either bound, with the node's memory added, or not bound, with no
#    memory block left on the node and the node free to register again;
#  - onlining a block of SPM memory: online and in has_spm, or offline;
#  - dax_spm bind (the Rust driver: registration, add, online): bound with
#    the node in has_spm, or not bound with nothing left on the node;
#  - a dax_spm allocation for a consumer (spm_consumer_pages): all or
#    nothing, and the node's free pages back at their count once freed;
#  - dax_spm unbind: the device let go, the node's memory gone.
# At the end the node comes up once more, cleanly, with all its memory.
# The console must show no report but the expected "page allocation
# failure" lines (make check-debug passes --allow for those).
# Args: ko=PATH (dax_spm.ko), max=N (the largest N tried per step).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

ko= max=4000
lab_args "ko max" "$@" || exit 1
FI=/sys/kernel/debug
KMEM=/sys/bus/dax/drivers/kmem
DRV=/sys/bus/dax/drivers/dax_spm
dev=dax0.0 node=1
D=/sys/bus/dax/devices/$dev
has_spm() { cat /sys/devices/system/node/has_spm; }
nblocks() { set -- $(node_blocks $node); echo $(($1 + $2)); }
driver() { [ -e "$D/driver" ] && basename "$(readlink "$D/driver")" || echo none; }

ok "[ -w /proc/self/fail-nth ] && [ -d $FI/failslab ] && [ -d $FI/fail_page_alloc ]" \
	"fault injection: fail-nth, failslab and fail_page_alloc"
for a in failslab fail_page_alloc; do
	echo N >$FI/$a/ignore-gfp-wait
	echo 0 >$FI/$a/verbose
done
echo N >$FI/fail_page_alloc/ignore-gfp-highmem
# No page allocation is a site (orders stop at 10) until the consumer step.
echo 11 >$FI/fail_page_alloc/min-order
lab_wait "[ -e $D ]" 50
is "$(driver)" kmem "kmem holds $dev at boot"

# fault_walk NAME FILE VALUE CHECK [REFUSES]: the steps of one write.
# CHECK is run after each with the write's result in $r ("ok" or an errno
# name); it prints what is wrong, nothing when the state is whole, and
# puts things back for the next N. REFUSES=0: the write cannot fail (an
# unbind), so no refusal is expected.
fault_walk() {
	name=$1 file=$2 value=$3 check=$4 refuses=${5:-1}
	n=1 tries=0 injected=0 failed=0 bad=
	while [ $n -le "$max" ]; do
		out=$("$PROBE" write-nth "$file" "$value" $n 2>&1)
		r=${out% *} how=${out##* }
		tries=$((tries + 1))
		case "$how" in
		injected) injected=$((injected + 1)) ;;
		not-reached) ;;
		*) bad="$bad n=$n: $out;" && break ;;
		esac
		[ "$r" = ok ] || failed=$((failed + 1))
		w=$($check)
		[ -z "$w" ] || bad="$bad n=$n ($r):$w;"
		[ "$how" = not-reached ] && break
		if [ $n -lt 24 ]; then n=$((n + 1)); else n=$((n + n / 6)); fi
	done
	diag "$name: $tries writes, $injected with a fault injected, $failed refused, last N $n ($how)"
	[ "$how" = not-reached ] || bad="$bad the write passes more than $max sites;"
	[ "$injected" -gt 0 ] || bad="$bad no fault was ever injected;"
	[ "$refuses" = 0 ] || [ "$failed" -gt 0 ] || bad="$bad no injected fault made the write fail;"
	if [ -z "$bad" ]; then
		tap_result PASS "$name"
	else
		tap_result FAIL "$name" "$(echo "$bad" | cut -c1-400)"
	fi
}

# The device is let go of whole: no driver, no memory block on the node,
# the node out of has_spm. Prints what is wrong.
check_let_go() {
	[ "$(driver)" = none ] || echo " still bound to $(driver)"
	[ "$(nblocks)" = 0 ] || echo " $(nblocks) memory blocks left on node $node"
	node_in_list $node "$(has_spm)" && echo " node $node left in has_spm"
}

# 1. kmem binds the device as an SPM node.
echo "$dev" >$KMEM/unbind
echo 1 >"$D/spm_node"
is "$(nblocks)" 0 "node $node has no memory once kmem lets go"
check_kmem_bind() {
	if [ "$r" = ok ]; then
		[ "$(driver)" = kmem ] || echo " bound to $(driver)"
		[ "$(nblocks)" -gt 0 ] || echo " no memory added"
		echo "$dev" >$KMEM/unbind || echo " unbind failed"
	fi
	check_let_go
}
fault_walk "kmem bind as an SPM node, faults injected" $KMEM/bind "$dev" check_kmem_bind

# 2. Onlining SPM memory.
ok "echo $dev >$KMEM/bind" "kmem binds $dev as an SPM node again"
blk=$(ls -d /sys/devices/system/node/node$node/memory* 2>/dev/null | head -n 1)
ok "[ -n '$blk' ]" "node $node has memory blocks: first $(basename "$blk")"
check_online() {
	s=$(cat "$blk/state")
	if [ "$r" = ok ]; then
		[ "$s" = online ] || echo " state $s"
		node_in_list $node "$(has_spm)" || echo " node $node not in has_spm"
		echo offline >"$blk/state" || echo " offline failed"
	fi
	[ "$(cat "$blk/state")" = offline ] || echo " block still $(cat "$blk/state")"
	[ "$(node_meminfo $node MemTotal)" = 0 ] || echo " MemTotal $(node_meminfo $node MemTotal) kB"
}
fault_walk "onlining SPM memory, faults injected" "$blk/state" online_kernel check_online
ok "echo $dev >$KMEM/unbind" "kmem lets go of $dev"

# 3. dax_spm binds the device (the Rust driver).
ok "insmod $ko" "dax_spm loads"
ok "echo $dev >$DRV/new_id" "new_id names $dev"
[ "$(driver)" = dax_spm ] && echo "$dev" >$DRV/unbind
check_rust_bind() {
	if [ "$r" = ok ]; then
		[ "$(driver)" = dax_spm ] || echo " bound to $(driver)"
		node_in_list $node "$(has_spm)" || echo " node $node not in has_spm"
		echo "$dev" >$DRV/unbind || echo " unbind failed"
	fi
	check_let_go
}
fault_walk "dax_spm bind, faults injected" $DRV/bind "$dev" check_rust_bind

# 4. A dax_spm allocation for a consumer.
ok "echo $dev >$DRV/bind" "dax_spm binds $dev"
free0=$(cat "$D/spm_pages_free")
echo 0 >$FI/fail_page_alloc/min-order
check_consumer() {
	u=$(cat "$D/spm_pages_in_use")
	if [ "$r" = ok ]; then
		[ "$u" = 256 ] || echo " in use $u, not 256"
	else
		[ "$u" = 0 ] || echo " refused, yet $u pages in use"
	fi
	echo 0 >"$D/spm_consumer_pages" || echo " freeing failed"
	[ "$(cat "$D/spm_pages_in_use")" = 0 ] || echo " $(cat "$D/spm_pages_in_use") pages still in use"
	[ "$(cat "$D/spm_pages_free")" = "$free0" ] ||
		echo " free pages $(cat "$D/spm_pages_free"), not $free0"
}
fault_walk "dax_spm consumer allocation, faults injected" "$D/spm_consumer_pages" 256 check_consumer

echo 11 >$FI/fail_page_alloc/min-order

# 5. dax_spm lets go of the device.
check_rust_unbind() {
	# Refused before the driver core got it (kernfs's buffer): still bound.
	[ "$r" != ok ] && [ "$(driver)" = dax_spm ] && return
	check_let_go
	echo "$dev" >$DRV/bind || echo " bind failed"
	[ "$(cat "$D/spm_pages_free")" = "$free0" ] ||
		echo " free pages at bind $(cat "$D/spm_pages_free"), not $free0"
}
fault_walk "dax_spm unbind, faults injected" $DRV/unbind "$dev" check_rust_unbind 0

# The node comes up once more, whole.
ok "echo $dev >$DRV/unbind" "dax_spm lets go of $dev"
ok "rmmod dax_spm" "dax_spm unloads"
ok "echo $dev >$KMEM/bind" "kmem binds $dev as an SPM node"
is "$(node_online_blocks $node online_kernel)" 4 "all 4 blocks of node $node online"
is "$(node_meminfo $node MemTotal)" 524288 "node $node has all its 512 MiB"
ok "node_in_list $node \"\$(has_spm)\"" "node $node is an SPM node"
lab_report | sed 's/^/# /'
tap_done
