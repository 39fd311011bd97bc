#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Failures injected by the kernel's own fault-injection frameworks into the
# paths kmem drives: hot-add, online, offline, its state transitions. Every
# injected failure must end in a clean rollback with the documented errno
# (Documentation/admin-guide/mm/dax-kmem.rst), and the kernel log must stay
# free of splats (the runner checks it after the test). A 256 MiB devdax
# namespace on the small region, online_policy online_movable:
#  (a) memory notifier error injection, MEM_GOING_ONLINE failing with
#      -ENOMEM: the bind fails with EIO (a block was added but would not
#      online), the kernel log says so, nothing is left; with the injection
#      off the bind succeeds;
#  (b) MEM_GOING_OFFLINE failing: writing "unplugged" fails with ENOMEM and
#      the device stays online_movable, every block in place; with the
#      injection off it unplugs, and the unbind leaves nothing;
#  (c) failslab, scoped to the task writing "bind" (sysfs_write -f): one
#      slab allocation of the bind fails, the first after SPACE bytes, for
#      SPACE = 0, 64, 128, 256, ... For each the bind either fails with
#      a documented plug errno (ENOMEM, EBUSY or EEXIST when adding a
#      block failed, EIO when it would not online) and leaves nothing
#      (/proc/iomem and MemTotal at the baseline, no memory block), or the
#      failure was tolerated and the device is online_movable and
#      consistent; the branch taken is printed. The sweep ends at the
#      first SPACE the bind does not reach (the injection was not
#      consumed), and fails past 1 GiB;
#  (d) fail_page_alloc, the same sweep over page allocations (the memmap,
#      page tables and KASAN shadow of the hot-added memory), from 4 KiB;
#  (e) failslab on writing "online_movable" to the unplugged device's state
#      file: the plug fails with a plug errno and the device reads
#      unplugged with nothing present, or it completed; the same sweep.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write
require_region small

DBG=/sys/kernel/debug
NEI=$DBG/notifier-error-inject/memory/actions
# the errnos Documentation/admin-guide/mm/dax-kmem.rst gives for a plug
PLUG_ERRNOS="ENOMEM EBUSY EEXIST EIO"
# bytes: a step allocating more than this fails the sweep
SWEEP_MAX=$((1 << 30))

ktap_print_header
ktap_set_plan 13
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
modprobe memory-notifier-error-inject ||
	ktap_exit_fail_msg "no memory-notifier-error-inject (MEMORY_NOTIFIER_ERROR_INJECT)"
for f in "$DBG/failslab" "$DBG/fail_page_alloc" "$NEI"; do
	[ -d "$f" ] || ktap_exit_fail_msg "no $f (see the selftests' config)"
done

# inject_off: no failure injected by any framework (quietly, for cleanups).
inject_off() {
	local f

	for f in "$DBG/failslab" "$DBG/fail_page_alloc"; do
		sysfs_err "$f/probability" 0 >/dev/null
		sysfs_err "$f/task-filter" N >/dev/null
	done
	for f in MEM_GOING_ONLINE MEM_GOING_OFFLINE; do
		sysfs_err "$NEI/$f/error" 0 >/dev/null
	done
	return 0
}

# The allocator reports every failed allocation it does not expect
# (warn_alloc(): a header and a stack trace), injected ones too. The VM's
# runner (harness/guest/splat.sh) leaves such reports out of its splat
# check between these two kernel log lines; anything else still fails.
alloc_failures_expected() {
	echo "dax_selftest: injecting allocation failures" >/dev/kmsg
}

alloc_failures_over() {
	echo "dax_selftest: no more injected allocation failures" >/dev/kmsg
}

cleanup() {
	inject_off
	alloc_failures_over
	kmem_reset
	modprobe -r memory-notifier-error-inject 2>/dev/null
}
trap cleanup EXIT

# A namespace of two memory blocks: after the memmap's reservation and the
# alignment, one block is hot-added (fewer allocations per sweep step).
json=$(create_ns "$region" devdax 256M -a 2M)
dax=$(dax_of_ns "$json")
[ -n "$dax" ] || ktap_exit_fail_msg "cannot create a 256 MiB devdax namespace on $region"
read -r s e < <(kmem_range "$dax")
base=$(meminfo_kb MemTotal)
msg "$dax on $region: $(((e - s) / KMEM_MB)) block(s), $(printf '%#x-%#x' "$s" $((e - 1)))"
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

# --- sweeps ---
# fault_arm FW SPACE: FW (failslab, fail_page_alloc) fails one allocation
# of the task marked by sysfs_write -f, whatever its gfp flags: the first
# one once SPACE bytes have been allocated (the framework's "space"
# budget, which is set afresh every step, unlike the call counter behind
# "interval", which no file resets).
fault_arm() {
	local d=$DBG/$1 a

	for a in probability=0 verbose=0 task-filter=Y ignore-gfp-wait=N interval=1 \
		 times=1 "space=$2" probability=100; do
		eq "$1/${a%%=*}" "$(sysfs_err "$d/${a%%=*}" "${a#*=}")" OK || return 1
	done
	[ "$1" != fail_page_alloc ] && return 0
	for a in ignore-gfp-highmem=N min-order=0; do
		eq "$1/${a%%=*}" "$(sysfs_err "$d/${a%%=*}" "${a#*=}")" OK || return 1
	done
}

# fault_consumed FW: 0 when FW injected its failure (times went to 0).
fault_consumed() {
	[ "$(read_word "$DBG/$1/times")" = 0 ]
}

# sweep FW WHAT UNIT ACT OK_ERRNOS FAILED SUCCEEDED UNDO: for SPACE = 0,
# UNIT, 2 UNIT, 4 UNIT, ... until ACT allocates less than SPACE bytes: arm
# FW, ACT (prints what its write gave), then FAILED (after an error in
# OK_ERRNOS) or SUCCEEDED (after OK) must hold; UNDO puts the device back
# for the next step. Says which branch each step took.
sweep() {
	local fw=$1 what=$2 unit=$3 act=$4 ok=" $5 " failed=$6 succeeded=$7 undo=$8
	local space=0 err nfail=0 nok=0

	while [ "$space" -le "$SWEEP_MAX" ]; do
		fault_arm "$fw" "$space" || return 1
		err=$("$act")
		sysfs_err "$DBG/$fw/probability" 0 >/dev/null
		if ! fault_consumed "$fw"; then
			eq "$what allocating less than $space bytes" "$err" OK && "$succeeded" ||
				return 1
			msg "$what: $((nfail + nok)) failures injected ($nfail rolled back," \
			    "$nok tolerated); it allocates less than $space bytes"
			"$undo"
			return
		fi
		if [ "$err" = OK ]; then
			msg "$what: failed after $space bytes, tolerated: the write succeeded"
			"$succeeded" || return 1
			nok=$((nok + 1))
		elif [ "${ok/ $err /}" != "$ok" ]; then
			msg "$what: failed after $space bytes: $err, rolled back"
			"$failed" || return 1
			nfail=$((nfail + 1))
		else
			msg "$what: failed after $space bytes: $err, want one of:$ok"
			return 1
		fi
		"$undo" || { msg "$what: cannot undo the step at $space bytes"; return 1; }
		space=$((space ? space * 2 : unit))
	done
	msg "$what: still allocating after $SWEEP_MAX bytes"
	return 1
}

bind_marked() {
	"$SYSFS_WRITE" -f "$KMEM_DRV/bind" "$dax"
}

# the step's bind, if it succeeded, is undone by an unbind
unbind_if_bound() {
	! kmem_bound "$dax" || kmem_unbind "$dax"
}

alloc_failures_expected
check "(c) failslab in the bind: each failure rolled back with a plug errno, or tolerated" \
	sweep failslab bind 64 bind_marked "$PLUG_ERRNOS" left_nothing all_online unbind_if_bound
check "(c) nothing left after the sweep" left_nothing

check "(d) fail_page_alloc in the bind: each failure rolled back with a plug errno, or tolerated" \
	sweep fail_page_alloc bind 4096 bind_marked "$PLUG_ERRNOS" left_nothing all_online \
	unbind_if_bound
check "(d) nothing left after the sweep" left_nothing

# --- (e) the plug of the state file ---
bound_unplugged() {
	expect_write OK "$POL" unplugged && kmem_bind "$dax" &&
		eq "$dax state" "$(dax_state "$dax")" unplugged
}
check "(e) bound with policy unplugged: nothing present" \
	bound_unplugged

plug_marked() {
	"$SYSFS_WRITE" -f "$STATE" online_movable
}

still_unplugged() {
	eq "$dax state" "$(dax_state "$dax")" unplugged && kmem_gone "$s" "$e" "$base"
}

unplug_if_present() {
	[ "$(dax_state "$dax")" = unplugged ] || expect_write OK "$STATE" unplugged
}

check "(e) failslab in online_movable: each failure rolled back with a plug errno, or tolerated" \
	sweep failslab "state online_movable" 64 plug_marked "$PLUG_ERRNOS" still_unplugged \
	all_online unplug_if_present
check "(e) fail_page_alloc in online_movable: the same" \
	sweep fail_page_alloc "state online_movable" 4096 plug_marked "$PLUG_ERRNOS" \
	still_unplugged all_online unplug_if_present

alloc_failures_over

unbound_clean() {
	kmem_unbind "$dax" && left_nothing
}
check "(e) the unbind leaves nothing" unbound_clean
check "no injection left armed" inject_off

ktap_finished
