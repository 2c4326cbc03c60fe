#!/bin/sh
# Lab suite: the RAM-backed soft-reserved node (memmap=...%...-1+0xefffffff)
# reaches the same dax -> kmem path as CXL memory, at RAM speed. On this
# kernel it can be onlined as ordinary memory and used, and offlined again:
# the controls and heavy workloads of the isolation tests rely on that.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

lab_wait "ls /sys/bus/dax/devices/dax*" 50
set -- $(dax_devices | head -n 1)
name=$1 node=$2 bytes=$3 drv=$4
ok "grep -q 'Soft Reserved' /proc/iomem" "e820: the node's range is Soft Reserved"
is "$name" dax0.0 "hmem: dax0.0 created for the soft-reserved range"
is "$node" 1 "hmem: dax0.0 targets node 1"
is "$bytes" 536870912 "hmem: dax0.0 spans the whole 512 MiB node"
is "$drv" kmem "hmem: dax0.0 bound to kmem"
ok "! node_in_list 1 \"\$(cat /sys/devices/system/node/has_memory)\"" "node 1 has no memory at boot"

is "$(node_online_blocks 1 online_movable)" 4 "all 4 blocks of node 1 online (movable)"
ok "node_in_list 1 \"\$(cat /sys/devices/system/node/has_memory)\"" "node 1 in has_memory once online"
r=$("$PROBE" alloc 16 --bind 1)
diag "bound allocation: $r"
is "$r" "pages=4096 node1=4096 errors=0" "an allocation bound to node 1 lands there"
n=0
for b in /sys/devices/system/node/node1/memory*; do
	echo offline >"$b/state" && n=$((n + 1))
done
is "$n" 4 "all 4 blocks of node 1 offline again"
ok "! node_in_list 1 \"\$(cat /sys/devices/system/node/has_memory)\"" "node 1 left has_memory"
# Control for lab-cxl's cpuset test: a cpuset that lists only node 1, here
# ordinary memory, confines its task's allocations to node 1. (Onlined as
# ZONE_NORMAL: a task confined to a movable-only node cannot even exec.)
is "$(node_online_blocks 1 online_kernel)" 4 "node 1 online again (kernel zone) for the control"
cg=/sys/fs/cgroup/spmlab-control
echo +cpuset >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p $cg
echo 1 >$cg/cpuset.mems
r=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $PROBE alloc 1" 2>&1)
is "$r" "pages=256 node1=256 errors=0" "control: a cpuset of only SysRAM node 1 confines allocations to it"
rmdir $cg
lab_report | sed 's/^/# /'
tap_done
