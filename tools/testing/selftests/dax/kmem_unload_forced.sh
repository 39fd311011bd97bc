#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem forced out (rmmod -f) while it keeps retained memory. The spare
# region, online_movable: a block retained (an injected failure), then
# "rmmod -f": the forced unload lets go of the retained device (its worker
# stopped, its memory notifier unregistered) and says the memory stays
# System RAM until a reboot. The memory stays counted and named in
# /proc/iomem, its block can still be offlined and onlined (no notifier of
# the unloaded module is called), the worker's timer never fires into
# freed memory, and kmem loads again, knowing nothing retained. Memory
# other tests retained on purpose (kmem_kernel_zone.sh) is let go of too.
# Runs last: the spare region's memory stays until a reboot, and a forced
# unload taints the kernel, which turns lockdep off.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe rmmod
require_progs sysfs_write
require_region spare

ktap_print_header
ktap_set_plan 4
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"

kmem_new_unbound online_movable
[ "$nb" -ge 2 ] || ktap_exit_fail_msg "$dax has $nb blocks, want 2"

# the top block: its number, its address (block_addr: the start of the
# device's part of it) and the bytes of the device in it (the block may be
# partial)
lb=$(((e - 1) / KMEM_MB))
top=$(block_addr "$lb" "$s" "$e")
top_bytes=$(block_part "$lb" "$s" "$e")
retain_top() {
	local l

	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base" &&
		kmem_fail_at "$top" && kmem_unbind "$dax" || return 1
	l=$(retained_of "$s")
	msg "retained: $l"
	retained_parse "$l" && eq "retained bytes" "$rt_present" "$top_bytes"
}
check "an injected failure on the top block: it is retained" retain_top

forced_unload() {
	local l rc=0

	kmsg_mark "unload-$$"
	run rmmod -f kmem || return 1
	kmem_loaded && { msg "kmem is still loaded"; return 1; }
	l=$(kmsg_since "unload-$$" | grep -m1 "$dax: .* stay System RAM until reboot")
	[ -n "$l" ] || { msg "no '$dax: ... stay System RAM until reboot' in the log"; rc=1; }
	msg "kernel log: ${l#*] }"
	[[ $l == *"$top_bytes bytes"* ]] || { msg "want $top_bytes bytes named"; rc=1; }
	return $rc
}
check "rmmod -f: kmem unloads and says the retained block stays until reboot" forced_unload

# The worker's first retry would come a second after the unbind; the
# memory notifier is called for every block that changes state.
left_alone() {
	local b=$SYS_MEM/memory$lb rc=0

	sleep 3
	memtotal_is $((base + top_bytes / 1024)) || rc=1
	eq "System RAM (kmem) in the range" "$(iomem_kmem_in "$s" "$e" | tr '\n' ' ')" \
		"$(printf '%x-%x ' "$top" $((top + top_bytes - 1)))" || rc=1
	grep -q " : $dax\$" /proc/iomem || { msg "no '$dax' in /proc/iomem"; rc=1; }
	eq "offline the abandoned block" "$(sysfs_err "$b/state" offline)" OK || rc=1
	eq "online it again" "$(sysfs_err "$b/state" online_movable)" OK || rc=1
	return $rc
}
check "the abandoned block: counted, named, offlined and onlined without the module" \
	left_alone


reloaded_unretained() {
	modprobe kmem && retained_empty
}
check "kmem loads again and knows of nothing retained" reloaded_unretained

ktap_finished
