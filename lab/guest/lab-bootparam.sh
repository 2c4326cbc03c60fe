#!/bin/sh
# Lab suite: spm_nodes= refuses what cannot be an SPM node, clearly and
# without harm. Booted with spm_nodes=0,1,7 on the cpunode preset: node 0
# has SysRAM (-EBUSY), node 1 has a CPU and no memory (-EINVAL), node 7 is
# not possible (-EINVAL).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"
log=$(dmesg)
ok "printf '%s' \"\$log\" | grep -q 'spm_nodes=: node 0 cannot be an SPM node (-16)'" \
	"spm_nodes=: a SysRAM node is refused (-EBUSY)"
ok "printf '%s' \"\$log\" | grep -q 'spm_nodes=: node 7 cannot be an SPM node (-22)'" \
	"spm_nodes=: an impossible node is refused (-EINVAL)"
is "$(cat /sys/devices/system/node/node1/cpulist)" "1" "node 1 has CPU 1"
# The message must come from spm_nodes= (the Rust doctests print it too):
# it is the line just before spm_nodes='s own report for the node.
ok "printf '%s' \"\$log\" | grep -A1 'spm: node 1 has CPUs: it cannot be an SPM node' | grep -q 'spm_nodes=: node 1 cannot'" \
	"spm_nodes=: a node with CPUs is refused, with a message"
ok "printf '%s' \"\$log\" | grep -q 'spm_nodes=: node 1 cannot be an SPM node (-22)'" \
	"spm_nodes=: a node with CPUs is refused (-EINVAL)"
is "$(cat /sys/devices/system/node/has_spm)" "" "no SPM node"
ok "node_in_list 0 \"\$(cat /sys/devices/system/node/has_memory)\"" "node 0 still has its SysRAM"
r=$("$PROBE" alloc 16)
is "$r" "pages=4096 node0=4096 errors=0" "allocations work as before"
tap_done
