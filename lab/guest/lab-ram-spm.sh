#!/bin/sh
# Lab suite: the RAM-backed soft-reserved node registered as SPM at boot
# (spm_nodes=1): hmem -> dax -> kmem brings it up, and it is an SPM node
# because of the node's registration, not the device's spm_node setting.
# Then a memory hog of 1.5x SysRAM runs into the OOM killer without using
# a single page of it.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

ok "dmesg | grep -q 'spm: node 1 registered as an SPM node'" \
	"spm_nodes=1 registered node 1 at boot"
lab_wait "ls /sys/bus/dax/devices/dax*" 50
set -- $(dax_devices | head -n 1)
is "$2 $4" "1 kmem" "hmem: dax0.0 on node 1, bound to kmem"
is "$(cat /sys/bus/dax/devices/dax0.0/spm_node)" 0 "dax0.0 itself is not marked spm_node"
is "$(node_online_blocks 1 online_kernel)" 4 "node 1: all 4 blocks online"
ok "node_in_list 1 \"\$(cat /sys/devices/system/node/has_spm)\"" "node 1 is in has_spm"
ok "! node_in_list 1 \"\$(cat /sys/devices/system/node/has_memory)\"" "node 1 is not in has_memory"

sysram_kb=$(node_meminfo 0 MemTotal)
# The overcommit heuristic measures SysRAM only: a private mapping larger
# than SysRAM (though smaller than SysRAM + SPM) is refused up front.
big_mb=$((sysram_kb / 1024 + 256))
r=$("$PROBE" alloc "$big_mb" 2>&1)
is "$r" "spmlab-probe: mmap: errno 12" "overcommit: a ${big_mb} MiB mapping (SysRAM + 256 MiB) is refused"
free_before=$(node_meminfo 1 MemFree)
hog_mb=$((sysram_kb * 3 / 2 / 1024))
diag "memory hog: ${hog_mb} MiB against ${sysram_kb} kB of SysRAM"
# Overcommit's heuristic would refuse the mapping up front; the hog is
# meant to reach the OOM killer.
echo 1 >/proc/sys/vm/overcommit_memory
"$PROBE" alloc "$hog_mb" >/tmp/hog.out 2>&1
rc=$?
echo 0 >/proc/sys/vm/overcommit_memory
is "$rc" 137 "a ${hog_mb} MiB hog is OOM-killed (SIGKILL)"
ok "dmesg | grep -q 'Out of memory: Killed process'" "the OOM killer ran"
free_after=$(node_meminfo 1 MemFree)
is "$free_after" "$free_before" "SPM node 1: free memory unchanged by the hog ($free_before kB)"
r=$("$PROBE" alloc 64)
is "$r" "pages=16384 node0=16384 errors=0" "after the OOM, a default allocation lands on node 0 only"
lab_report | sed 's/^/# /'
tap_done
