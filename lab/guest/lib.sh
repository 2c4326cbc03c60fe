# Guest-side lab helpers (sourced): CXL RAM regions through sysfs, dax
# devices, and the node report `make run` prints.
#
# Debian's cxl tool (ndctl 76) cannot create RAM regions, so the sysfs steps
# it would take are done here. Everything is discovered from sysfs: each CXL
# endpoint is paired with the root decoder (CXL fixed memory window) whose
# target list holds the endpoint's host bridge.

CXL=/sys/bus/cxl/devices
PROBE=${SPMLAB_TOP:-.}/tools/spmlab/target/release/spmlab-probe

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Set shell variables from a guest script's KEY=VALUE arguments (spmlab
# boot --arg): $1 lists the keys the script takes, the rest are the
# arguments. Anything else is an error, reported as a TAP diagnostic.
lab_args() {
	_keys=$1
	shift
	for _a in "$@"; do
		_k=${_a%%=*}
		case "$_a" in *=*) ;; *) _k= ;; esac
		case " $_keys " in
		*" ${_k:-=} "*) eval "$_k=\${_a#*=}" ;;
		*)
			printf "# unknown argument '%s' (takes: %s)\n" "$_a" "$_keys"
			return 1
			;;
		esac
	done
}

# Wait until COMMAND succeeds, up to $2 tenths of a second.
lab_wait() {
	n=0
	while ! sh -c "$1" >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -ge "${2:-50}" ] && return 1
		sleep 0.1
	done
}

# Print the number of CXL memory devices (after probing settles).
cxl_memdev_count() {
	ls -d $CXL/mem* 2>/dev/null | wc -l
}

# The root decoder whose target list contains endpoint $1's host bridge.
cxl_root_decoder_for() {
	ep=$1
	hb=$(basename "$(dirname "$(readlink -f "$CXL/$ep")")")
	hbdev=$(readlink -f "$CXL/$hb/uport")
	for rd in "$CXL"/decoder0.*; do
		[ -e "$rd/create_ram_region" ] || continue
		for t in $(tr ',' ' ' <"$rd/target_list"); do
			if [ "$(readlink -f "$CXL/root0/dport$t")" = "$hbdev" ]; then
				basename "$rd"
				return 0
			fi
		done
	done
	return 1
}

# Create, commit and bind one RAM region per CXL endpoint that has none.
# With SPM=1 in the environment, each region is marked spm_node before it is
# committed, so its dax device comes up as a Specific Purpose Memory node.
# Prints "REGION ENDPOINT_DECODER SIZE" for each region created.
cxl_create_ram_regions() {
	for epdir in "$CXL"/endpoint*; do
		[ -e "$epdir" ] || continue
		ep=$(basename "$epdir")
		n=${ep#endpoint}
		dec=decoder$n.0
		[ "$(cat "$CXL/$dec/mode")" = none ] || continue
		mem=$(basename "$(readlink -f "$epdir/uport")")
		size=$(cat "$CXL/$mem/ram/size")
		root=$(cxl_root_decoder_for "$ep") || { lab_log "no root decoder for $ep"; return 1; }
		r=$(cat "$CXL/$root/create_ram_region")
		{
			echo "$r" >"$CXL/$root/create_ram_region" &&
				echo 4096 >"$CXL/$r/interleave_granularity" &&
				echo 1 >"$CXL/$r/interleave_ways" &&
				echo ram >"$CXL/$dec/mode" &&
				echo "$size" >"$CXL/$dec/dpa_size" &&
				echo "$size" >"$CXL/$r/size" &&
				echo "$dec" >"$CXL/$r/target0" &&
				{ [ "${SPM:-0}" = 0 ] || echo 1 >"$CXL/$r/spm_node"; } &&
				echo 1 >"$CXL/$r/commit"
		} || { lab_log "creating $r on $root for $mem failed"; return 1; }
		[ -e "/sys/bus/cxl/drivers/cxl_region/$r" ] ||
			echo "$r" >/sys/bus/cxl/drivers/cxl_region/bind ||
			{ lab_log "binding $r failed"; return 1; }
		echo "$r $dec $size"
	done
}

# dax devices: "NAME NODE SIZE DRIVER" per line.
dax_devices() {
	for d in /sys/bus/dax/devices/dax*; do
		[ -e "$d" ] || continue
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink -f "$d/driver")")
		echo "$(basename "$d") $(cat "$d/target_node") $(cat "$d/size") $drv"
	done
}

# Online every offline memory block of node $1 as $2 (online_kernel,
# online_movable, online). Prints how many blocks it onlined.
node_online_blocks() {
	n=0
	for b in /sys/devices/system/node/node"$1"/memory*; do
		[ "$(cat "$b/state")" = offline ] || continue
		echo "$2" >"$b/state" && n=$((n + 1))
	done
	echo "$n"
}

# Memory blocks of node $1: "ONLINE OFFLINE".
node_blocks() {
	on=0 off=0
	for b in /sys/devices/system/node/node"$1"/memory*; do
		[ -e "$b/state" ] || continue
		case "$(cat "$b/state")" in
		online) on=$((on + 1)) ;;
		*) off=$((off + 1)) ;;
		esac
	done
	echo "$on $off"
}

# Node states of node $1, from /sys/devices/system/node/has_* and online.
node_states() {
	s=""
	for f in online possible has_cpu has_normal_memory has_memory has_spm; do
		[ -e "/sys/devices/system/node/$f" ] || continue
		if node_in_list "$1" "$(cat /sys/devices/system/node/$f)"; then s="$s $f"; fi
	done
	echo "${s# }"
}

# Is node $1 in list $2 (like "0-1,3")?
node_in_list() {
	for part in $(echo "$2" | tr ',' ' '); do
		lo=${part%-*} hi=${part#*-}
		[ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ] && return 0
	done
	return 1
}

# A field of node $1's meminfo in kB (e.g. MemTotal).
node_meminfo() {
	awk -v k="$2:" '$3 == k {print $4}' "/sys/devices/system/node/node$1/meminfo" 2>/dev/null
}

# Bring up every memory source of the topology: CXL RAM regions (their dax
# devices appear and kmem adds the memory). RAM-backed soft-reserved nodes
# come up at boot through hmem. Memory stays offline (auto_online_blocks is
# "offline"): onlined as ordinary memory, emulated CXL memory can take QEMU
# down (see README).
lab_bring_up_all() {
	lab_wait "ls -d $CXL/endpoint* " 30 || true
	[ "$(cxl_memdev_count)" -gt 0 ] && SPM=1 cxl_create_ram_regions >/dev/null
	lab_wait "ls /sys/bus/dax/devices/dax*" 30 || true
	# CXL memory comes up as SPM nodes, and so does every node that
	# spm_nodes= registered at boot: nothing but GFP_SPM_NODE allocations
	# can land there, so it is safe to online.
	boot_spm=$(sed -n 's/.*spm_nodes=\([^ ]*\).*/\1/p' /proc/cmdline)
	for d in /sys/bus/dax/devices/dax*; do
		[ -e "$d" ] || continue
		node=$(cat "$d/target_node")
		if [ "$(cat "$d/spm_node" 2>/dev/null)" = 1 ] ||
			{ [ -n "$boot_spm" ] && node_in_list "$node" "$boot_spm"; }; then
			node_online_blocks "$node" online_kernel >/dev/null
		fi
	done
}

# Hand dax device $1 back to kmem as an SPM node: unbind it (its memory
# must be offline), set spm_node, bind it again. The memory stays offline.
dax_kmem_spm() {
	echo "$1" >/sys/bus/dax/drivers/kmem/unbind &&
		echo 1 >"/sys/bus/dax/devices/$1/spm_node" &&
		echo "$1" >/sys/bus/dax/drivers/kmem/bind
}

# Bring the CXL memory up through the Rust dax_spm driver ($1, the module)
# instead of kmem: regions without spm_node, then each CXL dax device is
# taken from kmem and named in dax_spm's new_id. Prints the devices it took.
lab_bring_up_rust() {
	lab_wait "ls -d $CXL/endpoint* " 30 || true
	[ "$(cxl_memdev_count)" -gt 0 ] && SPM=0 cxl_create_ram_regions >/dev/null
	lab_wait "ls /sys/bus/dax/devices/dax*" 30 || true
	insmod "$1" || return 1
	for d in /sys/bus/dax/devices/dax*; do
		case "$(readlink -f "$d")" in
		*/region*/dax_region*) ;;
		*) continue ;;	# not CXL memory
		esac
		n=$(basename "$d")
		[ -e "$d/driver" ] && echo "$n" >/sys/bus/dax/drivers/kmem/unbind
		echo "$n" >/sys/bus/dax/drivers/dax_spm/new_id && echo "$n"
	done
}

# KUnit test module $2: load it, print the results of suites $3... (from
# debugfs) as subtests of TAP test $1, unload it.
kunit_module() {
	name=$1 ko=$2
	shift 2
	if ! insmod "$ko" 2>/tmp/insmod.err; then
		tap_result FAIL "$name" "insmod $ko: $(cat /tmp/insmod.err)"
		return
	fi
	# Each debugfs results file is a whole KTAP document for one suite:
	# nest it under a TAP test of its own.
	for suite in "$@"; do
		f=/sys/kernel/debug/kunit/$suite/results
		TAP_N=$((TAP_N + 1))
		if [ -r "$f" ]; then
			sed 's/^/    /' "$f"
			echo "ok $TAP_N $name: $suite"
		else
			TAP_FAILED=$((TAP_FAILED + 1))
			echo "not ok $TAP_N $name: $suite # no results in debugfs"
		fi
	done
	rmmod "$(basename "$ko" .ko)"
}

lab_report() {
	echo "== nodes =="
	printf '%-6s %-58s %10s %10s %8s\n' node states MemTotal MemFree blocks
	for n in $(seq 0 63); do
		node_in_list "$n" "$(cat /sys/devices/system/node/possible)" || continue
		total=$(node_meminfo "$n" MemTotal)
		free=$(node_meminfo "$n" MemFree)
		set -- $(node_blocks "$n")
		printf '%-6s %-58s %7s kB %7s kB %3s on/%s off\n' "node$n" "$(node_states "$n")" \
			"${total:--}" "${free:--}" "$1" "$2"
	done
	echo "== dax devices (name, target node, size, driver) =="
	dax_devices | sed 's/^/  /'
	[ -n "$(dax_devices)" ] || echo "  none"
	echo "== CXL regions =="
	for r in "$CXL"/region*; do
		[ -e "$r" ] || continue
		echo "  $(basename "$r"): size $(cat "$r/size") mode $(cat "$r/mode" 2>/dev/null) committed $(cat "$r/commit")"
	done
	echo "== a 32 MiB default allocation landed on =="
	echo "  $("$PROBE" alloc 32 2>&1)"
}
