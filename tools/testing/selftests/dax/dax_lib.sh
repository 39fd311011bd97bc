#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the dax kmem selftests. Sourced by every test.
#
# The tests expect two NVDIMM regions with initialised label areas: a
# "big" one (>= 1 GiB) for System RAM tests and a "small" one for
# sub-section namespace tests. Every test cleans up after itself and puts
# the regions back to "no namespaces".

DAX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../kselftest/ktap_helpers.sh
. "$DAX_DIR/../kselftest/ktap_helpers.sh"

SYS_MEM=/sys/devices/system/memory
SYS_NODE=/sys/devices/system/node
SYS_DAX=/sys/bus/dax
SYS_ND=/sys/bus/nd/devices
# shellcheck disable=SC2034 # the tests that tear a pmem device down use it
SYS_BUS_ND_DAX_PMEM=/sys/bus/nd/drivers/dax_pmem

# check DESCRIPTION COMMAND...: one KTAP result; on failure COMMAND's
# stderr and a diagnostic line are printed as comments.
#
# With KMEM_PROFILE set (the test VM's runner sets it), each result also
# appends "SECONDS DESCRIPTION" to that file: the seconds since the last
# result, setup between checks included. The runner prints the slowest.
check_t0=$SECONDS
check() {
	local desc=$1

	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
	[ -z "${KMEM_PROFILE:-}" ] ||
		echo "$((SECONDS - check_t0)) $desc" >>"$KMEM_PROFILE"
	check_t0=$SECONDS
}

# eq WHAT GOT WANT: compare two values, say both when they differ.
eq() {
	[ "$2" = "$3" ] && return 0
	ktap_print_msg "$1: got '$2', want '$3'"
	return 1
}

# run CMD...: run a command, send its output to the KTAP log as comments.
run() {
	local out rc

	out=$("$@" 2>&1)
	rc=$?
	[ $rc -eq 0 ] ||
		ktap_print_msg "'$*' failed ($rc): $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	return $rc
}

require_root() {
	[ "$(id -u)" = 0 ] || { ktap_skip_all "must be run as root"; exit "$KSFT_SKIP"; }
}

require_cmds() {
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null ||
			{ ktap_skip_all "$c is not installed"; exit "$KSFT_SKIP"; }
	done
}

meminfo_kb() {
	local v

	meminfo_to v "$1"
	[ -z "$v" ] || echo "$v"
}

# meminfo_to VAR KEY: set VAR to /proc/meminfo's KEY in kB ("" when there
# is none), without a fork (a fork costs about 0.1 s in the test VM).
meminfo_to() {
	local _mk _mv

	printf -v "$1" '%s' ""
	while read -r _mk _mv _; do
		[ "$_mk" = "$2:" ] && { printf -v "$1" '%s' "$_mv"; return 0; }
	done </proc/meminfo
	return 0
}

# node_meminfo_kb NODE KEY: 0 when the node has no meminfo (not online).
node_meminfo_kb() {
	local f=$SYS_NODE/node$1/meminfo

	[ -r "$f" ] || { echo 0; return; }
	awk -v k="$2:" '$3 == k { print $4 }' "$f"
}

memblock_bytes() {
	echo $((0x$(cat $SYS_MEM/block_size_bytes)))
}

# region_by_size big|small|spare: the region of at least 1 GiB, of 512 MiB
# to 1 GiB, or below 512 MiB. The spare one is for the test that leaves
# memory behind for good (kmem_unload.sh), last of all.
region_by_size() {
	local r sz

	for r in "$SYS_ND"/region*; do
		[ -e "$r/size" ] || continue
		sz=$(cat "$r/size")
		case $1 in
		big) [ "$sz" -ge $((1 << 30)) ] ;;
		small) [ "$sz" -ge $((512 << 20)) ] && [ "$sz" -lt $((1 << 30)) ] ;;
		spare) [ "$sz" -lt $((512 << 20)) ] ;;
		*) false ;;
		esac && { basename "$r"; return 0; }
	done
	return 1
}

# require_region big|small|spare: set $region, or skip the whole test.
require_region() {
	region=$(region_by_size "$1") && return 0
	ktap_skip_all "no $1 NVDIMM region (big: >= 1 GiB, small: 512 MiB-1 GiB, spare: < 512 MiB)"
	exit "$KSFT_SKIP"
}

# json_field KEY: the first string or number value of KEY in ndctl/daxctl
# JSON output read from stdin.
json_field() {
	tr -d ' \n\t' | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# create_ns REGION MODE SIZE [extra ndctl args]: create a namespace and
# print its ndctl JSON on one line. ndctl's errors go to the file $NS_ERR
# when it is set.
create_ns() {
	local region=$1 mode=$2 size=$3

	shift 3
	ndctl create-namespace -r "$region" -m "$mode" ${size:+-s "$size"} "$@" \
		2>"${NS_ERR:-/dev/null}" |
		tr -d ' \n\t'
}

# new_devdax: create a devdax namespace filling $region ($NEW_DEVDAX_SIZE
# bytes when it is set), set $dax and the hot-add range $s..$e (kmem_span:
# what kmem would add if bound now). Bails out on failure.
new_devdax() {
	dax=$(dax_of_ns "$(create_ns "$region" devdax "${NEW_DEVDAX_SIZE:-}" -a 2M)")
	[ -n "$dax" ] || ktap_exit_fail_msg "cannot create a devdax namespace on $region"
	read -r s e < <(kmem_span "$dax")
}

# devdax_ns: a devdax namespace (2 MiB alignment) filling $region; sets
# ns and dax, or says why not and returns 1.
# shellcheck disable=SC2034 # ns is the caller's
devdax_ns() {
	local json

	json=$(create_ns "$region" devdax "" -a 2M)
	ns=$(ns_of "$json")
	dax=$(dax_of_ns "$json")
	[ -n "$dax" ] || { msg "cannot create a devdax namespace on $region"; return 1; }
}

# nd_dax_of NS: the nd-bus dax device that claims namespace NS.
nd_dax_of() {
	local d

	for d in "$SYS_ND"/dax*; do
		[ "$(read_word "$d/namespace")" = "$1" ] && basename "$d"
	done
}

# dax_of_ns JSON, ns_of JSON: device names from create_ns' output.
dax_of_ns() {
	echo "$1" | json_field chardev
}

ns_of() {
	echo "$1" | json_field dev
}

dax_attr() {
	cat "$SYS_DAX/devices/$1/$2"
}

# dax_drv_of DAX: the driver DAX is bound to, "none" when it is not bound
# (without forking).
dax_drv_of() {
	local d

	for d in "$SYS_DAX"/drivers/*; do
		[ -e "$d/$1" ] && { echo "${d##*/}"; return; }
	done
	echo none
}

# kmem_range DAX: "START END" (END exclusive) of the part of a single-range
# dax device that kmem can hot-add: memory-block aligned inwards.
kmem_range() {
	local start size mb s e

	start=$(($(dax_attr "$1" resource)))
	size=$(dax_attr "$1" size)
	mb=$(memblock_bytes)
	s=$(((start + mb - 1) / mb * mb))
	e=$(((start + size) / mb * mb))
	echo "$s $e"
}

# kmem_range_2m DAX: "START END" (END exclusive) of the part of a
# single-range dax device that kmem hot-adds with kmem.subblock=1: 2 MiB
# aligned inwards.
kmem_range_2m() {
	local start size

	start=$(($(dax_attr "$1" resource)))
	size=$(dax_attr "$1" size)
	echo $(((start + (2 << 20) - 1) >> 21 << 21)) $(((start + size) >> 21 << 21))
}

# kmem_span DAX: "START END" (END exclusive) of what kmem hot-adds of DAX
# when it is bound now: kmem_range_2m with kmem.subblock=Y, unless the
# device asks for memmap_on_memory (whole blocks then), else kmem_range.
# Loads kmem to read the parameter.
kmem_span() {
	kmem_loaded || modprobe kmem
	if [ "$(kmem_param subblock)" = Y ] &&
	   [ "$(cat "$SYS_DAX/devices/$1/memmap_on_memory" 2>/dev/null)" != 1 ]; then
		kmem_range_2m "$1"
	else
		kmem_range "$1"
	fi
}

# kmem_nblocks START END: the number of memory blocks [START, END) touches
# (0 for an empty range).
kmem_nblocks() {
	local mb

	mb=$(memblock_bytes)
	if [ "$2" -le "$1" ]; then
		echo 0
	else
		echo $((($2 - 1) / mb - $1 / mb + 1))
	fi
}

# block_part B START END: the bytes of memory block B inside [START, END).
block_part() {
	block_part_set "$@"
	echo "$BP"
}

# block_part_set B START END: the same in $BP, without a fork (a fork
# costs about 0.1 s in the test VM: blocks_census runs this per block).
block_part_set() {
	local lo hi

	lo=$(($1 * KMEM_MB > $2 ? $1 * KMEM_MB : $2))
	hi=$((($1 + 1) * KMEM_MB < $3 ? ($1 + 1) * KMEM_MB : $3))
	BP=$((hi > lo ? hi - lo : 0))
}

# block_addr B START END: where the part of memory block B inside
# [START, END) starts: the address kmem names the block by (fail_dax_kmem's
# block, kmem/last_failure_block, the dax_kmem_block tracepoint).
block_addr() {
	local mb

	mb=$(memblock_bytes)
	echo $(($1 * mb > $2 ? $1 * mb : $2))
}

# kmem_present_bytes START END: the bytes of [START, END) in memory blocks
# that are present.
kmem_present_bytes() {
	local b sum=0

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		[ -d "$SYS_MEM/memory$b" ] && block_part_set "$b" "$1" "$2" && sum=$((sum + BP))
	done
	echo "$sum"
}

# blocks_of START END: memory block directories [START, END) touches.
blocks_of() {
	local mb b

	mb=$(memblock_bytes)
	for ((b = $1 / mb; b <= ($2 - 1) / mb; b++)); do
		echo "$SYS_MEM/memory$b"
	done
}

# kmem_why MARK: the kernel log's reasons, since kmsg_mark MARK, for a
# refused or failed online or offline: kmem's refusal, the core's failure
# reason (the runner turns on mm/memory_hotplug.c's "failed" debug
# messages), an unmovable page, an injected notifier error. Prints
# "no reason logged" when there is none.
kmem_why() {
	local why

	why=$(kmsg_since "$1" |
		grep -E 'refused \(|failed due to|online_pages .* failed|page dumped|Injecting' |
		sed 's/^\[[^]]*\] //' | head -n 4)
	echo "${why:-no reason logged}"
}

# write_once FILE DATA [DAX]: write DATA to FILE once (sysfs_err). When
# the kernel refuses, say the errno, DAX's last failure (when given) and the
# kernel log's reason (kmem_why), and fail. No retry: a refusal the test
# does not expect is a failure, and its cause is printed.
write_once() {
	local r l mark=write-once-$$-$RANDOM

	kmsg_mark "$mark"
	r=$(sysfs_err "$1" "$2")
	[ "$r" = OK ] && return 0
	msg "${1#/sys/}: '$2' refused: $r"
	[ -z "${3:-}" ] || last_failure_read "$3"
	kmem_why "$mark" | while IFS= read -r l; do msg "  $l"; done
	return 1
}

# block_set BLOCK STATE: write memoryN/state once (write_once).
block_set() {
	write_once "$1/state" "$2"
}

# blocks_set START END STATE: write STATE to every memory block of
# [START, END), first to last.
blocks_set() {
	local b

	for b in $(blocks_of "$1" "$2"); do
		block_set "$b" "$3" || return 1
	done
}

# node_has LIST NODE: NODE is in /sys/devices/system/node/LIST
# (has_memory, has_normal_memory: "0-1,3" lists).
node_has() {
	local r

	for r in $(tr ',' ' ' <"$SYS_NODE/$1"); do
		[ "$2" -ge "${r%-*}" ] && [ "$2" -le "${r#*-}" ] && return 0
	done
	return 1
}

# node_threads NODE: the node's kcompactd and kswapd threads that run, by
# name, sorted.
node_threads() {
	local f c l=

	for f in /proc/[0-9]*/comm; do
		{ read -r c <"$f"; } 2>/dev/null || continue
		case $c in
		"kswapd$1" | "kcompactd$1") l+=" $c" ;;
		esac
	done
	echo "$l" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//'
}

# memtotal_is KB: MemTotal is exactly KB.
memtotal_is() {
	eq "MemTotal kB" "$(meminfo_kb MemTotal)" "$1"
}

# memtotal_grew_by KB: MemTotal is exactly KB above $base.
memtotal_grew_by() {
	eq "MemTotal delta kB" $(($(meminfo_kb MemTotal) - base)) "$1"
}

# iomem_lines NAME: /proc/iomem lines whose name is NAME.
iomem_lines() {
	awk -F ' : ' -v n="$1" '$2 == n' /proc/iomem
}

# iomem_parent_chain START NAME: names of the resources that contain the
# resource NAME starting at hex address START, innermost first, as
# "name|name|...".
iomem_parent_chain() {
	awk -v want="$1" -v wname="$2" '
	{
		match($0, /^ */)
		depth = RLENGTH
		split(substr($0, depth + 1), a, " : ")
		name[depth] = a[2]
		split(a[1], r, "-")
		if (r[1] == want && a[2] == wname && !found) {
			found = 1
			chain = ""
			for (d = depth - 2; d >= 0; d -= 2)
				chain = chain (chain == "" ? "" : "|") name[d]
			print chain
		}
	}' /proc/iomem
}

# kmem_blocks_of DAX: the memory block directories that exist of the
# blocks a dax device's hot-add range touches, with kmem.subblock=1 or not.
kmem_blocks_of() {
	local s e b

	read -r s e < <(kmem_range_2m "$1")
	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		[ -d "$SYS_MEM/memory$b" ] && echo "$SYS_MEM/memory$b"
	done
}

# ---------------------------------------------------------------------------
# The kmem driver's per-device state machine (kmem_*.sh tests): daxX.Y/state,
# daxX.Y/online_policy, daxX.Y/kmem/, drivers/kmem/retained (and its debugfs
# detail, dax_kmem/retained), the module parameters and the fault injection
# point fail_dax_kmem. These helpers take the device and
# its range as arguments where the older ones use $dax, $s, $e.

KMEM_DRV=$SYS_DAX/drivers/kmem
KMEM_PARAMS=/sys/module/kmem/parameters
KMEM_FAIL=/sys/kernel/debug/fail_dax_kmem
KMEM_RETAINED_DBG=/sys/kernel/debug/dax_kmem/retained
SYSFS_WRITE=$DAX_DIR/sysfs_write
if [ -r "$SYS_MEM/block_size_bytes" ]; then
	KMEM_MB=$(memblock_bytes)
else
	KMEM_MB=$((128 << 20))
fi

msg() {
	ktap_print_msg "$@"
}

# require_progs NAME...: helper programs built by the Makefile, or skip.
require_progs() {
	local p

	for p in "$@"; do
		[ -x "$DAX_DIR/$p" ] ||
			{ ktap_skip_all "$p is not built"; exit "$KSFT_SKIP"; }
	done
}

# shown DATA: DATA made printable for a message (newlines and tabs
# escaped, long strings cut).
shown() {
	local d=$1

	[ ${#d} -le 40 ] || d="${d:0:12}...(${#d} bytes)"
	d=${d//$'\n'/\\n}
	d=${d//$'\t'/\\t}
	printf '%s' "$d"
}

# sysfs_err FILE DATA: write DATA to FILE with a single write(2), exactly as
# given (no newline added, "" is a zero-length write), and print what the
# kernel said: OK, or the errno name (EINVAL, EBUSY, ENOENT when FILE is
# missing, ...).
sysfs_err() {
	"$SYSFS_WRITE" "$1" "$2"
}

# expect_write WANT FILE DATA: writing DATA to FILE gives WANT (OK, EINVAL...).
expect_write() {
	local got

	got=$(sysfs_err "$2" "$3")
	# the description only when it is shown: it costs a fork
	[ "$got" = "$1" ] || eq "write '$(shown "$3")' to ${2#/sys/}" "$got" "$1"
}

# read_word FILE: the first line of FILE, "(missing)" when it cannot be read.
read_word() {
	local v

	read_word_to v "$1"
	echo "$v"
}

# read_word_to VAR FILE: the same into VAR, without a fork; false when
# FILE cannot be read.
read_word_to() {
	{ read -r "$1" <"$2"; } 2>/dev/null && return 0
	printf -v "$1" '%s' "(missing)"
	return 1
}

dax_state() {
	read_word "$SYS_DAX/devices/$1/state"
}

dax_policy() {
	read_word "$SYS_DAX/devices/$1/online_policy"
}

# kmem_attr DAX NAME: daxX.Y/kmem/NAME.
kmem_attr() {
	read_word "$SYS_DAX/devices/$1/kmem/$2"
}

kmem_param() {
	read_word "$KMEM_PARAMS/$1"
}

# kmem_param_set NAME VALUE: set a kmem module parameter, say so if refused.
kmem_param_set() {
	eq "kmem.$1=$2" "$(sysfs_err "$KMEM_PARAMS/$1" "$2")" OK
}

declare -A KMEM_SAVED
KMEM_TUNABLES="online_policy offline_timeout_ms unbind_timeout_ms unplug_retries"
KMEM_TUNABLES+=" retry_max_delay_ms subblock kernel_zone_surprise kernel_loss"

# kmem_params_save / kmem_params_restore: the module parameters a test
# changes, and auto_online_blocks.
kmem_params_save() {
	local p

	for p in $KMEM_TUNABLES; do
		KMEM_SAVED[$p]=$(kmem_param "$p")
	done
	KMEM_SAVED[auto_online_blocks]=$(read_word "$SYS_MEM/auto_online_blocks")
}

kmem_params_restore() {
	local p v

	for p in $KMEM_TUNABLES; do
		v=${KMEM_SAVED[$p]}
		[ -n "$v" ] && [ "$v" != "(missing)" ] && [ -e "$KMEM_PARAMS/$p" ] &&
			sysfs_err "$KMEM_PARAMS/$p" "$v" >/dev/null
	done
	v=${KMEM_SAVED[auto_online_blocks]}
	[ -n "$v" ] && [ "$v" != "(missing)" ] &&
		sysfs_err "$SYS_MEM/auto_online_blocks" "$v" >/dev/null
	return 0
}

# kmem_cleanup_end [DAX]: how a test's cleanup ends: kmem loaded again,
# DAX (when given and bound to kmem) unbound, 30 s for retained memory to
# go (a pin just released lets it), kmem's parameters restored, the
# namespaces reset.
kmem_cleanup_end() {
	modprobe kmem 2>/dev/null
	[ -n "${1:-}" ] && kmem_bound "$1" && sysfs_err "$KMEM_DRV/unbind" "$1" >/dev/null
	wait_until 30 retained_none
	kmem_params_restore
	kmem_reset
}

# kmem_fail_at ADDR [TIMES]: through fail_dax_kmem, make every plug and
# unplug of the memory block starting at ADDR fail, or only the next TIMES
# of them (0: no failures any more). The address is written in decimal.
kmem_fail_at() {
	local a v

	if [ "$1" = 0 ]; then
		eq "fail_dax_kmem/probability=0" "$(sysfs_err "$KMEM_FAIL/probability" 0)" OK
		return
	fi
	for a in verbose=0 space=0 interval=1 "times=${2:--1}" "block=$1" probability=100; do
		v=${a#*=}
		eq "fail_dax_kmem/$a" "$(sysfs_err "$KMEM_FAIL/${a%%=*}" "$v")" OK || return 1
	done
}

# kmem_fail_off: no injected failures, quietly (for cleanups).
kmem_fail_off() {
	[ -e "$KMEM_FAIL/probability" ] && sysfs_err "$KMEM_FAIL/probability" 0 >/dev/null
	return 0
}

# last_failure_read DAX [none]: the four fields of daxX.Y/kmem/last_failure_*
# of DAX, of one failure (read again while kmem/offline_failures moves).
# Without "none" they are said, and must be a failure as documented; sets
# lf_errno, lf_pfn (decimal, or "unknown"), lf_block (decimal) and
# lf_reason. With "none" they must say that nothing failed (errno 0, the
# others "none"), and are said only when they do not.
# shellcheck disable=SC2034
last_failure_read() {
	local d=$SYS_DAX/devices/$1/kmem n0 n1 e p b r try

	for try in 1 2 3; do
		n0=$(read_word "$d/offline_failures")
		e=$(read_word "$d/last_failure_errno")
		p=$(read_word "$d/last_failure_pfn")
		b=$(read_word "$d/last_failure_block")
		r=$(read_word "$d/last_failure_reason")
		n1=$(read_word "$d/offline_failures")
		[ "$n0" = "$n1" ] && break
	done
	if [ "${2:-}" = none ]; then
		[ "$n0" = "$n1" ] || { msg "offline_failures moved in all 3 reads"; return 1; }
		eq "last_failure_errno,pfn,block,reason" "$e,$p,$b,$r" 0,none,none,none
		return
	fi
	msg "last_failure: errno=$e pfn=$p block=$b reason=$r (failures: $n1)"
	[ "$n0" = "$n1" ] ||
		{ msg "offline_failures moved in all 3 reads: no whole failure read"; return 1; }
	[[ $e =~ ^-[0-9]+$ && $p =~ ^(0x[0-9a-f]+|unknown)$ && $b =~ ^0x[0-9a-f]+$ && -n $r ]] ||
		{ msg "last_failure_* not as documented"; return 1; }
	lf_errno=$e
	lf_pfn=$(pfn_value "$p")
	lf_block=$((b))
	lf_reason=$r
}

kmem_loaded() {
	[ -d /sys/module/kmem ]
}

# kmem_bound DAX: DAX is bound to kmem (no fork: the driver's link).
kmem_bound() {
	[ -e "$KMEM_DRV/$1" ]
}

# kmem_bind DAX: bind DAX to kmem, after unbinding whatever driver it has.
# Uses "bind" when kmem knows the id, else "new_id" (which adds the id and
# binds, but does not report a failing probe: "bind" is then tried again to
# get the probe's error). Sets kmem_bind_err to OK or the errno.
kmem_bind() {
	local d=$1 drv

	kmem_bind_err=OK
	drv=$(dax_drv_of "$d")
	[ "$drv" = kmem ] && return 0
	if [ "$drv" != none ]; then
		kmem_bind_err=$(sysfs_err "$SYS_DAX/drivers/$drv/unbind" "$d")
		[ "$kmem_bind_err" = OK ] ||
			{ msg "unbind $d from $drv: $kmem_bind_err"; return 1; }
	fi
	kmem_bind_err=$(sysfs_err "$KMEM_DRV/bind" "$d")
	if [ "$kmem_bind_err" = ENODEV ]; then
		kmem_bind_err=$(sysfs_err "$KMEM_DRV/new_id" "$d")
		[ "$kmem_bind_err" = OK ] && ! kmem_bound "$d" &&
			kmem_bind_err=$(sysfs_err "$KMEM_DRV/bind" "$d")
	fi
	[ "$kmem_bind_err" = OK ] && kmem_bound "$d" && return 0
	[ "$kmem_bind_err" = OK ] && kmem_bind_err="not bound"
	msg "bind $d to kmem: $kmem_bind_err"
	return 1
}

# kmem_bind_movable DAX START END: bind DAX to kmem with every block of
# [START, END) online_movable: through the device's online_policy where
# the driver has one; stock kmem (no online_policy) binds offline, and its
# blocks are then onlined through memoryN/state, which is said.
kmem_bind_movable() {
	local pol=$SYS_DAX/devices/$1/online_policy

	if [ -e "$pol" ]; then
		expect_write OK "$pol" online_movable && kmem_bind "$1"
		return
	fi
	msg "$1 has no online_policy (stock kmem binds offline): onlining through memoryN/state"
	kmem_bind "$1" && blocks_set "$2" "$3" online_movable
}

# kmem_unbind DAX: unbind DAX from kmem through the driver's unbind file.
kmem_unbind() {
	eq "unbind $1 from kmem" "$(sysfs_err "$KMEM_DRV/unbind" "$1")" OK &&
		! kmem_bound "$1"
}

# dax_unbind_any DAX: unbind DAX from whatever driver it is bound to.
dax_unbind_any() {
	local drv

	drv=$(dax_drv_of "$1")
	[ "$drv" = none ] && return 0
	eq "unbind $1 from $drv" "$(sysfs_err "$SYS_DAX/drivers/$drv/unbind" "$1")" OK
}

# blocks_census START END: look at the memory blocks [START, END) touches.
# Sets bc_total, bc_present, bc_online, bc_kernel and bc_movable (block
# counts, the last two online ones by zone), the same as bytes of
# [START, END) in bc_present_bytes, bc_online_bytes, bc_kernel_bytes and
# bc_movable_bytes (a partial block counts its part), and bc_desc
# ("33:Movable 34:offline ...").
blocks_census() {
	local b st z part

	bc_total=0 bc_present=0 bc_online=0 bc_kernel=0 bc_movable=0 bc_desc=
	bc_present_bytes=0 bc_online_bytes=0 bc_kernel_bytes=0 bc_movable_bytes=0
	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		bc_total=$((bc_total + 1))
		# no fork in this loop: it runs for every block of every check
		read_word_to st "$SYS_MEM/memory$b/state" || continue
		block_part_set "$b" "$1" "$2"
		part=$BP
		bc_present=$((bc_present + 1))
		bc_present_bytes=$((bc_present_bytes + part))
		if [ "$st" != online ]; then
			bc_desc+=" $b:$st"
			continue
		fi
		read_word_to z "$SYS_MEM/memory$b/valid_zones"
		bc_desc+=" $b:$z"
		bc_online=$((bc_online + 1))
		bc_online_bytes=$((bc_online_bytes + part))
		if [ "$z" = Movable ]; then
			bc_movable=$((bc_movable + 1))
			bc_movable_bytes=$((bc_movable_bytes + part))
		else
			bc_kernel=$((bc_kernel + 1))
			bc_kernel_bytes=$((bc_kernel_bytes + part))
		fi
	done
}

# state_fits WORD: WORD is a reading of daxX.Y/state the spec allows for the
# blocks last counted by blocks_census ("online" is also the reading of
# memory onlined with the word "online", whatever zone it got).
state_fits() {
	case $1 in
	unplugged) [ "$bc_present" = 0 ] ;;
	offline) [ "$bc_present" -gt 0 ] && [ "$bc_online" = 0 ] ;;
	online_movable) [ "$bc_present" -gt 0 ] && [ "$bc_movable" = "$bc_present" ] ;;
	online_kernel) [ "$bc_present" -gt 0 ] && [ "$bc_kernel" = "$bc_present" ] ;;
	online) [ "$bc_online" -gt 0 ] ;;
	*) false ;;
	esac
}

# blocks_all START END STATE [ZONE]: blocks_census, then every memory block
# of [START, END) is present and STATE (online or offline) and, with ZONE,
# online in ZONE; the blocks that are not are named.
blocks_all() {
	local d st z rc=0

	blocks_census "$1" "$2"
	eq "memory blocks present" "$bc_present" "$bc_total" || rc=1
	for d in $bc_desc; do
		# bc_desc names an online block's zone, another block's state
		case ${d#*:} in
		offline | going-offline | ERROR-*) st=${d#*:} z= ;;
		*) st=online z=${d#*:} ;;
		esac
		eq "memory${d%%:*} state" "$st" "$3" || rc=1
		[ -z "${4:-}" ] || [ "$st" != online ] || eq "memory${d%%:*} zone" "$z" "$4" || rc=1
	done
	[ $rc = 0 ] || msg "blocks:${bc_desc:- none present}"
	return $rc
}

# iomem_kmem_all: "START END PARENT" (hex, as printed) of every
# "System RAM (kmem)" resource in /proc/iomem.
iomem_kmem_all() {
	awk '
	{
		match($0, /^ */)
		depth = RLENGTH
		split(substr($0, depth + 1), a, " : ")
		name[depth] = a[2]
		if (a[2] == "System RAM (kmem)") {
			split(a[1], r, "-")
			print r[1], r[2], (depth >= 2 ? name[depth - 2] : "-")
		}
	}' /proc/iomem
}

# iomem_kmem_in START END: the "System RAM (kmem)" resources that start in
# [START, END), one "start-end" (hex) a line.
iomem_kmem_in() {
	local st en parent

	while read -r st en parent; do
		[ $((16#$st)) -ge "$1" ] && [ $((16#$st)) -lt "$2" ] && echo "$st-$en"
	done < <(iomem_kmem_all)
}

# iomem_kmem_ok DAX START END: the "System RAM (kmem)" resources in
# [START, END) are children of DAX, cover exactly the present memory blocks
# and, when every block is present, are one merged resource.
iomem_kmem_ok() {
	local dax=$1 s=$2 e=$3 st en parent b n=0 present=0 rc=0
	local -A covered=()

	while read -r st en parent; do
		st=$((16#$st))
		en=$((16#$en + 1))
		if [ "$st" -lt "$s" ] || [ "$st" -ge "$e" ]; then
			continue
		fi
		n=$((n + 1))
		if [ "$parent" != "$dax" ]; then
			msg "System RAM (kmem) at $(printf '%#x' "$st") below '$parent', not $dax"
			rc=1
		fi
		for ((b = st / KMEM_MB; b <= (en - 1) / KMEM_MB; b++)); do
			covered[$b]=1
		done
	done < <(iomem_kmem_all)
	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		if [ -d "$SYS_MEM/memory$b" ]; then
			present=$((present + 1))
			[ -n "${covered[$b]}" ] ||
				{ msg "memory$b is present, not in /proc/iomem"; rc=1; }
		else
			if [ -n "${covered[$b]}" ]; then
				msg "memory$b is absent, still System RAM (kmem) in /proc/iomem"
				rc=1
			fi
		fi
	done
	if [ "$present" -eq "$(kmem_nblocks "$s" "$e")" ] && [ "$n" -ne 1 ]; then
		msg "every block present, but $n System RAM (kmem) resources, want one merged"
		rc=1
	fi
	return $rc
}

# kmem_figures_ok DAX: daxX.Y/kmem/*_bytes count the bytes of the last
# blocks_census.
kmem_figures_ok() {
	local rc=0

	eq "kmem/present_bytes" "$(kmem_attr "$1" present_bytes)" \
		"$bc_present_bytes" || rc=1
	eq "kmem/online_kernel_bytes" "$(kmem_attr "$1" online_kernel_bytes)" \
		"$bc_kernel_bytes" || rc=1
	eq "kmem/online_movable_bytes" "$(kmem_attr "$1" online_movable_bytes)" \
		"$bc_movable_bytes" || rc=1
	return $rc
}

# kmem_consistent DAX START END BASE_KB: every view of the device's memory
# agrees: the state reading fits the blocks, MemTotal is BASE_KB plus the
# online blocks, /proc/iomem has the present blocks (iomem_kmem_ok), and
# while bound kmem/ counts the same bytes.
kmem_consistent() {
	local st rc=0

	blocks_census "$2" "$3"
	if kmem_bound "$1"; then
		st=$(dax_state "$1")
		if ! state_fits "$st"; then
			msg "state '$st' does not fit the blocks:${bc_desc:- none present}"
			rc=1
		fi
		kmem_figures_ok "$1" || rc=1
	fi
	memtotal_is $(($4 + bc_online_bytes / 1024)) || rc=1
	iomem_kmem_ok "$1" "$2" "$3" || rc=1
	return $rc
}

# state_is WORD DAX START END BASE_KB: the device reads WORD and is
# consistent (kmem_consistent).
state_is() {
	local rc=0

	eq "$2 state" "$(dax_state "$2")" "$1" || rc=1
	kmem_consistent "$2" "$3" "$4" "$5" || rc=1
	[ $rc = 0 ] || msg "blocks:${bc_desc:- none present}"
	return $rc
}

# kmem_gone START END BASE_KB: nothing of [START, END) is memory any more:
# no memory block, no System RAM (kmem), MemTotal at BASE_KB.
kmem_gone() {
	local rc=0

	blocks_census "$1" "$2"
	eq "memory blocks of the range present" "$(kmem_present_blocks "$1" "$2")" "" || rc=1
	eq "System RAM (kmem) in the range" "$(iomem_kmem_in "$1" "$2" | tr '\n' ' ')" "" || rc=1
	memtotal_is "$3" || rc=1
	return $rc
}

# iomem_is COPY: /proc/iomem is exactly COPY (taken earlier with
# $(cat /proc/iomem)); else the lines that differ are printed.
iomem_is() {
	same_text "/proc/iomem (against the baseline)" "$1" "$(cat /proc/iomem)"
}

# same_text WHAT BEFORE NOW: BEFORE and NOW are the same text; else up to
# eight lines that differ are printed, - before and + now (unified: the
# only form busybox's diff has).
same_text() {
	local l

	[ "$2" = "$3" ] && return 0
	msg "$1 differs:"
	diff -u <(echo "$2") <(echo "$3") | grep -v '^[-+][-+][-+] ' |
		grep '^[-+]' | head -n 8 |
		while read -r l; do msg "  $l"; done
	return 1
}

# kmem_rmmod_refused: "modprobe -r kmem" fails, as it must while the module
# tracks retained memory (if it unloads, it is loaded again and this fails).
kmem_rmmod_refused() {
	if modprobe -r kmem 2>/dev/null; then
		msg "modprobe -r kmem succeeded with memory retained"
		modprobe kmem
		return 1
	fi
	kmem_loaded
}

# kpf_read FILE PFN N: the raw 64-bit words of /proc/kpageflags or
# /proc/kpagecount (FILE) for N pfns from PFN; 512 words a read when PFN
# and N allow it (one read per pfn is slow under TCG).
kpf_read() {
	local bs=8 skip=$2 count=$3

	if [ $(($2 % 512)) = 0 ] && [ $(($3 % 512)) = 0 ]; then
		bs=4096 skip=$(($2 / 512)) count=$(($3 / 512))
	fi
	dd if="$1" bs=$bs skip="$skip" count="$count" 2>/dev/null
}

# kpf_words FILE PFN N: kpf_read's words, one a line in 16 hex digits.
kpf_words() {
	kpf_read "$@" | od -An -v -t x8 | tr -s ' ' '\n' | sed '/^$/d'
}

# kpf_unreachable START END: no page of [START, END) can be reached by a
# pfn walker: every pfn's /proc/kpageflags word is NOPAGE (bit 20) alone,
# which fs/proc/page.c gives when pfn_to_online_page() finds no page.
# Compared as bytes with N such words (little endian, as on x86: a pipe
# of 16 hex digits a pfn through od, tr and awk is slow under TCG); on a
# difference the words are counted and said.
kpf_unreachable() {
	local page p n pat=/tmp/kpf_nopage.$$ rc=0

	page=$(getconf PAGESIZE)
	p=$(($1 / page)) n=$((($2 - $1) / page))
	printf '\0\0\020\0\0\0\0\0' >"$pat"
	while [ $(($(wc -c <"$pat") / 8)) -lt "$n" ]; do
		cat "$pat" "$pat" >"$pat.2" && mv "$pat.2" "$pat"
	done
	if ! cmp -s <(head -c $((n * 8)) "$pat") <(kpf_read /proc/kpageflags "$p" "$n"); then
		msg "kpageflags of $(printf '%#x-%#x' "$1" $(($2 - 1))), want 0000000000100000" \
			"for all $n pfns: $(kpf_words /proc/kpageflags "$p" "$n" | sort | uniq -c |
			awk '{ printf "%s:%s ", $2, $1 }' | cut -c 1-200)"
		rc=1
	fi
	rm -f "$pat"
	return $rc
}

# kmem_new_device: a new devdax namespace on $region (new_devdax sets dax,
# s, e), the baseline MemTotal in base, the number of memory blocks kmem
# would add in nb and its node in node, said in one line.
kmem_new_device() {
	base=$(meminfo_kb MemTotal)
	new_devdax
	nb=$(kmem_nblocks "$s" "$e")
	node=$(dax_attr "$dax" target_node)
	msg "$dax on $region: $nb blocks, $(printf '%#x-%#x' "$s" $((e - 1))), node $node"
}

# kmem_new_unbound [POLICY]: kmem_new_device, then the device unbound from
# every driver, which is the baseline: IOMEM0 is /proc/iomem then, POL the
# device's online_policy file, set to POLICY if given. Bails out on failure.
kmem_new_unbound() {
	kmem_new_device
	POL=$SYS_DAX/devices/$dax/online_policy
	dax_unbind_any "$dax" || ktap_exit_fail_msg "cannot unbind $dax from $(dax_drv_of "$dax")"
	# shellcheck disable=SC2034 # the caller's baseline
	IOMEM0=$(cat /proc/iomem)
	[ -z "${1:-}" ] || expect_write OK "$POL" "$1" ||
		ktap_exit_fail_msg "cannot set $dax online_policy"
}

# kmem_retained: the lines of debugfs dax_kmem/retained, which are those
# of drivers/kmem/retained (the ranges) with each device's figures (nothing
# when the file or the module is missing).
kmem_retained() {
	[ -r "$KMEM_RETAINED_DBG" ] && cat "$KMEM_RETAINED_DBG"
	return 0
}

# retained_sysfs_ok: drivers/kmem/retained is the ranges of the debugfs
# lines, line for line (callers read it where nothing is being removed).
retained_sysfs_ok() {
	same_text "drivers/kmem/retained" "$(kmem_retained | cut -d' ' -f1)" \
		"$(cat "$KMEM_DRV/retained" 2>/dev/null)"
}

# retained_of START: the lines of drivers/kmem/retained of the device whose
# first range starts at START (a number): other tests may leave retained
# memory of their own behind (kmem_kernel_zone.sh does, on purpose).
retained_of() {
	kmem_retained | grep "^$(printf '%x' "$1")-"
	return 0
}

# retained_none: nothing retained, quietly (for wait_until; retained_empty
# says what is left).
retained_none() {
	[ -z "$(kmem_retained)" ]
}

retained_empty() {
	local f=$KMEM_DRV/retained

	eq "dax_kmem/retained" "$(kmem_retained | tr '\n' '|')" "" &&
		eq "drivers/kmem/retained" "$({ tr '\n' '|' <"$f"; } 2>/dev/null)" ""
}

# retained_single: drivers/kmem/retained has exactly one line; it is
# said and parsed (retained_parse sets rt_*). 1 otherwise.
retained_single() {
	local lines

	lines=$(kmem_retained)
	eq "lines in drivers/kmem/retained" "$(printf '%s' "$lines" | grep -c .)" 1 ||
		{ msg "retained: $(echo "$lines" | tr '\n' '|')"; return 1; }
	msg "retained: $lines"
	retained_sysfs_ok && retained_parse "$lines"
}

# retained_whole S E NODE: the parsed line (retained_single) is the whole
# range [S, E) of a device on NODE.
retained_whole() {
	local rc=0

	eq "retained range" "$(printf '%#x-%#x' "$rt_start" "$rt_end")" \
		"$(printf '%#x-%#x' "$1" $(($2 - 1)))" || rc=1
	eq "node" "$rt_node" "$3" || rc=1
	return $rc
}

# retained_parse LINE: split a line of drivers/kmem/retained; sets
# rt_ranges (as printed: "start-end[,start-end...]"), rt_start (the first
# range's start), rt_end (the last range's end, inclusive), rt_node,
# rt_present, rt_attempts, rt_seq, rt_errno (as printed), rt_pfn (decimal, or
# "unknown") and rt_reason. 1 when the line does not have the documented
# form.
# shellcheck disable=SC2034
retained_parse() {
	local r='[0-9a-fA-F]+-[0-9a-fA-F]+'
	local re="^($r(,$r)*) node=([0-9]+) "

	re+='present_bytes=([0-9]+) attempts=([0-9]+) retry_seq=([0-9]+) errno=([^ ]+) '
	re+='pfn=(0x[0-9a-fA-F]+|unknown) reason=(.+)$'

	[[ $1 =~ $re ]] || { msg "retained line not as documented: '$1'"; return 1; }
	rt_ranges=${BASH_REMATCH[1]}
	rt_node=${BASH_REMATCH[3]}
	rt_present=${BASH_REMATCH[4]}
	rt_attempts=${BASH_REMATCH[5]}
	rt_seq=${BASH_REMATCH[6]}
	rt_errno=${BASH_REMATCH[7]}
	rt_pfn=$(pfn_value "${BASH_REMATCH[8]}")
	rt_reason=${BASH_REMATCH[9]}
	r=${rt_ranges%%,*}
	rt_start=$((16#${r%-*}))
	r=${rt_ranges##*,}
	rt_end=$((16#${r#*-}))
}

# pfn_value TEXT: a pfn as printed (0x..., or "unknown") in decimal, or
# "unknown".
pfn_value() {
	if [ "$1" = unknown ]; then
		echo unknown
	else
		echo $(($1))
	fi
}

# failure_pfn_ok REASON PFN: the pfn reported with REASON (decimal, or
# "unknown") is as documented. A page in the way is named for an unmovable
# page, a page still there at a migration timeout, and an injected failure;
# for every other reason no single page is known and the pfn is "unknown"
# (notably when isolating the range failed, and at a "timeout, pages still
# in use", when nothing was left to migrate), never the block's first pfn.
# The caller checks where a named page is.
failure_pfn_ok() {
	case $1 in
	"unmovable page" | "migration timeout" | injected)
		[ "$2" != unknown ] || { msg "reason '$1' with pfn unknown"; return 1; } ;;
	*)
		eq "pfn with reason '$1'" "$2" unknown || return 1 ;;
	esac
	msg "reason '$1': pfn $([ "$2" = unknown ] && echo unknown || printf '%#x' "$2")"
}

# errno_is VALUE NAME NUMBER: VALUE (as printed: -16, 16, EBUSY, -EBUSY)
# is that errno.
errno_is() {
	case $1 in
	"-$3" | "$3" | "$2" | "-$2") return 0 ;;
	esac
	return 1
}

# kv LINE KEY: the value of KEY=value in LINE, words separated by spaces.
kv() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# kmsg_mark TAG / kmsg_since TAG: put a mark in the kernel log; print the
# log from that mark on (the runner clears the log between tests only).
kmsg_mark() {
	echo "dax_selftest: mark $1" >/dev/kmsg
}

kmsg_since() {
	dmesg | sed -n "/dax_selftest: mark $1\$/,\$p"
}

# wait_until SECONDS CMD...: run CMD every half second until it succeeds;
# 1 when it did not within SECONDS.
wait_until() {
	local end=$((SECONDS + $1))

	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}

# wait_line FILE PATTERN SECONDS PID: wait until FILE has a line matching
# PATTERN (grep -E), while process PID lives; 1 on timeout or death.
wait_line() {
	local end=$((SECONDS + $3))

	while :; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || { grep -Eq "$2" "$1" 2>/dev/null; return; }
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}

# wait_exit PID SECONDS: wait for a child to exit; its status, or 124
# after SECONDS (the child is then killed), 127 without a PID.
wait_exit() {
	local end=$((SECONDS + $2))

	[ -n "$1" ] || return 127
	while kill -0 "$1" 2>/dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.5
	done
	wait "$1"
}

# kmem_present_blocks START END: the numbers of the memory blocks
# [START, END) touches that are present, space separated.
kmem_present_blocks() {
	local b l=

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		[ -d "$SYS_MEM/memory$b" ] && l+=" $b"
	done
	echo "${l# }"
}

# retained_seqs: the retry_seq figures of debugfs dax_kmem/retained, one
# per retained device: each is odd while the device's background retry
# runs a round, and steps at the start and at the end of every round.
retained_seqs() {
	kmem_retained | sed -n 's/.* retry_seq=\([0-9]*\) .*/\1/p' | tr '\n' ' '
}

# seqs_odd SEQS: one of the retry_seq figures SEQS (from retained_seqs) is
# odd: that device's background retry was in a round when they were read.
seqs_odd() {
	local q

	for q in $1; do
		[ $((q % 2)) = 1 ] && return 0
	done
	return 1
}

# kmem_settled CMD...: run CMD while no background retry of retained
# memory offlines blocks behind its back (a round lasts up to
# kmem.unbind_timeout_ms, each block up to kmem.offline_timeout_ms). The
# result stands when no round ran at any time during CMD: the retry_seq
# figures read before CMD are all even and read the same after it (judged
# on those two reads only: a third read could miss a round that ended in
# between). Else CMD runs again, up to 5 times, each rerun said in a
# "retry:" message (the runner counts them: a retry only where the driver
# documents one); no quiet run in 5 fails. CMD's messages are printed for
# the run that counts. CMD runs in a subshell: the variables it sets are
# lost.
kmem_settled() {
	local try q0 q1 out rc end

	for try in 1 2 3 4 5; do
		end=$((SECONDS + 30))
		while q0=$(retained_seqs) && seqs_odd "$q0" && [ "$SECONDS" -lt "$end" ]; do
			sleep 0.1
		done
		out=$("$@")
		rc=$?
		q1=$(retained_seqs)
		if [ "$q1" = "$q0" ] && ! seqs_odd "$q0"; then
			[ -z "$out" ] || echo "$out"
			msg "settled: retry_seq '${q0% }' before and after '$1'"
			return $rc
		fi
		msg "retry: kmem's background retry overlapped try $try of '$1'" \
		    "(retry_seq '${q0% }' before, '${q1% }' after)"
	done
	[ -z "$out" ] || echo "$out"
	msg "kmem's background retry overlapped all 5 tries of '$1'"
	return 1
}

# kmem_reset [keep_kernel]: best effort back to a clean slate, for every
# test at its start and at its end; what it cannot undo shows in the next
# test. No fault injected; every device bound to kmem unplugged through its
# state file and unbound; a device still bound to kmem (stock kmem has no
# state file) has its memory blocks offlined from the last to the first (a
# block's metadata may sit in an earlier one) and daxctl takes it back to
# devdax; then every namespace is destroyed. With keep_kernel, a device
# bound to kmem with its memory online_kernel is left as it is: what of it
# could go would go later, in kmem's background retry of retained memory,
# under the caller's measurements of MemTotal.
# shellcheck disable=SC2120 # kernel_zone.sh passes keep_kernel
kmem_reset() {
	local d b st keep=${1:-}

	kmem_fail_off
	for d in "$SYS_DAX"/devices/dax*; do
		[ -e "$d" ] || continue
		d=${d##*/}
		if ! kmem_bound "$d" || [ ! -e "$SYS_DAX/devices/$d/state" ]; then
			continue
		fi
		[ "$keep" = keep_kernel ] && [ "$(dax_state "$d")" = online_kernel ] && continue
		sysfs_err "$SYS_DAX/devices/$d/state" unplugged >/dev/null
		sysfs_err "$KMEM_DRV/unbind" "$d" >/dev/null
	done
	for d in "$SYS_DAX"/devices/dax*; do
		[ -e "$d" ] || continue
		d=${d##*/}
		[ "$(dax_drv_of "$d")" = kmem ] || continue
		[ "$keep" = keep_kernel ] && [ "$(dax_state "$d")" = online_kernel ] && continue
		for b in $(kmem_blocks_of "$d" | tac); do
			read_word_to st "$b/state"
			[ "$st" = offline ] || echo offline 2>/dev/null >"$b/state"
		done
		daxctl reconfigure-device -f -m devdax "$d" >/dev/null 2>&1
	done
	ndctl destroy-namespace -f all >/dev/null 2>&1
	return 0
}

# ---- pages held on the device's node (page_pin) ----
# start_pin, stop_pin and pfns_in_device use the caller's $node (the
# device's node), $s and $e (its range), $PAGE, and the files $PFNS (the
# pfns page_pin reports) and $OUT (its output); pin_pid is page_pin's pid
# while it runs.

# start_pin MODE SIZE [OPTION...]: start page_pin in the background with
# the OPTIONs (-c) and wait until it says "ready"; on failure pin_rc is its
# exit status.
start_pin() {
	local mode=$1 size=$2

	shift 2
	rm -f "$PFNS"
	"$DAX_DIR/page_pin" -m "$mode" "$@" -n "$node" -p "$PFNS" "$size" >"$OUT" 2>&1 &
	pin_pid=$!
	if wait_line "$OUT" '^ready ' 60 "$pin_pid"; then
		msg "page_pin -m $mode $* $size: $(grep '^ready ' "$OUT")"
		return 0
	fi
	wait_exit "$pin_pid" 5
	pin_rc=$?
	pin_pid=
	msg "page_pin -m $mode $* $size ($pin_rc): $(tail -n 2 "$OUT" | tr '\n' ' ')"
	return 1
}

# pin_kill: kill page_pin if it still runs, remove $PFNS and $OUT (for a
# test's cleanup).
pin_kill() {
	[ -n "$pin_pid" ] && kill -KILL "$pin_pid" 2>/dev/null && wait "$pin_pid" 2>/dev/null
	pin_pid=
	rm -f "$PFNS" "$OUT"
}

# stop_pin: SIGUSR1 to page_pin; it must say "released" and exit 0.
stop_pin() {
	local rc

	[ -n "$pin_pid" ] || { msg "page_pin is not running"; return 1; }
	kill -USR1 "$pin_pid"
	wait_exit "$pin_pid" 60
	rc=$?
	pin_pid=
	[ "$rc" = 0 ] || msg "page_pin: $(tail -n 2 "$OUT" | tr '\n' ' ')"
	eq "page_pin exit status" "$rc" 0 && grep -q '^released' "$OUT"
}

# pfns_in_device: look at the pfns page_pin wrote; sets pfns_total,
# pfns_in (those in the device) and pinned (the device's memory block
# numbers that hold one, sorted, space separated).
pfns_in_device() {
	local p a
	local -A blk=()

	pfns_total=0 pfns_in=0 pinned=
	while read -r p; do
		pfns_total=$((pfns_total + 1))
		a=$((p * PAGE))
		if [ "$a" -ge "$s" ] && [ "$a" -lt "$e" ]; then
			pfns_in=$((pfns_in + 1))
			blk[$((a / KMEM_MB))]=1
		fi
	done <"$PFNS"
	[ ${#blk[@]} -gt 0 ] && pinned=$(printf '%s\n' "${!blk[@]}" | sort -n | tr '\n' ' ')
	pinned=${pinned% }
}

is_pinned() {
	case " $pinned " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# --- a device's loss (kmem_loss.sh, kmem_loss_cache.sh) ---
# The caller sets dax, ns (its namespace) and s (its start).

BACKING_FAIL=/sys/kernel/debug/fail_dax_backing
MF_RECOVERY=/proc/sys/vm/memory_failure_recovery

# revoked_logged TAG [failed]: the pages kmem's log lines since TAG say
# were taken from their users, summed over blocks; with "failed", the
# lines of memory that failed (every page in use taken).
revoked_logged() {
	local line="kmem: $dax: block 0x[0-9a-f]*: \\([0-9]*\\) pages"

	if [ "${2:-}" = failed ]; then
		line+=" in use taken from their users, as the device's memory failed"
	else
		line+=" that could not be migrated taken from their users"
	fi
	kmsg_since "$1" | sed -n "s/.*$line.*/\\1/p" |
		awk '{ n += $1 } END { print n + 0 }'
}

# teardown TAG [NEWS [region]]: the provider's teardown (the nd-bus unbind
# of the namespace's nd_dax device from dax_pmem, what destroying the
# namespace does first; with "region", the unbind of $region from
# nd_region, which takes every namespace of the region with it: a region
# disable as ndctl does it, which ndctl 76 itself skips while the memory is
# online), with vm.memory_failure_recovery=0 (which panics on a hardware
# memory error, not on this); kmem told once since mark TAG; NEWS is
# kmem's log line (default: the teardown's).
teardown() {
	local nd r0 rc=0 news=${2:-the provider is removing the device}
	local f=$SYS_BUS_ND_DAX_PMEM/unbind

	if [ "${3:-}" = region ]; then
		f=/sys/bus/nd/drivers/nd_region/unbind nd=$region
		# the device that comes back with the region is device_dax's
		sysfs_err "$KMEM_DRV/remove_id" "$dax" >/dev/null
	else
		nd=$(nd_dax_of "$ns")
	fi
	[ -n "$nd" ] || { msg "no nd_dax device claims $ns"; return 1; }
	r0=$(cat "$MF_RECOVERY") && echo 0 >"$MF_RECOVERY" || return 1
	expect_write OK "$f" "$nd" || rc=1
	echo "$r0" >"$MF_RECOVERY"
	[ $rc = 0 ] || return 1
	[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; return 1; }
	eq "lines \"$news\" for $dax" \
		"$(kmsg_since "$1" | grep -c "kmem: $dax: $news\$")" 1
}

# backing_fails: fail_dax_backing fires once, for the device at $s.
backing_fails() {
	local a

	for a in verbose=0 space=0 interval=1 times=1 "phys=$s" probability=100; do
		eq "fail_dax_backing/$a" "$(sysfs_err "$BACKING_FAIL/${a%%=*}" "${a#*=}")" OK ||
			return 1
	done
}
