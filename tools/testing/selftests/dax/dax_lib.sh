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
SYS_DAX=/sys/bus/dax
SYS_ND=/sys/bus/nd/devices

# check DESCRIPTION COMMAND...: one KTAP result; on failure COMMAND's
# stderr and a diagnostic line are printed as comments.
check() {
	local desc=$1

	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
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
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

# node_meminfo_kb NODE KEY: 0 when the node has no meminfo (not online).
node_meminfo_kb() {
	local f=/sys/devices/system/node/node$1/meminfo

	[ -r "$f" ] || { echo 0; return; }
	awk -v k="$2:" '$3 == k { print $4 }' "$f"
}

memblock_bytes() {
	echo $((0x$(cat $SYS_MEM/block_size_bytes)))
}

# region_by_size big|small: the region of at least / below 1 GiB.
region_by_size() {
	local r sz

	for r in "$SYS_ND"/region*; do
		[ -e "$r/size" ] || continue
		sz=$(cat "$r/size")
		if [ "$1" = big ] && [ "$sz" -ge $((1 << 30)) ]; then
			basename "$r"
			return 0
		fi
		if [ "$1" = small ] && [ "$sz" -lt $((1 << 30)) ]; then
			basename "$r"
			return 0
		fi
	done
	return 1
}

# require_region big|small: set $region, or skip the whole test.
require_region() {
	region=$(region_by_size "$1") && return 0
	ktap_skip_all "no $1 NVDIMM region (big: >= 1 GiB, small: < 1 GiB)"
	exit "$KSFT_SKIP"
}

# json_field KEY: the first string or number value of KEY in ndctl/daxctl
# JSON output read from stdin.
json_field() {
	tr -d ' \n\t' | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# create_ns REGION MODE SIZE [extra ndctl args]: create a namespace and
# print its ndctl JSON on one line.
create_ns() {
	local region=$1 mode=$2 size=$3

	shift 3
	ndctl create-namespace -r "$region" -m "$mode" ${size:+-s "$size"} "$@" 2>/dev/null |
		tr -d ' \n\t'
}

# new_devdax: create a devdax namespace filling $region, set $dax and the
# hot-add range $s..$e (memory-block aligned). Bails out on failure.
new_devdax() {
	dax=$(dax_of_ns "$(create_ns "$region" devdax "" -a 2M)")
	[ -n "$dax" ] || ktap_exit_fail_msg "cannot create a devdax namespace on $region"
	read -r s e < <(kmem_range "$dax")
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

dax_driver() {
	local l=$SYS_DAX/devices/$1/driver

	[ -L "$l" ] && basename "$(readlink "$l")" || echo none
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

# blocks_of START END: memory block directories covering [START, END).
blocks_of() {
	local mb b

	mb=$(memblock_bytes)
	for ((b = $1 / mb; b < $2 / mb; b++)); do
		echo "$SYS_MEM/memory$b"
	done
}

# block_set BLOCK STATE: write memoryN/state, say so when it is refused.
# Offlining may fail transiently with EBUSY even in ZONE_MOVABLE (seen
# once in about ten runs, no unmovable page reported): the documented
# answer is to retry, so "offline" gets up to 5 tries, 1 s apart, and each
# retry is reported.
block_set() {
	local try=1 err

	while :; do
		err=$( { echo "$2" >"$1/state"; } 2>&1) && return 0
		case "$2:$err" in
		offline:*busy*) [ $try -lt 5 ] || break ;;
		*) break ;;
		esac
		ktap_print_msg "$(basename "$1"): offline busy, retry $try"
		try=$((try + 1))
		sleep 1
	done
	ktap_print_msg "$(basename "$1"): '$2' refused: ${err##*: }"
	return 1
}

# The helpers below work on the blocks of the hot-add range $s..$e.

# blocks_set STATE: write STATE to every block, first to last.
blocks_set() {
	local b

	for b in $(blocks_of "$s" "$e"); do
		block_set "$b" "$1" || return 1
	done
}

# blocks_are STATE: every block exists and is in STATE.
blocks_are() {
	local b

	for b in $(blocks_of "$s" "$e"); do
		[ -d "$b" ] || { ktap_print_msg "$(basename "$b") missing"; return 1; }
		eq "$(basename "$b") state" "$(cat "$b/state")" "$1" || return 1
	done
}

# zones_are ZONE: every (online) block is in ZONE.
zones_are() {
	local b

	for b in $(blocks_of "$s" "$e"); do
		eq "$(basename "$b") zone" "$(cat "$b/valid_zones")" "$1" || return 1
	done
}

# blocks_gone: no block of the range exists any more.
blocks_gone() {
	local b

	for b in $(blocks_of "$s" "$e"); do
		[ ! -d "$b" ] || { ktap_print_msg "$(basename "$b") still present"; return 1; }
	done
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

# reset_regions: put every dax device back to device_dax, offlining its
# memory blocks from the last to the first (a block's metadata may sit in an
# earlier one), then destroy every namespace. Best effort: tests call it
# at start and at end; what it cannot undo shows in the next test.
reset_regions() {
	local d b

	for d in "$SYS_DAX"/devices/dax*; do
		[ -e "$d" ] || continue
		d=$(basename "$d")
		[ "$(dax_driver "$d")" = kmem ] || continue
		for b in $(kmem_blocks_of "$d" | tac); do
			[ "$(cat "$b/state")" = offline ] || echo offline 2>/dev/null >"$b/state"
		done
		daxctl reconfigure-device -f -m devdax "$d" >/dev/null 2>&1
	done
	ndctl destroy-namespace -f all >/dev/null 2>&1
	return 0
}

# kmem_blocks_of DAX: memory block directories of a dax device's hot-add
# range.
kmem_blocks_of() {
	local s e

	read -r s e < <(kmem_range "$1")
	blocks_of "$s" "$e"
}
