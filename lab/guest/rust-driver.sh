#!/bin/sh
# The Rust dax_spm driver (drivers/dax/dax_spm.rs), preset cxl-ram: node 1 is
# RAM-backed soft-reserved memory, node 2 an emulated CXL device.
#
#  - dax_spm takes the CXL device (named in new_id, after kmem lets go of it),
#    serves allocations, refuses to unbind while pages are out, and unbinds;
#    CYCLES times, with the node's free pages back at their starting count in
#    every cycle and its memory gone after every unbind;
#  - bad input: binding a device that kmem holds, a node that already has
#    SysRAM, malformed writes, unknown devices;
#  - concurrency, with lockdep on: consumers, sysfs readers and unbind/bind
#    for STRESS seconds; at the end, consumers and readers while the node's
#    blocks go offline and online, for STRESS/3 seconds;
#  - unloading the driver while pages are out frees them and tears down.
# Args: ko=PATH (dax_spm.ko), cycles=N, stress=SECONDS.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

ko= cycles=20 stress=150
lab_args "ko cycles stress" "$@" || exit 1
DRV=/sys/bus/dax/drivers/dax_spm
KMEM=/sys/bus/dax/drivers/kmem
has_spm() { cat /sys/devices/system/node/has_spm; }
blocks() { set -- $(node_blocks "$1"); echo $(($1 + $2)); }
# Write $1 to file $2 with one write(2): prints "ok" or the errno's name.
try_write() { "$PROBE" write "$2" "$1"; }

lab_wait "ls -d $CXL/endpoint*" 50 || true
is "$(cxl_create_ram_regions | grep -c region)" 1 "a RAM region on the CXL device"
lab_wait "[ \$(ls -d /sys/bus/dax/devices/dax* | wc -l) -ge 2 ]" 50 || true
ram=$(dax_devices | awk '$2 == 1 {print $1; exit}')
cxl=$(dax_devices | awk '$2 == 2 {print $1; exit}')
ok "[ -n '$ram' ] && [ -n '$cxl' ]" "dax devices on node 1 (RAM-backed: $ram) and node 2 (CXL: $cxl)"
warns0=$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')

ok "insmod $ko" "dax_spm loads"
ok "[ -w $DRV/new_id ] && [ -w $DRV/bind ] && [ -w $DRV/unbind ]" "dax_spm has new_id, bind and unbind"
is "$(basename "$(readlink /sys/bus/dax/devices/$cxl/driver)")" kmem "kmem holds $cxl at first"
ok "echo $cxl >$DRV/new_id" "new_id names $cxl"
is "$(basename "$(readlink /sys/bus/dax/devices/$cxl/driver)")" kmem "new_id does not take a device kmem holds"
is "$(try_write "$cxl" $DRV/bind)" EBUSY "bind refuses a device in use (EBUSY)"
ok "echo $cxl >$KMEM/unbind" "kmem lets go of $cxl"

# One bind .. unbind cycle; diagnostics say what went wrong.
cycle_ok=0
free0=
for i in $(seq 1 "$cycles"); do
	d=/sys/bus/dax/devices/$cxl
	bad=
	r=$(try_write "$cxl" $DRV/bind)
	[ "$r" = ok ] || bad="$bad bind=$r"
	[ "$(has_spm)" = 2 ] || bad="$bad has_spm=$(has_spm)"
	[ "$(cat $d/spm_nid 2>/dev/null)" = 2 ] || bad="$bad spm_nid"
	free=$(cat $d/spm_pages_free 2>/dev/null)
	[ -n "$free0" ] || free0=$free
	[ "$free" = "$free0" ] || bad="$bad free-at-bind=$free/$free0"
	r=$(try_write 256 $d/spm_consumer_pages)
	[ "$r" = ok ] || bad="$bad alloc=$r"
	[ "$(cat $d/spm_pages_in_use)" = 256 ] || bad="$bad in_use=$(cat $d/spm_pages_in_use)"
	[ "$(cat $d/spm_consumer_pages)" = 256 ] || bad="$bad consumer"
	[ "$(cat $d/spm_pages_free)" -le $((free0 - 256)) ] || bad="$bad free-while-held"
	[ "$(try_write "$cxl" $DRV/unbind)" = EBUSY ] || bad="$bad unbind-not-refused"
	[ "$(basename "$(readlink $d/driver)")" = dax_spm ] || bad="$bad lost-driver"
	r=$(try_write 0 $d/spm_consumer_pages)
	[ "$r" = ok ] || bad="$bad free=$r"
	# The same pages again (freed and allocated on one CPU, so that its
	# per-cpu list hands the freed pages back): dax_spm checks that each
	# comes back zeroed.
	r=$(taskset -c 0 "$PROBE" write $d/spm_consumer_pages 256)
	[ "$r" = ok ] || bad="$bad alloc0=$r"
	r=$(taskset -c 0 "$PROBE" write $d/spm_consumer_pages 0)
	[ "$r" = ok ] || bad="$bad free0=$r"
	r=$(taskset -c 0 "$PROBE" write $d/spm_consumer_pages 256)
	[ "$r" = ok ] || bad="$bad realloc0=$r"
	r=$(taskset -c 0 "$PROBE" write $d/spm_consumer_pages 0)
	[ "$r" = ok ] || bad="$bad refree0=$r"
	[ "$(cat $d/spm_pages_in_use)" = 0 ] || bad="$bad in_use-after-free"
	[ "$(cat $d/spm_pages_free)" = "$free0" ] || bad="$bad free-after=$(cat $d/spm_pages_free)/$free0"
	r=$(try_write "$cxl" $DRV/unbind)
	[ "$r" = ok ] || bad="$bad unbind=$r"
	[ -z "$(has_spm)" ] || bad="$bad has_spm-after=$(has_spm)"
	[ "$(blocks 2)" = 0 ] || bad="$bad blocks-left=$(blocks 2)"
	if [ -z "$bad" ]; then cycle_ok=$((cycle_ok + 1)); else diag "cycle $i:$bad"; fi
done
is "$cycle_ok" "$cycles" "$cycles bind/allocate/refused-unbind/free/reallocate-zeroed/unbind cycles, free pages back to $free0 each time"
cmp_ge "${free0:-0}" 100000 "the node's free pages at bind cover the 512 MiB device"

# Hotplugged memory that the global policy onlines as movable (as with
# memhp_default_state=online_movable): dax_spm's must still end up in a
# kernel zone, where its allocations, which are not movable, can use it.
zones() { cat /sys/devices/system/node/node"$1"/memory*/valid_zones 2>/dev/null | sort -u | tr '\n' ' '; }
auto0=$(cat /sys/devices/system/memory/auto_online_blocks)
echo online_movable >/sys/devices/system/memory/auto_online_blocks
is "$(try_write "$cxl" $DRV/bind)" ok "bind with auto_online_blocks=online_movable"
echo "$auto0" >/sys/devices/system/memory/auto_online_blocks
is "$(zones 2)" "Normal " "dax_spm's memory is in ZONE_NORMAL, not where the policy put it"
is "$(try_write 16 /sys/bus/dax/devices/$cxl/spm_consumer_pages)" ok "and serves allocations there"
echo 0 >/sys/bus/dax/devices/$cxl/spm_consumer_pages
is "$(try_write "$cxl" $DRV/unbind)" ok "unbind"

# Concurrency, with lockdep on (the lab kernel): stress SECONDS BINDER
# OFFLINER runs, for SECONDS, three consumers growing and shrinking the
# driver's pages (each write allocates or frees through kernel::mm::spm) and
# sysfs readers; with BINDER=1, unbind/bind attempts (refused while pages are
# out); with OFFLINER=1, the node's memory blocks offlined and onlined under
# the driver. Errors of single operations are expected (ENOMEM while a block
# is offline, ENODEV/ENOENT while unbound). What must hold is checked by the
# caller, and by the console scanner: no kernel report.
sdir=/tmp/stress
stress() {
	stress_t0=$(date +%s)
	stress_end=$((stress_t0 + $1))
	rm -rf $sdir && mkdir -p $sdir
	echo "0 0" >$sdir/binder
	echo "0 0" >$sdir/offliner
	for w in 1 2 3; do
		(
			i=0 ok=0
			while [ "$(date +%s)" -lt $stress_end ]; do
				i=$((i + 1))
				# Pseudo-random sizes, 0 one time in five so that unbinds can pass.
				n=$(((i * 37 + w * 101) % 257))
				[ $((i % 5)) -eq 0 ] && n=0
				echo $n >$d/spm_consumer_pages 2>/dev/null && ok=$((ok + 1))
			done
			echo "$i $ok" >$sdir/writer$w
		) &
	done
	(
		i=0
		while [ "$(date +%s)" -lt $stress_end ]; do
			cat $d/spm_pages_free $d/spm_pages_in_use $d/spm_nid >/dev/null 2>&1
			i=$((i + 1))
		done
		echo "$i" >$sdir/reader
	) &
	[ "$2" = 1 ] && (
		i=0 ok=0
		while [ "$(date +%s)" -lt $stress_end ]; do
			i=$((i + 1))
			if echo "$cxl" >$DRV/unbind 2>/dev/null; then
				ok=$((ok + 1))
				echo "$cxl" >$DRV/bind 2>/dev/null
			fi
			sleep 1
		done
		echo "$i $ok" >$sdir/binder
	) &
	[ "$3" = 1 ] && (
		off=0 on=0
		while [ "$(date +%s)" -lt $stress_end ]; do
			for b in /sys/devices/system/node/node2/memory*; do
				[ -e "$b/state" ] || continue
				echo offline >"$b/state" 2>/dev/null && off=$((off + 1))
				echo online_kernel >"$b/state" 2>/dev/null && on=$((on + 1))
			done
			sleep 1
		done
		echo "$off $on" >$sdir/offliner
	) &
	wait
	diag "stress: $(($(date +%s) - stress_t0)) s; writers (writes, ok): $(cat $sdir/writer1), $(cat $sdir/writer2), $(cat $sdir/writer3); reads: $(cat $sdir/reader); unbind tries, unbinds: $(cat $sdir/binder); block offlines, onlines: $(cat $sdir/offliner)"
	set -- $(cat $sdir/writer1)
	cmp_ge "${2:-0}" 50 "stress: the first consumer completed at least 50 writes"
}

# Phase 1: consumers, readers and unbind/bind for $stress seconds; then
# nothing is in use, and a fresh bind finds every page of the node free.
echo "$cxl" >$DRV/bind
d=/sys/bus/dax/devices/$cxl
stress "$stress" 1 0
set -- $(cat $sdir/binder)
cmp_ge "${2:-0}" 1 "stress: unbind and bind again went through at least once"
[ -e $d/driver ] || echo "$cxl" >$DRV/bind
echo 0 >$d/spm_consumer_pages
is "$(cat $d/spm_pages_in_use)" 0 "after the stress: nothing in use"
is "$(try_write "$cxl" $DRV/unbind)" ok "after the stress: unbind"
is "$(has_spm)" "" "after the stress: no SPM node"
is "$(blocks 2)" 0 "after the stress: node 2's memory is removed"
is "$(try_write "$cxl" $DRV/bind)" ok "after the stress: bind"
is "$(cat $d/spm_pages_free)" "$free0" "after the stress: the node's free pages are back at $free0"
is "$(try_write "$cxl" $DRV/unbind)" ok "after the stress: unbind again"

# Bad input, with the device bound.
echo "$cxl" >$DRV/bind
d=/sys/bus/dax/devices/$cxl
is "$(try_write abc $d/spm_consumer_pages)" EINVAL "spm_consumer_pages refuses 'abc'"
is "$(try_write -1 $d/spm_consumer_pages)" EINVAL "spm_consumer_pages refuses '-1'"
is "$(try_write 99999999999 $d/spm_consumer_pages)" ENOMEM \
	"spm_consumer_pages refuses more than the node holds (ENOMEM)"
is "$(cat $d/spm_pages_in_use)" 0 "a failed allocation leaves nothing in use"
is "$(try_write 1 $d/spm_pages_in_use)" EACCES "spm_pages_in_use is read-only"
is "$(try_write dax9.9 $DRV/bind)" ENODEV "bind of an unknown device: ENODEV"
is "$(try_write "$ram" $DRV/unbind)" ENODEV "unbind of a device dax_spm does not hold: ENODEV"

# A node that already has SysRAM cannot become an SPM node.
ok "[ \$(node_online_blocks 1 online_movable) -ge 1 ]" "node 1's memory onlined as SysRAM through kmem"
echo "$ram" >$KMEM/unbind 2>/dev/null
echo "$ram" >$DRV/new_id
ok "[ ! -e /sys/bus/dax/devices/$ram/driver ]" "new_id: dax_spm's probe refused $ram"
is "$(try_write "$ram" $DRV/bind)" EBUSY "dax_spm refuses a node that has SysRAM (EBUSY)"
ok "dmesg | grep -q 'node 1 cannot be an SPM node'" "and says why"

# Unloading with pages out frees them and tears everything down.
echo 300 >$d/spm_consumer_pages
is "$(cat $d/spm_pages_in_use)" 300 "300 pages out before unloading"
ok "rmmod dax_spm" "dax_spm unloads with pages out"
is "$(has_spm)" "" "no SPM node after unloading"
is "$(blocks 2)" 0 "node 2's memory is removed"
ok "dmesg | grep -q 'released (300 consumer pages freed)'" "the driver freed its consumer's pages"
ok "echo $cxl >$KMEM/bind" "kmem can take $cxl again"
# Phase 2, last: consumers and readers while the node's blocks go offline
# and online under the bound driver; then nothing is in use and, with every
# block online again, every page is free. It comes last, and nothing removes
# those blocks afterwards: removing a block whose state file user space has
# written makes lockdep record kernfs draining that file under
# mem_hotplug_lock, the reverse of the order a write to a state file takes
# them in, and it reports a cycle that the device hotplug lock, which both
# paths hold, rules out (README, "Lab notes").
ok "echo $cxl >$KMEM/unbind" "kmem lets go of $cxl again"
ok "insmod $ko" "dax_spm loads again"
echo "$cxl" >$DRV/new_id 2>/dev/null
[ -e $d/driver ] || echo "$cxl" >$DRV/bind
is "$(basename "$(readlink $d/driver)")" dax_spm "dax_spm holds $cxl for the offline/online stress"
stress $((stress / 3)) 0 1
set -- $(cat $sdir/offliner)
cmp_ge "${1:-0}" 1 "stress: a block of the node went offline under the driver at least once"
echo 0 >$d/spm_consumer_pages
for b in /sys/devices/system/node/node2/memory*; do
	[ "$(cat "$b/state")" = online ] || echo online_kernel >"$b/state"
done
is "$(cat $d/spm_pages_in_use)" 0 "after the offline/online stress: nothing in use"
is "$(node_blocks 2)" "4 0" "after the offline/online stress: all 4 blocks online"
is "$(cat $d/spm_pages_free)" "$free0" "after the offline/online stress: the node's free pages are back at $free0"

lab_report | sed 's/^/# /'
is "$(dmesg | grep -c -e 'WARNING:' -e 'BUG:')" "$warns0" "no kernel warning"
tap_done
