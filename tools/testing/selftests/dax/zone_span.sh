#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Zone spans follow onlining and offlining of hot-added dax memory: the
# zone the blocks are onlined to spans exactly them, offlining the last
# or first block shrinks the span from that end, a hole in the middle
# does not, and offlining everything leaves the zone empty (span 0).
# ZONE_MOVABLE only: a kernel zone on a new node receives that node's own
# unmovable metadata and need not offline (see kernel_zone.sh).

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_progs sysfs_write
require_region big

ktap_print_header
ktap_set_plan 7
kmem_reset

new_devdax
node=$(dax_attr "$dax" target_node)
PAGE=$(getconf PAGESIZE)
mb=$(memblock_bytes)
mapfile -t B < <(blocks_of "$s" "$e")
nb=${#B[@]}
[ "$nb" -ge 3 ] || ktap_exit_fail_msg "need at least 3 memory blocks, have $nb"
# the end of the first block and the start of the last: the span's new ends
# once they are offline (the first and the last block may be partial)
first_end=$(((s / mb + 1) * mb))
last_start=$(((e - 1) / mb * mb))

# span ZONE: "START_PFN SPANNED" of node $node's ZONE from /proc/zoneinfo.
span() {
	awk -v n="$node," -v z="$1" '
		$1 == "Node" { cur = ($2 == n && $4 == z) }
		cur && $1 == "spanned" { sp = $2 }
		cur && $1 == "start_pfn:" { st = $2 }
		END { print (st == "" ? 0 : st), (sp == "" ? 0 : sp) }' /proc/zoneinfo
}

# span_is ZONE START_ADDR END_ADDR: the zone spans exactly [START, END).
span_is() {
	local st sp

	read -r st sp < <(span "$1")
	if [ "$2" = "$3" ]; then
		eq "$1 spanned pages" "$sp" 0
		return
	fi
	eq "$1 start_pfn" "$st" $(($2 / PAGE)) && eq "$1 spanned pages" "$sp" $((($3 - $2) / PAGE))
}

offline_all() {
	local b

	for b in "${B[@]}"; do
		[ "$(cat "$b/state")" = offline ] || block_set "$b" offline || return 1
	done
}

online_spans() {
	blocks_set "$s" "$e" online_movable && span_is Movable "$s" "$e"
}

# offline_spans BLOCK START END: offline BLOCK, then Movable spans exactly
# [START, END).
offline_spans() {
	block_set "$1" offline && span_is Movable "$2" "$3"
}

all_offline_empty() {
	offline_all && span_is Movable 0 0
}

check "add $nb blocks offline" run daxctl reconfigure-device --no-online -m system-ram "$dax"
check "online_movable: Movable spans exactly the blocks" online_spans
check "offline the last block: span shrinks from the end" \
	offline_spans "${B[nb - 1]}" "$s" "$last_start"
check "offline the first block: span shrinks from the start" \
	offline_spans "${B[0]}" "$first_end" "$last_start"
if [ "$nb" -ge 5 ]; then
	check "offline a middle block: span unchanged" \
		offline_spans "${B[nb / 2]}" "$first_end" "$last_start"
else
	ktap_test_skip "offline a middle block: span unchanged (fewer than 5 blocks)"
fi
check "offline all: Movable empty" all_offline_empty
check "back to devdax" run daxctl reconfigure-device -m devdax "$dax"

kmem_reset
ktap_finished
