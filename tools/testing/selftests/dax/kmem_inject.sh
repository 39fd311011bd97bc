#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Failures injected through the kernel's memory notifier error injection
# (lib/memory-notifier-error-inject.c) into the onlining of a bind and the
# offlining of a state transition. Every injected failure must end in a
# clean rollback with the errno Documentation/admin-guide/mm/dax-kmem.rst
# gives, and the kernel log must stay free of splats (the runner checks it
# after the test). A 256 MiB devdax namespace on the small region (one
# memory block after the memmap's reservation and the alignment; with
# kmem.subblock=Y its 2 MiB aligned range, in parts of blocks),
# online_policy online_movable:
#  (a) memory notifier error injection, MEM_GOING_ONLINE failing with
#      -ENOMEM: the bind fails with EIO (a block was added but would not
#      online), the kernel log says so, nothing is left; with the injection
#      off the bind succeeds;
#  (b) MEM_GOING_OFFLINE failing: writing "unplugged" fails with ENOMEM and
#      the device stays online_movable, every block in place; with the
#      injection off it unplugs, and the unbind leaves nothing.
#
# Not here: failslab or fail_page_alloc over a whole bind. The core hot-add
# path does not survive every allocation failure (in 6.12: BUG_ON() when
# registering the node again fails, a page table allocated with GFP_ATOMIC
# and used unchecked on x86, WARN_ON_ONCE() in add_pages()), so such a
# sweep would crash the kernel before it said anything about kmem.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write
require_region small

DBG=/sys/kernel/debug
NEI=$DBG/notifier-error-inject/memory/actions

ktap_print_header
ktap_set_plan 5
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
modprobe memory-notifier-error-inject ||
	ktap_exit_fail_msg "no memory-notifier-error-inject (MEMORY_NOTIFIER_ERROR_INJECT)"
[ -d "$NEI" ] || ktap_exit_fail_msg "no $NEI (see the selftests' config)"

# inject_off: no notifier error injected (quietly, for cleanups).
inject_off() {
	local f

	for f in MEM_GOING_ONLINE MEM_GOING_OFFLINE; do
		sysfs_err "$NEI/$f/error" 0 >/dev/null
	done
	return 0
}

cleanup() {
	inject_off
	kmem_reset
	modprobe -r memory-notifier-error-inject 2>/dev/null
}
trap cleanup EXIT

# A namespace of two memory blocks: after the memmap's reservation and the
# alignment, one block is hot-added; with kmem.subblock=Y the 2 MiB aligned
# range is (kmem_span), in the parts of the blocks it touches.
json=$(create_ns "$region" devdax 256M -a 2M)
dax=$(dax_of_ns "$json")
[ -n "$dax" ] || ktap_exit_fail_msg "cannot create a 256 MiB devdax namespace on $region"
read -r s e < <(kmem_span "$dax")
base=$(meminfo_kb MemTotal)
msg "$dax on $region: $(((e - s) >> 20)) MiB in $(kmem_nblocks "$s" "$e") block(s)," \
	"$(printf '%#x-%#x' "$s" $((e - 1)))"
POL=$SYS_DAX/devices/$dax/online_policy
STATE=$SYS_DAX/devices/$dax/state
dax_unbind_any "$dax" || ktap_exit_fail_msg "cannot unbind $dax"
IOMEM0=$(cat /proc/iomem)
expect_write OK "$POL" online_movable || ktap_exit_fail_msg "cannot set $dax online_policy"

# left_nothing: the device is not bound and nothing of it is memory.
left_nothing() {
	! kmem_bound "$dax" && kmem_gone "$s" "$e" "$base" && iomem_is "$IOMEM0"
}

# all_online: the device is bound, online_movable and consistent.
all_online() {
	kmem_bound "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}

# notifier_set ACTION ERRNO: memory-notifier-error-inject fails ACTION
# with ERRNO (0: does not).
notifier_set() {
	eq "notifier-error-inject $1" "$(sysfs_err "$NEI/$1/error" "$2")" OK
}

# --- (a) MEM_GOING_ONLINE fails ---
online_refused() {
	local err

	notifier_set MEM_GOING_ONLINE -12 || return 1
	kmsg_mark "inject-a-$$"
	# kmem matches a device only once new_id names it, and new_id does
	# not report the probe's error: the bind that follows does
	eq "new_id $dax" "$(sysfs_err "$KMEM_DRV/new_id" "$dax")" OK || return 1
	kmem_bound "$dax" && { msg "$dax bound although it could not online"; return 1; }
	err=$(sysfs_err "$KMEM_DRV/bind" "$dax")
	notifier_set MEM_GOING_ONLINE 0 || return 1
	eq "bind with MEM_GOING_ONLINE failing" "$err" EIO || return 1
	kmsg_since "inject-a-$$" | grep -q "$dax: block .*: online failed (-5), removing" ||
		{ msg "no 'online failed' message naming $dax"; return 1; }
	left_nothing
}
check "(a) MEM_GOING_ONLINE fails: bind fails with EIO, logged, nothing left" online_refused

bind_clean() {
	kmem_bind "$dax" && all_online
}
check "(a) without the injection the bind succeeds: online_movable" bind_clean

# --- (b) MEM_GOING_OFFLINE fails ---
offline_refused() {
	local err

	notifier_set MEM_GOING_OFFLINE -12 || return 1
	err=$(sysfs_err "$STATE" unplugged)
	notifier_set MEM_GOING_OFFLINE 0 || return 1
	eq "unplugged with MEM_GOING_OFFLINE failing" "$err" ENOMEM && all_online
}
check "(b) MEM_GOING_OFFLINE fails: unplugged fails with ENOMEM, everything stays online" \
	offline_refused

unplug_then_unbind() {
	expect_write OK "$STATE" unplugged && kmem_gone "$s" "$e" "$base" &&
		kmem_unbind "$dax" && left_nothing
}
check "(b) without the injection it unplugs; the unbind leaves nothing" unplug_then_unbind

check "no injection left armed" inject_off

ktap_finished
