#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kmem module going away while a device is being unbound. The spare
# region, online_movable: unbind racing "modprobe -r kmem", round after
# round: whichever wins, the memory is removed, nothing is retained, and
# nothing the module owned is used after it is gone (KASAN, lockdep and
# the splat check of the runner watch). The module must really have been
# unloaded in some round. Runs before the kernel-zone tests, which leave
# memory retained (and kmem loaded) on purpose. The forced unload with
# memory retained is kmem_unload_forced.sh, last.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe rmmod
require_progs sysfs_write
require_region spare
ROUNDS=10

ktap_print_header
ktap_set_plan 3
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"

kmem_new_unbound online_movable
[ "$nb" -ge 2 ] || ktap_exit_fail_msg "$dax has $nb blocks, want 2"

stats=

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
	kmem_gone "$s" "$e" "$base" &&
		eq "retained lines of $dax" "$(retained_of "$s")" ""
}

racing_unload() {
	local i rc=0

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

# unloaded: in some round modprobe -r won and the module went away.
unloaded() {
	[[ " $stats" =~ /0\  ]] || { msg "modprobe -r never succeeded: no race was run"; return 1; }
}
check "$ROUNDS rounds of unbind racing modprobe -r kmem: memory removed every time" \
	racing_unload
check "kmem was unloaded in some round" unloaded

iomem_at_baseline() {
	same_text "/proc/iomem" "$IOMEM0" "$(cat /proc/iomem)"
}
check "/proc/iomem back to the baseline" iomem_at_baseline

kmem_reset
ktap_finished
