#!/bin/sh
# `make run`: bring the topology's memory up -- CXL memory as Specific
# Purpose Memory nodes -- and show what the kernel made of it.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"
lab_bring_up_all
lab_report | sed 's/^/# /'
n=$(dax_devices | grep -c dax)
cmp_ge "$n" 1 "at least one dax device is up"
if [ -n "$(cat /sys/devices/system/node/has_spm 2>/dev/null)" ]; then
	# The KUnit results are part of this run's TAP (and so judged); the
	# summary for a person is written so that it cannot pass for TAP.
	kunit_module spm "$SPMLAB_TOP/build/obj/mm/spm_kunit.ko" spm_alloc >/tmp/kunit.tap
	cat /tmp/kunit.tap
	diag "== GFP_SPM_NODE allocations on the SPM node (KUnit spm_alloc) =="
	sed -n 's/^ *\(not ok\|ok\) [0-9]* \(spm_[a-z_]*\)$/#   \2: \1/p' /tmp/kunit.tap
fi
tap_done
