#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Where hot-added dax memory lands: on the pmem's NUMA node only (the
# node's MemTotal grows by the whole range, every other node's stays the
# same, every block links to that node), and in the resource tree as
# "System RAM (kmem)" below the dax device below "Persistent Memory".
# The device's online_policy is online_movable (when it has one), so that
# kmem onlines every block at bind, a partial first block (kmem.subblock=Y)
# included, which daxctl 76.1 does not see; daxctl then finds the memory
# online and exits 0.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_progs sysfs_write
require_region big

ktap_print_header
ktap_set_plan 8
kmem_reset

new_devdax
node=$(dax_attr "$dax" target_node)
added_kb=$(((e - s) / 1024))
ktap_print_msg "$dax: target node $node, range $(printf '%#x-%#x' "$s" $((e - 1)))"

nodes=$(cd /sys/devices/system/node && echo node[0-9]* | sed 's/node//g')
declare -A before
for n in $nodes; do
	before[$n]=$(node_meminfo_kb "$n" MemTotal)
done

blocks_on_node() {
	local b

	for b in $(blocks_of "$s" "$e"); do
		[ -e "$b/node$node" ] && continue
		ktap_print_msg "$(basename "$b") not on node$node: $(ls -d "$b"/node* 2>/dev/null)"
		return 1
	done
}

other_nodes_unchanged() {
	local n rc=0

	for n in $nodes; do
		[ "$n" = "$node" ] && continue
		eq "node$n MemTotal kB" "$(node_meminfo_kb "$n" MemTotal)" "${before[$n]}" || rc=1
	done
	return $rc
}

cpus_of() {
	cat "/sys/devices/system/node/node$1/cpulist" 2>/dev/null
}

memory_only() {
	[ "$node" != 0 ] && [ -z "$(cpus_of "$node")" ]
}
check "target node $node is a memory-only node" memory_only
pol=$SYS_DAX/devices/$dax/online_policy
[ ! -e "$pol" ] || expect_write OK "$pol" online_movable ||
	ktap_exit_fail_msg "cannot set $dax online_policy"
check "reconfigure to system-ram" run daxctl reconfigure-device -m system-ram "$dax"
check "node$node MemTotal grew by exactly the hot-add range" \
	eq "node$node MemTotal delta kB" \
	   $(($(node_meminfo_kb "$node" MemTotal) - before[$node])) "$added_kb"
check "other nodes' MemTotal unchanged" other_nodes_unchanged
check "every block links to node$node" blocks_on_node

hex_s=$(printf '%x' "$s")
chain=$(iomem_parent_chain "$hex_s" "System RAM (kmem)")
ktap_print_msg "System RAM (kmem) at $hex_s < ${chain//|/ < }"

# ram_at_start: a System RAM (kmem) resource starts at the hot-add start,
# the last one in the range ends at its end, and those in the range are
# $dax's and cover its blocks (iomem_kmem_ok: one merged resource).
ram_at_start() {
	local last

	grep -qE "^ +$hex_s-[0-9a-f]+ : System RAM \(kmem\)$" /proc/iomem ||
		{ msg "no System RAM (kmem) starts at $hex_s"; return 1; }
	last=$(iomem_kmem_in "$s" "$e" | tail -n 1)
	eq "end of the range's last System RAM (kmem)" "$(printf '%#x' $((16#${last#*-})))" \
		"$(printf '%#x' $((e - 1)))" && iomem_kmem_ok "$dax" "$s" "$e"
}
check "System RAM (kmem) resource at the hot-add start" ram_at_start
check "its parent is $dax" eq parent "${chain%%|*}" "$dax"

pmem_ancestor() {
	echo "|$chain|" | grep -q "|Persistent Memory|"
}
check "an ancestor is Persistent Memory" pmem_ancestor

kmem_reset
ktap_finished
