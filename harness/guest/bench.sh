#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench's workloads, run in the bench VM (one 18 GiB NVDIMM region on
# the memory-only node 1, 6 GiB of DRAM on node 0) on the stock kernel and
# on the series alike. Every sample is one line on the results port:
#
#   BENCH <metric> <case> <value>
#   INFO <key> <value...>
#
# Times are seconds (bash's EPOCHREALTIME around the commands a user would
# type), sizes bytes. harness/bench-report.py turns the lines of both
# kernels into the results table and plot. Nothing here judges a number:
# a flow that does not do what it should (memory not all online, not
# gone, data changed by a migration) prints "FAIL <what>" and the sample
# is not reported.
# $KMEM_BENCH_REPS: repetitions per sample (default 3).
# $KMEM_BENCH_SIZES: hot-add sizes in MiB (default "1024 4096 16384").
# $KMEM_BENCH_ONLY=capacity: the capacity cases only; =dram: the DRAM cost
# of the memmap only.

# shellcheck source=../../tools/testing/selftests/dax/dax_lib.sh
. /kselftest/dax/dax_lib.sh

REPS=${KMEM_BENCH_REPS:-3}
SIZES=${KMEM_BENCH_SIZES:-1024 4096 16384}
ONLY=${KMEM_BENCH_ONLY:-}
NUMA_FILL=/kselftest/dax/numa_fill
FILL_OUT=/tmp/bench.fill
GIB=$((1 << 30))
fails=0

sample() {
	echo "BENCH $1 $2 $3"
}

info() {
	echo "INFO $*"
}

fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}

now() {
	echo "$EPOCHREALTIME"
}

# since T0: seconds from T0 to now, microsecond resolution.
since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }'
}

node0_free_kb() {
	node_meminfo_kb 0 MemFree
}

settle_memory() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 1 >/proc/sys/vm/compact_memory 2>/dev/null
	sleep 1
}

# new_ns MIB: a devdax namespace of MIB MiB on $region (ndctl's default
# map=dev: the memmap of device-dax lives at the start of the namespace);
# sets ns, dax, ns_bytes, dax_bytes, dax_start.
new_ns() {
	local json

	json=$(create_ns "$region" devdax "$(($1 << 20))" -a 2M)
	ns=$(ns_of "$json")
	dax=$(dax_of_ns "$json")
	[ -n "$dax" ] || { fail "create a ${1} MiB devdax namespace"; return 1; }
	# kmem keeps the device names daxctl gave it (new_id): a new device
	# with such a name binds to kmem as it is created. Every flow starts
	# from device_dax.
	if [ "$(dax_drv_of "$dax")" = kmem ]; then
		info "new_ns: $dax bound to kmem at creation: moved to device_dax"
		echo "$dax" >"$SYS_DAX/drivers/kmem/unbind" &&
			echo "$dax" >"$SYS_DAX/drivers/device_dax/bind" ||
			{ fail "$dax: from kmem to device_dax"; return 1; }
	fi
	ns_bytes=$(cat "$SYS_ND/$ns/size")
	dax_bytes=$(dax_attr "$dax" size)
	dax_start=$(($(dax_attr "$dax" resource)))
}

# blocks_online DAX: every memory block of DAX's hot-add range is online.
blocks_online() {
	local b n=0

	for b in $(kmem_blocks_of "$1"); do
		[ "$(cat "$b/state" 2>/dev/null)" = online ] || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

# blocks_none DAX: no memory block of DAX's range is left.
blocks_none() {
	local b

	for b in $(kmem_blocks_of "$1"); do
		[ ! -d "$b" ] || return 1
	done
}

# The flows. Each returns 0 when it did what it should; the timing
# brackets exactly the user-visible commands.

add_daxctl() {
	daxctl reconfigure-device -m system-ram "$1" >/dev/null 2>&1 && blocks_online "$1"
}

remove_daxctl() {
	daxctl reconfigure-device -m devdax -f "$1" >/dev/null 2>&1 &&
		[ "$(dax_drv_of "$1")" = device_dax ] && blocks_none "$1"
}

# The raw sysfs flow of seed 001: move the device to kmem, then online
# every block ZONE_MOVABLE through memoryN/state.
add_sysfs() {
	local b

	kmem_bind "$1" >/dev/null || return 1
	for b in $(kmem_blocks_of "$1"); do
		[ "$(cat "$b/state")" = online ] && continue
		echo online_movable >"$b/state" || return 1
	done
	blocks_online "$1"
}

remove_sysfs() {
	local b

	for b in $(kmem_blocks_of "$1" | tac); do
		[ "$(cat "$b/state")" = offline ] && continue
		echo offline >"$b/state" || return 1
	done
	echo "$1" >"$KMEM_DRV/unbind" || return 1
	blocks_none "$1" || return 1
	echo "$1" >"$SYS_DAX/drivers/device_dax/bind"
}

# The series' one-step flows (no equivalent on the stock kernel): the
# device's online_policy onlines at bind, the unbind offlines and removes.
has_policy() {
	[ -e "$SYS_DAX/devices/$1/online_policy" ]
}

add_policy() {
	echo online_movable >"$SYS_DAX/devices/$1/online_policy" || return 1
	kmem_bind "$1" >/dev/null && blocks_online "$1"
}

remove_unbind() {
	echo "$1" >"$KMEM_DRV/unbind" && blocks_none "$1" || return 1
	echo default >"$SYS_DAX/devices/$1/online_policy"
	echo "$1" >"$SYS_DAX/drivers/device_dax/bind"
}

# timed METRIC CASE FLOW DAX: run FLOW on DAX, report its time.
timed() {
	local t0 t

	t0=$(now)
	if "$3" "$4"; then
		t=$(since "$t0")
		sample "$1" "$2" "$t"
		return 0
	fi
	fail "$1 $2: $3 $4"
	return 1
}

# ---------------------------------------------------------------------------
bandwidth() {
	local r line

	for ((r = 0; r < REPS; r++)); do
		line=$(numactl --membind=0 /harness/bwbench 256 8) || { fail bwbench; continue; }
		sample memset_gibs node0 "$(echo "$line" | sed -n 's/.*memset_gibs=\([0-9.]*\).*/\1/p')"
		sample memcpy_gibs node0 "$(echo "$line" | sed -n 's/.*memcpy_gibs=\([0-9.]*\).*/\1/p')"
	done
}

# capacity CASE MIB...: namespaces of these sizes, one after the other on
# the empty region, all hot-added with daxctl: how much became System RAM.
# A kernel whose kmem has the subblock parameter (the series) is measured
# twice: with whole memory blocks only as the stock kernel (kmem.subblock=N,
# case CASE), and with partial memory blocks (kmem.subblock=Y, its default,
# case CASE/subblock; each device's online_policy
# online_movable, so that kmem onlines a partial first block, which daxctl
# 76.1 does not see).
capacity() {
	local sub=/sys/module/kmem/parameters/subblock

	capacity_once "$@"
	[ -e "$sub" ] || return 0
	echo Y >"$sub" || { fail "capacity $1: kmem.subblock=Y refused"; return; }
	capacity_once "$1/subblock" "${@:2}"
	echo N >"$sub" || fail "capacity $1: kmem.subblock=N refused"
}

capacity_once() {
	local c=$1 m base grew total_ns=0 total_dax=0 devs=() d

	shift
	kmem_reset
	for m in "$@"; do
		new_ns "$m" || return
		info "capacity $c ns=$ns bytes=$ns_bytes dax=$dax bytes=$dax_bytes start=$(printf '%#x' "$dax_start")"
		total_ns=$((total_ns + ns_bytes))
		total_dax=$((total_dax + dax_bytes))
		devs+=("$dax")
	done
	base=$(meminfo_kb MemTotal)
	for d in "${devs[@]}"; do
		case $c in
		*/subblock) echo online_movable >"$SYS_DAX/devices/$d/online_policy" ||
				fail "capacity $c: online_policy of $d" ;;
		esac
		# a device too small for one memory block is refused by kmem
		# (one that would share a memory block with another device's
		# System RAM too): that is what is measured, not a failure of
		# the flow
		daxctl reconfigure-device -m system-ram "$d" >/dev/null 2>&1
	done
	grew=$((($(meminfo_kb MemTotal) - base) * 1024))
	sample ns_bytes "$c" "$total_ns"
	sample dax_bytes "$c" "$total_dax"
	sample reserved_bytes "$c" $((total_ns - total_dax))
	sample ram_bytes "$c" "$grew"
	for d in "${devs[@]}"; do
		[ "$(dax_drv_of "$d")" = kmem ] && { remove_daxctl "$d" || fail "capacity $c: remove $d"; }
	done
	kmem_reset
}

# dram_cost MIB: node 0 memory consumed by hot-adding MIB MiB, for each
# place of the memmap: DRAM, the device's memory itself (memmap_on_memory)
# and the namespace's pfn reservation (series only: daxX.Y/memmap). The
# stock kernel has no daxX.Y/memmap: memmap_on_memory 0 and 1 are its dram
# and memory cases.
dram_cost() {
	local w r before after grew base c mm mom

	kmem_reset
	new_ns "$1" || return
	mm=$SYS_DAX/devices/$dax/memmap
	for w in dram memory reservation; do
		c="${1}M/memmap=$w"
		if [ -e "$mm" ]; then
			echo "$w" >"$mm" 2>/dev/null ||
				{ info "dram_cost: no memmap $w"; continue; }
		elif [ "$w" = reservation ]; then
			info "dram_cost: no memmap $w on this kernel"
			continue
		else
			mom=0
			[ "$w" = memory ] && mom=1
			echo "$mom" >"$SYS_DAX/devices/$dax/memmap_on_memory" 2>/dev/null ||
				{ info "dram_cost: no memmap $w"; continue; }
		fi
		for ((r = 0; r < REPS; r++)); do
			settle_memory
			base=$(meminfo_kb MemTotal)
			before=$(node0_free_kb)
			add_daxctl "$dax" || { fail "dram_cost $c: add"; continue; }
			settle_memory
			after=$(node0_free_kb)
			grew=$((($(meminfo_kb MemTotal) - base) * 1024))
			sample ram_bytes "$c" "$grew"
			sample dram_bytes "$c" $(((before - after) * 1024))
			sample dram_per_gib "$c" $(((before - after) * 1024 * GIB / grew))
			remove_daxctl "$dax" || fail "dram_cost $c: remove"
		done
	done
	echo 0 >"$SYS_DAX/devices/$dax/memmap_on_memory" 2>/dev/null
	kmem_reset
}

# fill_node1 MIB: start numa_fill holding MIB MiB on node 1; sets fill_pid.
fill_node1() {
	rm -f "$FILL_OUT"
	"$NUMA_FILL" -n 1 "$1" >"$FILL_OUT" 2>&1 &
	fill_pid=$!
	wait_line "$FILL_OUT" '^ready ' 900 "$fill_pid"
}

# fill_verify: the filled memory is intact after the migration.
fill_verify() {
	kill -USR1 "$fill_pid"
	wait_exit "$fill_pid" 900 >/dev/null
	grep -q '^done bad=0 ' "$FILL_OUT"
}

# hotplug MIB: hot-add and hot-remove times of a MIB MiB device, every
# flow, then hot-remove with 50% and 90% of it in use.
hotplug() {
	local m=$1 r pct used base t0 t free_kb ram_bytes=0

	kmem_reset
	new_ns "$m" || return
	info "hotplug ${m}M dax=$dax bytes=$dax_bytes"
	for ((r = 0; r < REPS; r++)); do
		base=$(meminfo_kb MemTotal)
		timed hotadd_daxctl "${m}M" add_daxctl "$dax" || break
		ram_bytes=$((($(meminfo_kb MemTotal) - base) * 1024))
		sample ram_bytes "${m}M" "$ram_bytes"
		timed hotremove_daxctl "${m}M/0%" remove_daxctl "$dax" || break
		timed hotadd_sysfs "${m}M" add_sysfs "$dax" || break
		timed hotremove_sysfs "${m}M/0%" remove_sysfs "$dax" || break
		if has_policy "$dax"; then
			timed hotadd_policy "${m}M" add_policy "$dax" || break
			timed hotremove_unbind "${m}M/0%" remove_unbind "$dax" || break
		fi
	done
	for pct in 50 90; do
		[ "$ram_bytes" -gt 0 ] || break
		# a share of the System RAM the device gave (numa_fill binds
		# to node 1: more than it has would be an OOM kill)
		used=$((ram_bytes * pct / 100 >> 20))
		settle_memory
		free_kb=$(node0_free_kb)
		if [ $((used << 10)) -gt $((free_kb - (768 << 10))) ]; then
			info "hotremove ${m}M/$pct%: $used MiB would not fit into node 0 ($((free_kb >> 10)) MiB free)"
			continue
		fi
		for ((r = 0; r < REPS; r++)); do
			add_daxctl "$dax" || { fail "hotremove ${m}M/$pct%: add"; break; }
			fill_node1 "$used" || { fail "hotremove ${m}M/$pct%: fill"; kill -KILL "$fill_pid" 2>/dev/null; break; }
			t0=$(now)
			if ! remove_daxctl "$dax"; then
				fail "hotremove ${m}M/$pct%: remove"
				kill -KILL "$fill_pid" 2>/dev/null
				break
			fi
			t=$(since "$t0")
			if fill_verify; then
				sample hotremove_daxctl "${m}M/$pct%" "$t"
				sample migrate_gibs "${m}M/$pct%" "$(awk -v b=$((used << 20)) -v t="$t" 'BEGIN { printf "%.4f\n", b / t / 1073741824 }')"
			else
				fail "hotremove ${m}M/$pct%: data changed by the migration"
			fi
		done
	done
	kmem_reset
}

# ---------------------------------------------------------------------------
region=$(region_by_size big) || { echo "FAIL no NVDIMM region"; exit 1; }
modprobe kmem
# the series like the stock kernel (whole memory blocks) for every flow;
# capacity measures partial blocks on its own
if [ -e /sys/module/kmem/parameters/subblock ]; then
	echo N >/sys/module/kmem/parameters/subblock || fail "kmem.subblock=N refused"
fi
info kernel "$(uname -r)"
info cmdline "$(cat /proc/cmdline)"
info kmem_parameters "$(cd /sys/module/kmem/parameters 2>/dev/null && echo *)"
info block_size "$(memblock_bytes)"
info region "$region $(cat "$SYS_ND/$region/size") $(printf '%#x' "$(cat "$SYS_ND/$region/resource")")"
info node0_mem_kb "$(node_meminfo_kb 0 MemTotal)"
info reps "$REPS"

info only "${ONLY:-all}"

t_all=$SECONDS
[ -z "$ONLY" ] && bandwidth
if [ -z "$ONLY" ] || [ "$ONLY" = capacity ]; then
	capacity 2000M 2000
	capacity 3x32M 32 32 32
	capacity 4096M 4096
fi
[ -z "$ONLY" ] || [ "$ONLY" = dram ] && dram_cost 4096
if [ -z "$ONLY" ]; then
	for m in $SIZES; do
		hotplug "$m"
	done
fi
info bench_seconds $((SECONDS - t_all))
echo "fails $fails"
[ "$fails" = 0 ]
