#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kmem module going away while it has memory to look after. The spare
# region, online_movable:
#  (a) unbind racing "modprobe -r kmem", round after round: whichever wins,
#      the memory is removed, nothing is retained, and nothing the module
#      owned is used after it is gone (KASAN, lockdep and the splat check
#      of the runner watch);
#  (b) a block retained (an injected failure), then "rmmod -f": the forced
#      unload lets go of the retained device (its worker stopped, its
#      memory notifier unregistered) and says the memory stays System RAM
#      until a reboot. The memory stays counted and named in /proc/iomem,
#      its block can still be offlined and onlined (no notifier of the
#      unloaded module is called), the worker's timer never fires into
#      freed memory, and kmem loads again, knowing nothing retained.
# Runs last: after (b) the spare region's memory stays until a reboot.

# shellcheck disable=SC2016 # eval '...' expands when the check runs
. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe rmmod
require_progs sysfs_write
require_region spare
ROUNDS=10

ktap_print_header
ktap_set_plan 6
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"

kmem_new_unbound online_movable
[ "$nb" -ge 2 ] || ktap_exit_fail_msg "$dax has $nb whole blocks, want 2"

# --- (a) unbind against modprobe -r ---

race_round() {
	local u r

	modprobe kmem || { msg "modprobe kmem failed"; return 1; }
	kmem_bind "$dax" || return 1
	sysfs_err "$KMEM_DRV/unbind" "$dax" >"/tmp/kmem_unload.$$.u" 2>&1 &
	u=$!
	modprobe -r kmem >"/tmp/kmem_unload.$$.r" 2>&1 &
	r=$!
	wait_exit "$u" 120 || true
	wait_exit "$r" 120
	race_rm=$?
	race_un=$(head -n 1 "/tmp/kmem_unload.$$.u")
	rm -f "/tmp/kmem_unload.$$.u" "/tmp/kmem_unload.$$.r"
	kmem_bound "$dax" && { msg "$dax still bound to kmem"; return 1; }
	kmem_gone "$s" "$e" "$base" && retained_empty
}

racing_unload() {
	local i rc=0 stats=

	for ((i = 1; i <= ROUNDS; i++)); do
		if ! race_round; then
			msg "round $i failed"
			rc=1
			break
		fi
		stats+="$race_un/$race_rm "
	done
	msg "unbind result / modprobe -r status per round: $stats"
	modprobe kmem || rc=1
	return $rc
}
check "(a) $ROUNDS rounds of unbind racing modprobe -r kmem: memory removed every time" \
	racing_unload
check "(a) /proc/iomem back to the baseline" \
	eval 'same_text "/proc/iomem" "$IOMEM0" "$(cat /proc/iomem)"'

# --- (b) rmmod -f with memory retained ---

top=$(((e / KMEM_MB - 1) * KMEM_MB))
retain_top() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base" &&
		kmem_fail_at "$top" && kmem_unbind "$dax" && retained_single &&
		eq "retained bytes" "$rt_present" "$KMEM_MB"
}
check "(b) an injected failure on the top block: it is retained" retain_top

forced_unload() {
	local l rc=0

	kmsg_mark "unload-$$"
	run rmmod -f kmem || return 1
	kmem_loaded && { msg "kmem is still loaded"; return 1; }
	l=$(kmsg_since "unload-$$" | grep -m1 "$dax: .* stay System RAM until reboot")
	[ -n "$l" ] || { msg "no '$dax: ... stay System RAM until reboot' in the log"; rc=1; }
	msg "kernel log: ${l#*] }"
	[[ $l =~ "$KMEM_MB bytes" ]] || { msg "want $KMEM_MB bytes named"; rc=1; }
	return $rc
}
check "(b) rmmod -f: kmem unloads and says the retained block stays until reboot" forced_unload

# The worker's first retry would come a second after the unbind; the
# memory notifier is called for every block that changes state.
left_alone() {
	local b=$SYS_MEM/memory$((top / KMEM_MB)) rc=0

	sleep 3
	memtotal_is $((base + KMEM_MB / 1024)) || rc=1
	eq "System RAM (kmem) in the range" "$(iomem_kmem_in "$s" "$e" | tr '\n' ' ')" \
		"$(printf '%x-%x ' "$top" $((top + KMEM_MB - 1)))" || rc=1
	grep -q " : $dax\$" /proc/iomem || { msg "no '$dax' in /proc/iomem"; rc=1; }
	eq "offline the abandoned block" "$(sysfs_err "$b/state" offline)" OK || rc=1
	eq "online it again" "$(sysfs_err "$b/state" online_movable)" OK || rc=1
	return $rc
}
check "(b) the abandoned block: counted, named, offlined and onlined without the module" \
	left_alone

check "(b) kmem loads again and knows of nothing retained" \
	eval 'modprobe kmem && retained_empty'

ktap_finished
