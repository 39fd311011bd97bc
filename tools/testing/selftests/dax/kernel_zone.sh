#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# daxctl --no-movable: the memory is onlined into ZONE_NORMAL of the pmem's
# node. Such memory receives unmovable kernel allocations (the new node's
# own slab and per-node metadata land there first), so offlining it is
# allowed to fail: when it does, it must fail with EBUSY, the kernel log
# must name the unmovable page, the device must stay bound to kmem and
# its memory must stay accounted. When it succeeds, the memory must leave
# without a trace. Runs on the small region, last: a range that cannot be
# offlined stays until reboot on the stock kernel.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_region small

ktap_print_header
ktap_set_plan 5
kmem_reset

base=$(meminfo_kb MemTotal)
new_devdax
added_kb=$(((e - s) / 1024))
[ "$added_kb" -gt 0 ] || ktap_exit_fail_msg "$dax has no whole memory block"

check "no-movable: reconfigure-device succeeds" \
	run daxctl reconfigure-device --no-movable -m system-ram "$dax"
check "no-movable: every block online in ZONE_NORMAL" blocks_all "$s" "$e" online Normal
check "no-movable: MemTotal grew by exactly the hot-add range" \
	memtotal_grew_by "$added_kb"

offline_result() {
	local out log mark

	mark=$(dmesg | wc -l)
	if out=$(daxctl offline-memory "$dax" 2>&1); then
		ktap_print_msg "offline succeeded"
		run daxctl reconfigure-device -m devdax "$dax" && kmem_gone "$s" "$e" "$base"
		return
	fi
	ktap_print_msg "offline failed: $(echo "$out" | head -n 1)"
	echo "$out" | grep -q "Device or resource busy" || return 1
	log=$(dmesg | tail -n +$((mark + 1)))
	echo "$log" | grep -q "page dumped because: unmovable page" ||
		{ ktap_print_msg "no unmovable page named in the kernel log"; return 1; }
	ktap_print_msg "$(echo "$log" | grep -m1 -o 'pfn:0x[0-9a-f]*') named unmovable"
	eq driver "$(dax_drv_of "$dax")" kmem
}
check "offline: succeeds cleanly, or fails with EBUSY naming an unmovable page" offline_result
# MemTotal above the baseline is exactly the blocks still online.
accounted() {
	local b n=0

	for b in $(blocks_of "$s" "$e"); do
		[ "$(cat "$b/state" 2>/dev/null)" = online ] && n=$((n + 1))
	done
	memtotal_grew_by $((n * $(memblock_bytes) / 1024))
}
check "offline: MemTotal counts exactly the blocks still online" accounted

kmem_reset
ktap_finished
