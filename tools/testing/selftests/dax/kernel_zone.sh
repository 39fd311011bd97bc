#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# daxctl --no-movable: the memory is onlined into ZONE_NORMAL of the pmem's
# node. The node's own threads (kswapdN, kcompactdN) start when the node
# gets its first memory, their stacks in the node's ZONE_NORMAL if it has
# one, and never move. Which of two cases runs is known before the
# memory comes, and said:
#  - the node has normal memory and its threads run (in the suite, what
#    kmem_kernel_zone.sh leaves): the node's state does not change, so
#    nothing of the node's is due in the device; offline, top down,
#    succeeds and the memory leaves without a trace (a failure prints the
#    page in the way);
#  - the node is memoryless: the threads start in the device's memory,
#    offline fails with EBUSY, the kernel log names an unmovable page of
#    the device, the device stays bound to kmem, its memory accounted.
# A node with only movable memory is neither: its first normal memory gets
# the per-node structures of slab caches created later, which this test
# cannot time; it says so and fails.
# Runs on the small region, last: a range that cannot be offlined stays
# until reboot on the stock kernel. Runs with kmem.subblock=N, whole blocks:
# daxctl 76.1 would leave a partial first block offline (partial blocks
# are kmem_subblock.sh's and daxctl_system_ram.sh's).

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_progs sysfs_write
require_region small
PAGE=$(getconf PAGESIZE)

ktap_print_header
ktap_set_plan 5
# memory kmem_kernel_zone.sh left online_kernel stays bound: unbound, what
# of it can go would go during this test, in the background
kmem_reset keep_kernel

# kmem.subblock is read at bind, and the VM's command line may set it at
# every load of kmem: set N once kmem is loaded, put the parameters back at
# exit. A kmem without the parameter adds whole blocks.
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
trap kmem_params_restore EXIT
[ "$(kmem_param subblock)" = "(missing)" ] || kmem_param_set subblock N ||
	ktap_exit_fail_msg "cannot set kmem.subblock=N"

base=$(meminfo_kb MemTotal)
new_devdax
added_kb=$(((e - s) / 1024))
[ "$added_kb" -gt 0 ] || ktap_exit_fail_msg "$dax has no whole memory block"
node=$(dax_attr "$dax" target_node)
threads=$(node_threads "$node")
if node_has has_normal_memory "$node" && [ -n "$threads" ]; then
	ktap_print_msg "node $node: normal memory, $threads run before: offline must work"
elif ! node_has has_memory "$node"; then
	threads=
	ktap_print_msg "node $node is memoryless: its threads will start in $dax: offline must fail"
else
	ktap_exit_fail_msg "node $node has memory, none of it normal: no outcome is due"
fi

check "no-movable: reconfigure-device succeeds" \
	run daxctl reconfigure-device --no-movable -m system-ram "$dax"
check "no-movable: every block online in ZONE_NORMAL" blocks_all "$s" "$e" online Normal
check "no-movable: MemTotal grew by exactly the hot-add range" \
	memtotal_grew_by "$added_kb"

# offline_works: every block offlined, top down (the memmap of a block
# added later may be in a block below it: daxctl offline-memory goes
# bottom up), then daxctl takes the device back to devdax and the memory
# leaves without a trace.
offline_works() {
	local b

	for b in $(blocks_of "$s" "$e" | tac); do
		block_set "$b" offline || return 1
	done
	run daxctl reconfigure-device -m devdax "$dax" && kmem_gone "$s" "$e" "$base"
}

# offline_refused: daxctl offline-memory fails with EBUSY, the kernel log
# names an unmovable page of the device, the device stays with kmem.
offline_refused() {
	local out pfn

	kmsg_mark "kernel-zone-offline-$$"
	if out=$(daxctl offline-memory "$dax" 2>&1); then
		msg "offline worked"
		return 1
	fi
	msg "offline failed: $(echo "$out" | head -n 1)"
	echo "$out" | grep -q "Device or resource busy" || return 1
	pfn=$(kmsg_since "kernel-zone-offline-$$" | grep -B8 "page dumped because: unmovable page" |
	      grep -m1 -o 'pfn:0x[0-9a-f]*')
	[ -n "$pfn" ] || { msg "no unmovable page named in the kernel log"; return 1; }
	msg "$pfn named unmovable"
	pfn=$((${pfn#pfn:} * PAGE))
	[ "$pfn" -ge "$s" ] && [ "$pfn" -lt "$e" ] || { msg "not a page of $dax"; return 1; }
	eq driver "$(dax_drv_of "$dax")" kmem
}
if [ -n "$threads" ]; then
	check "offline top down, node's threads elsewhere: it works, the memory leaves" \
		offline_works
else
	check "offline, node's threads in $dax: EBUSY, an unmovable page of $dax named" \
		offline_refused
fi
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
