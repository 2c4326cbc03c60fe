#!/bin/sh
# Lab suite: emulated CXL type-3 memory -> RAM region (spm_node) -> dax ->
# kmem -> a Specific Purpose Memory node.
# Args: cxl=N (devices the topology has), size=BYTES (each device).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

cxl=1 size=536870912
lab_args "cxl size" "$@" || exit 1
block=$(printf '%d' 0x$(cat /sys/devices/system/memory/block_size_bytes))
blocks_per_dev=$((size / block))
kunit_ko=$SPMLAB_KOBJ/mm/spm_kunit.ko
node_list() { cat /sys/devices/system/node/"$1"; }

lab_wait "[ \$(ls -d $CXL/endpoint* 2>/dev/null | wc -l) -ge $cxl ]" 50
is "$(cxl_memdev_count)" "$cxl" "cxl: $cxl memory device(s) probed"
is "$(node_list possible)" "0-$cxl" "cxl: each CXL window has its own possible node"
is "$(node_list has_spm)" "" "no SPM node before the regions exist"

# KUnit before any SPM memory exists: registration runs on a spare node.
kunit_module kunit-before "$kunit_ko" spm_registry spm_alloc

created=$(SPM=1 cxl_create_ram_regions)
is "$(printf '%s\n' "$created" | grep -c region)" "$cxl" "cxl: one RAM region created per device"
for r in $(printf '%s\n' "$created" | awk '{print $1}'); do
	is "$(cat $CXL/$r/commit)" 1 "cxl: $r committed"
	is "$(cat $CXL/$r/spm_node)" 1 "cxl: $r marked spm_node"
	ok "! echo 0 >$CXL/$r/spm_node" "cxl: $r spm_node cannot change once committed"
	ok "! echo maybe >$CXL/$r/spm_node" "cxl: $r spm_node refuses garbage"
	is "$(cat $CXL/$r/spm_node)" 1 "cxl: $r spm_node unchanged after the refused write"
done

lab_wait "[ \$(ls -d /sys/bus/dax/devices/dax* 2>/dev/null | wc -l) -ge $cxl ]" 50
daxes=$(dax_devices)
is "$(printf '%s\n' "$daxes" | grep -c dax)" "$cxl" "dax: one device per region"
# A here-document, not a pipe: the loop must run in this shell to count.
while read -r name node bytes drv; do
	[ -n "$name" ] || continue
	d=/sys/bus/dax/devices/$name
	cmp_ge "$node" 1 "dax: $name targets a node of its own (node $node)"
	is "$bytes" "$size" "dax: $name size"
	is "$(cat $d/spm_node)" 1 "dax: $name inherited spm_node from its region"
	is "$drv" kmem "dax: $name bound to kmem"
	ok "! echo 0 >$d/spm_node" "dax: $name spm_node refused while bound (EBUSY)"
	ok "! echo garbage >$d/spm_node" "dax: $name spm_node refuses garbage"
	is "$(cat $d/spm_node)" 1 "dax: $name spm_node unchanged"
	is "$(node_online_blocks "$node" online_kernel)" "$blocks_per_dev" \
		"node $node: all blocks online"
	ok "node_in_list $node \"\$(node_list has_spm)\"" "node $node is in has_spm"
	ok "! node_in_list $node \"\$(node_list has_memory)\"" "node $node is not in has_memory"
	ok "! node_in_list $node \"\$(node_list has_normal_memory)\"" "node $node is not in has_normal_memory"
	is "$(node_meminfo "$node" MemTotal)" "$((size / 1024))" "node $node: MemTotal is the device size"
	ok "node_in_list $node \"\$(cat /sys/fs/cgroup/cpuset.mems.effective)\"" \
		"cpuset: root mems.effective includes SPM node $node"
	ok "! node_in_list $node \"\$(cat /sys/fs/cgroup/cpuset.mems.sysram)\"" \
		"cpuset: root mems.sysram excludes SPM node $node"
	r=$("$PROBE" alloc 8 --bind "$node" 2>&1)
	ok "[ \"$r\" = 'spmlab-probe: mbind: errno 22' ]" "mbind to SPM node $node: EINVAL" "got: $r"
	r=$("$PROBE" alloc 4 --move-to "$node" 2>&1 | tr '\n' ' ')
	is "$r" "moved: call failed errno 19 pages=1024 node0=1024 errors=0 " \
		"move_pages to SPM node $node: ENODEV, pages stay on SysRAM"
	ok "! migratepages \$\$ 0 $node" "migrate_pages to SPM node $node is refused"
	h=/sys/devices/system/node/node$node/hugepages/hugepages-2048kB/nr_hugepages
	if [ -e "$h" ]; then
		echo 4 >"$h" 2>/dev/null
		is "$(cat "$h")" 0 "hugetlb: no pool pages on SPM node $node"
	else
		skip "hugetlb: no pool pages on SPM node $node" "no per-node hugetlb file"
	fi
done <<EOF
$daxes
EOF

# Read-only SPM files refuse writes and keep their value.
spm_nodes=$(node_list has_spm)
ok "! echo 0 >/sys/devices/system/node/has_spm" "has_spm refuses writes"
is "$(node_list has_spm)" "$spm_nodes" "has_spm unchanged after the refused write"
ok "! echo 0 >/sys/fs/cgroup/cpuset.mems.sysram" "root cpuset.mems.sysram refuses writes"

# A child cpuset: cpuset.mems takes SPM nodes, mems.sysram leaves them out,
# and its tasks' default allocations still use SysRAM only.
cg=/sys/fs/cgroup/spmlab
echo +cpuset >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p $cg
ok "echo 0-$cxl >$cg/cpuset.mems" "cpuset: cpuset.mems accepts SPM nodes (0-$cxl)"
is "$(cat $cg/cpuset.mems.effective)" "0-$cxl" "cpuset: child mems.effective spans SPM nodes"
is "$(cat $cg/cpuset.mems.sysram)" 0 "cpuset: child mems.sysram is SysRAM only"
ok "! echo 'not-a-nodelist' >$cg/cpuset.mems" "cpuset: garbage in cpuset.mems is refused"
ok "! echo 64 >$cg/cpuset.mems" "cpuset: an impossible node in cpuset.mems is refused"
is "$(cat $cg/cpuset.mems)" "0-$cxl" "cpuset: cpuset.mems unchanged after refused writes"
r=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $PROBE alloc 16" 2>&1)
is "$r" "pages=4096 node0=4096 errors=0" "cpuset: a task whose cpuset lists SPM nodes allocates from SysRAM"
r=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $PROBE alloc 4 --bind $cxl" 2>&1)
is "$r" "spmlab-probe: mbind: errno 22" "cpuset: mbind to an SPM node in the task's cpuset is still EINVAL"
# The strong case: a cpuset that lists nothing but an SPM node. Were the
# node ordinary memory, its tasks would be confined to it; as an SPM node
# it gives them no SysRAM, so they take the parent's SysRAM, and
# cpuset.mems.sysram shows that.
ok "echo $cxl >$cg/cpuset.mems" "cpuset: cpuset.mems may list only an SPM node"
is "$(cat $cg/cpuset.mems.effective)" "$cxl" "cpuset: such a cpuset's effective mems are the SPM node alone"
is "$(cat $cg/cpuset.mems.sysram)" 0 "cpuset: such a cpuset's tasks use the parent's SysRAM (mems.sysram)"
# Its tasks use SysRAM: it is no "movable nodes only" configuration.
ok "! dmesg | grep -q 'movable nodes only'" \
	"cpuset: a cpuset of an SPM node alone is not reported as movable-only"
r=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $PROBE alloc 1" 2>&1)
is "$r" "pages=256 node0=256 errors=0" "cpuset: its tasks still allocate from SysRAM, never from the SPM node"
rmdir $cg

r=$("$PROBE" alloc 32)
diag "default allocation: $r"
is "$r" "pages=8192 node0=8192 errors=0" "a default allocation lands on node 0 only"
r=$(numactl --interleave=all "$PROBE" alloc 16 2>&1)
diag "numactl --interleave=all: $r"
is "$r" "pages=4096 node0=4096 errors=0" "numactl --interleave=all stays on SysRAM"

# KUnit with SPM memory online: zonelists and real allocations.
kunit_module kunit-after "$kunit_ko" spm_registry spm_alloc

# Two dax devices on one node, the first SPM (spm_node), the second not:
# kmem must refuse the second, whose memory would come up as SPM memory
# no device accounts for, and the node must be free again once the first
# is gone. The region is split in two halves for it, then made whole.
set -- $(dax_devices | head -n 1)
dev=$1 node=$2
d=/sys/bus/dax/devices/$dev
rgn=$(readlink -f "$d/..")/dax_region
KMEM=/sys/bus/dax/drivers/kmem
n=0
for b in /sys/devices/system/node/node"$node"/memory*; do
	echo offline >"$b/state" && n=$((n + 1))
done
is "$n" "$blocks_per_dev" "split: node $node's blocks offline"
ok "echo $dev >$KMEM/unbind" "split: kmem lets go of $dev"
ok "echo $((size / 2)) >$d/size" "split: $dev shrunk to half the region"
ok "echo 1 >$rgn/create" "split: the region makes a second device"
second=
for e in /sys/bus/dax/devices/dax*; do
	[ "$(readlink -f "$e/..")" = "$(readlink -f "$d/..")" ] && [ "$e" != "$d" ] &&
		[ "$(cat "$e/size")" = 0 ] && second=$(basename "$e")
done
ok "[ -n '$second' ] && echo $((size / 2)) >/sys/bus/dax/devices/$second/size" \
	"split: second device ${second:-?} takes the other half"
is "$(cat "/sys/bus/dax/devices/$second/spm_node" 2>/dev/null)" 0 "split: $second has no spm_node"
ok "echo $dev >$KMEM/bind" "split: kmem binds $dev (spm_node) and registers node $node"
r=$("$PROBE" write $KMEM/bind "$second")
is "$r" EBUSY "split: kmem refuses $second, without spm_node, on SPM node $node"
ok "dmesg | grep -q '$second: node $node is an SPM node of dax/kmem'" "split: the refusal says why"
ok "[ ! -e /sys/bus/dax/devices/$second/driver ]" "split: $second stays unbound"
is "$(ls -d /sys/devices/system/node/node"$node"/memory* | wc -l)" "$((blocks_per_dev / 2))" \
	"split: node $node has $dev's blocks only"
ok "echo $dev >$KMEM/unbind" "split: kmem lets go of $dev"
ok "! dmesg | grep -q 'node $node stays an SPM node'" "split: node $node's registration ends with $dev"
ok "echo 0 >/sys/bus/dax/devices/$second/size && echo $second >$rgn/delete" "split: $second deleted"
ok "echo $size >$d/size && echo $dev >$KMEM/bind" "split: $dev whole again and bound"
is "$(node_online_blocks "$node" online_kernel)" "$blocks_per_dev" "split: node $node online again"
ok "node_in_list $node \"\$(node_list has_spm)\"" "split: node $node is an SPM node again"

lab_report | sed 's/^/# /'
tap_done
