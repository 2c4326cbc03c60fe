#!/bin/sh
# `make run`: bring the topology's memory up and show what the kernel made
# of it.
. "$SPMLAB_TOP/lab/guest/tap.sh"
. "$SPMLAB_TOP/lab/guest/lib.sh"
lab_bring_up_all
lab_report | sed 's/^/# /'
n=$(dax_devices | grep -c dax)
cmp_ge "$n" 1 "at least one dax device is up"
tap_done
