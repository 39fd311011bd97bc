#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own memory-hotplug selftest, mem-on-off-test.sh, run as it
# is (its default 2 % ratio) with a kmem device's memory present: it
# onlines what is offline, offlines a share of the online blocks, then
# fails onlines and offlines through memory-notifier-error-inject and
# puts everything back online. Every block it picks is a plain
# memoryN/state writer, a "foreign" one for kmem.
#
# A plain "online" lets the kernel pick the zone, and kmem refuses one into
# a kernel zone for a movable device (EPERM, see kmem_foreign.sh), which
# the script would count as a failure. So the kernel's own policy is set
# to keep such memory movable, as an administrator who onlines memory
# with plain "online" would: memory_hotplug.online_policy=auto-movable,
# with auto_movable_numa_aware off (the pmem's node has no kernel memory of
# its own, so the per-node ratio would never allow ZONE_MOVABLE there).
#
# The policy also sends boot memory the script offlines and onlines again
# to ZONE_MOVABLE; such blocks are put back into their zone afterwards.
#
# Alone it may not touch the device at all: its offline step takes the
# first online blocks in ls order (memory0, memory1, memory10, ...: boot
# memory), its error-injection picks are random. So the device's blocks
# are offlined by hand first, through memoryN/state
# (a foreign writer, which kmem lets through outside its transitions):
# the script's first step then onlines every one of them with a plain
# "online", which the policy sends to ZONE_MOVABLE and kmem must let
# through.
#
# Checks: the device reads offline after the offline by hand; the script
# exits 0; its first step onlined every block of the device (which of
# them its offline step took is printed); its error-injection
# half ran (it skips it silently when the module is missing); afterwards
# the device reads online_movable with every block online in ZONE_MOVABLE
# and kmem's figures match the blocks; the unbind leaves /proc/iomem and
# MemTotal at the baseline.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe bc
require_region small

MOT=$DAX_DIR/../memory-hotplug/mem-on-off-test.sh
MHP=/sys/module/memory_hotplug/parameters
OUT=/tmp/mem_on_off_kmem.$$.out

ktap_print_header
ktap_set_plan 9
[ -r "$MOT" ] || ktap_exit_fail_msg "no $MOT (TEST_INCLUDES of the dax selftests)"
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
pol0=$(read_word "$MHP/online_policy")
numa0=$(read_word "$MHP/auto_movable_numa_aware")

cleanup() {
	sysfs_err "$MHP/online_policy" "$pol0" >/dev/null
	sysfs_err "$MHP/auto_movable_numa_aware" "$numa0" >/dev/null
	modprobe -r memory-notifier-error-inject 2>/dev/null
	rm -f "$OUT"
	kmem_reset
}
trap cleanup EXIT

kmem_new_unbound online_movable
if ! expect_write OK "$MHP/online_policy" auto-movable ||
   ! expect_write OK "$MHP/auto_movable_numa_aware" N; then
	ktap_exit_fail_msg "cannot set memory_hotplug's online policy"
fi

bound() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bound online_movable" bound

offlined_by_hand() {
	blocks_set "$s" "$e" offline && state_is offline "$dax" "$s" "$e" "$base"
}
check "every block of the device offlined through memoryN/state: kmem reads offline" \
	offlined_by_hand

# zones_now: "memoryN:Zone" for every online block outside the device (one
# the device's range does not touch: a partial block of it is the device's).
# No fork per block (one costs about 0.1 s in the test VM).
zones_now() {
	local b n st z

	for b in "$SYS_MEM"/memory[0-9]*; do
		n=${b##*memory}
		[ "$n" -ge $((s / KMEM_MB)) ] && [ "$n" -le $(((e - 1) / KMEM_MB)) ] && continue
		read_word_to st "$b/state" || continue
		[ "$st" = online ] || continue
		read_word_to z "$b/valid_zones"
		echo "${b##*/}:$z"
	done
}
ZONES0=$(zones_now)

run_script() {
	local rc

	bash "$MOT" >"$OUT" 2>&1
	rc=$?
	sed 's/^/  /' "$OUT" | while IFS= read -r l; do msg "$l"; done
	eq "mem-on-off-test.sh exit status" "$rc" 0
}
check "mem-on-off-test.sh passes with kmem memory present" run_script

injection_ran() {
	grep -q "Test with memory notifier error injection" "$OUT" &&
		! grep -q "skip extra tests" "$OUT" && return 0
	msg "mem-on-off-test.sh did not run its error-injection half"
	return 1
}
check "its memory notifier error-injection half ran" injection_ran

# first_step: the script's first step onlined every block of the device
# (its "offline->online memoryN" lines); which of them its offline step
# took is printed ("online->offline memoryN").
first_step() {
	local b n rc=0 list=

	for b in $(blocks_of "$s" "$e"); do
		n=${b##*memory}
		grep -q "^offline->online memory$n\$" "$OUT" ||
			{ msg "the script did not online ${b##*/}"; rc=1; }
		grep -q "^online->offline memory$n\$" "$OUT" && list="$list ${b##*/}"
	done
	msg "blocks of the device its offline step took:${list:- none}"
	return $rc
}
check "its first step onlined every block of the device" first_step

after() {
	state_is online_movable "$dax" "$s" "$e" "$base"
}
check "afterwards: online_movable, every block in ZONE_MOVABLE, kmem's figures right" after

# zones_back: the blocks outside the device the script left in another
# zone (or offline) are put back into the zone they were in.
zones_back() {
	local l b z now

	for l in $ZONES0; do
		b=$SYS_MEM/${l%%:*}
		z=${l#*:}
		now=$(read_word "$b/valid_zones")
		[ "$(read_word "$b/state")" = online ] && [ "$now" = "$z" ] && continue
		msg "${b##*/} is $(read_word "$b/state") in $now, was online in $z: putting it back"
		if [ "$(read_word "$b/state")" = online ]; then
			expect_write OK "$b/state" offline || return 1
		fi
		case $z in
		Movable) expect_write OK "$b/state" online_movable ;;
		*) expect_write OK "$b/state" online_kernel ;;
		esac || return 1
	done
	same_text "zones of the other blocks" "$ZONES0" "$(zones_now)"
}
check "every other block online in its old zone again" zones_back

policy_back() {
	expect_write OK "$MHP/online_policy" "$pol0" &&
		expect_write OK "$MHP/auto_movable_numa_aware" "$numa0"
}
check "memory_hotplug's policy back to $pol0" policy_back

gone() {
	kmem_unbind "$dax" && kmem_gone "$s" "$e" "$base" && iomem_is "$IOMEM0"
}
check "the unbind leaves /proc/iomem and MemTotal at the baseline" gone

ktap_finished
