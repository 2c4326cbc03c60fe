#!/bin/sh
# Lab suite: emulated CXL type-3 memory -> RAM region -> dax -> kmem.
# Args: cxl=N (devices the topology has), size=BYTES (each device).
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"

want=1 size=536870912
for a in "$@"; do
	case "$a" in
	cxl=*) want=${a#cxl=} ;;
	size=*) size=${a#size=} ;;
	esac
done
blocks_per_dev=$((size / $(printf '%d' 0x$(cat /sys/devices/system/memory/block_size_bytes))))

lab_wait "[ \$(ls -d $CXL/endpoint* 2>/dev/null | wc -l) -ge $want ]" 50
is "$(cxl_memdev_count)" "$want" "cxl: $want memory device(s) probed"
nodes_possible=$(cat /sys/devices/system/node/possible)
is "$nodes_possible" "0-$want" "cxl: each CXL window has its own possible node"

created=$(cxl_create_ram_regions)
is "$(printf '%s\n' "$created" | grep -c region)" "$want" "cxl: one RAM region created per device"
for r in $(printf '%s\n' "$created" | awk '{print $1}'); do
	is "$(cat $CXL/$r/commit)" 1 "cxl: $r committed"
	is "$(cat $CXL/$r/size)" "$(printf '0x%x' "$size")" "cxl: $r has the device's size"
done

lab_wait "[ \$(ls -d /sys/bus/dax/devices/dax* 2>/dev/null | wc -l) -ge $want ]" 50
daxes=$(dax_devices)
is "$(printf '%s\n' "$daxes" | grep -c dax)" "$want" "dax: one device per region"
# A here-document, not a pipe: the loop must run in this shell to count.
while read -r name node bytes drv; do
	[ -n "$name" ] || continue
	cmp_ge "$node" 1 "dax: $name targets a node of its own (node $node)"
	is "$bytes" "$size" "dax: $name size"
	is "$drv" kmem "dax: $name bound to kmem"
	set -- $(node_blocks "$node")
	is "$1/$2" "0/$blocks_per_dev" "dax: node $node memory added, blocks left offline"
	ok "! node_in_list $node \"\$(cat /sys/devices/system/node/has_memory)\"" \
		"node $node is not in has_memory while offline"
done <<EOF
$daxes
EOF

r=$("$PROBE" alloc 32)
diag "default allocation: $r"
is "$r" "pages=8192 node0=8192 errors=0" "a default allocation lands on node 0 only"
lab_report | sed 's/^/# /'
tap_done
