#!/bin/sh
# `make run`: bring the topology's memory up -- CXL memory as Specific
# Purpose Memory nodes -- and show what the kernel made of it.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"
driver=kmem
lab_args driver "$@" || exit 1
if [ "$driver" = rust ]; then
	diag "CXL memory brought up by: dax_spm, the Rust driver (new_id), which registers the node itself"
	took=$(lab_bring_up_rust "$SPMLAB_KOBJ/drivers/dax/dax_spm.ko")
	cmp_ge "$(echo "$took" | grep -c dax)" 1 "dax_spm took the CXL dax device(s)"
else
	diag "CXL memory brought up by: dax/kmem, with the region's spm_node set before commit"
	lab_bring_up_all
fi
lab_report | sed 's/^/# /'
if [ "$driver" = rust ]; then
	diag "== dax_spm (sysfs of each device it holds) =="
	for n in $took; do
		d=/sys/bus/dax/devices/$n
		echo 64 >"$d/spm_consumer_pages"
		diag "  $n: spm_nid=$(cat "$d/spm_nid") pages_in_use=$(cat "$d/spm_pages_in_use")" \
			"pages_free=$(cat "$d/spm_pages_free") consumer_pages=$(cat "$d/spm_consumer_pages")"
		is "$(cat "$d/spm_pages_in_use")" 64 "$n: dax_spm's consumer holds 64 pages of the SPM node"
		echo 0 >"$d/spm_consumer_pages"
	done
fi
n=$(dax_devices | grep -c dax)
cmp_ge "$n" 1 "at least one dax device is up"
if [ -n "$(cat /sys/devices/system/node/has_spm 2>/dev/null)" ]; then
	# The KUnit results are part of this run's TAP (and so judged); the
	# summary for a person is written so that it cannot pass for TAP.
	kunit_module spm "$SPMLAB_KOBJ/mm/spm_kunit.ko" spm_alloc >/tmp/kunit.tap
	cat /tmp/kunit.tap
	diag "== GFP_SPM_NODE allocations on the SPM node (KUnit spm_alloc) =="
	sed -n 's/^ *\(not ok\|ok\) [0-9]* \(spm_[a-z_]*\)$/#   \2: \1/p' /tmp/kunit.tap
fi
tap_done
