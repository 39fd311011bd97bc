#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Other writers of memoryN/state against a device whose memory is movable.
# A plain "online" lets the kernel pick the zone, and on the pmem's
# memory-only node it picks ZONE_NORMAL, where the node's own kernel data
# lands and keeps the memory from ever being removed. kmem refuses a
# foreign online into a kernel zone with EPERM while the device's memory
# is movable; offlining, and onlining movable, stay allowed. The small
# region:
#  (a) bound with online_policy online_movable: a block offlined through
#      memoryN/state; "online" and "online_kernel" are refused with EPERM
#      and leave it offline; "online_movable" onlines it; the unbind
#      removes everything;
#  (b) daxctl reconfigure-device (kmem adds the memory offline, daxctl
#      onlines it movable): the same "online" after an offline is refused,
#      the block goes back with online_movable, and daxctl takes the
#      device back to devdax. With kmem.subblock=N, whole blocks: daxctl
#      (76.1) does not online a partial first block;
#  (c) a partial device: one block retained (an injected failure) and
#      re-adopted by a bind whose policy adds nothing; it reads
#      online_movable with the other blocks unplugged, and writing
#      online_movable completes it instead of doing nothing.
#  (d) while a transition of the driver runs, another writer's offline of
#      one of its blocks is refused with EBUSY. The unbind is held in its
#      backoff on purpose: the top block's unplug fails (injected), the
#      other blocks are gone, unplug_retries and unbind_timeout_ms keep it
#      retrying; then an offline of that block through memoryN/state
#      fails with EBUSY and the block stays online; with the injection
#      off the same unbind removes it and succeeds, nothing retained.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write
require_region small

ktap_print_header
ktap_set_plan 14
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

UNB_LOG=/tmp/kmem_foreign.$$.unbind
unb_pid=
cleanup() {
	kmem_fail_off
	[ -z "$unb_pid" ] || wait_exit "$unb_pid" 120 >/dev/null
	rm -f "$UNB_LOG"
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

kmem_new_unbound
b=$SYS_MEM/memory$((s / KMEM_MB))
msg "block under test: ${b##*/}"

# refused_online: "online" and "online_kernel" to the offline block fail
# with EPERM and leave it offline; "online_movable" onlines it.
refused_online() {
	local rc=0

	eq "offline ${b##*/}" "$(sysfs_err "$b/state" offline)" OK || return 1
	kmsg_mark "foreign-$$"
	eq "online" "$(sysfs_err "$b/state" online)" EPERM || rc=1
	eq "online_kernel" "$(sysfs_err "$b/state" online_kernel)" EPERM || rc=1
	eq "${b##*/} state" "$(read_word "$b/state")" offline || rc=1
	kmsg_since "foreign-$$" | grep -q "$dax: block .* online refused" ||
		{ msg "no 'online refused' message naming $dax"; rc=1; }
	return $rc
}

movable_again() {
	eq "online_movable" "$(sysfs_err "$b/state" online_movable)" OK &&
		eq "${b##*/} zone" "$(read_word "$b/valid_zones")" Movable
}

# unbind_leaves_nothing: the unbind removes every block, MemTotal and
# /proc/iomem back at the baseline.
unbind_leaves_nothing() {
	kmem_unbind "$dax" && kmem_gone "$s" "$e" "$base" &&
		same_text "/proc/iomem" "$IOMEM0" "$(cat /proc/iomem)"
}

expect_write OK "$POL" online_movable || ktap_exit_fail_msg "cannot set $dax online_policy"
bind_movable_whole() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(a) bound online_movable" bind_movable_whole
check "(a) a block offlined by hand: online, online_kernel refused with EPERM, it stays offline" \
	refused_online

movable_again_whole() {
	movable_again && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(a) online_movable brings it back; the device reads online_movable again" \
	movable_again_whole
check "(a) unbind removes everything" unbind_leaves_nothing

# (b) whole blocks (kmem.subblock=N, the range and the block under test
# taken again): the device's own policy says nothing, daxctl onlines it
# movable
kmem_param_set subblock N || ktap_exit_fail_msg "cannot set kmem.subblock"
read -r s e < <(kmem_range "$dax")
b=$SYS_MEM/memory$((s / KMEM_MB))
msg "(b) with kmem.subblock=N: block under test: ${b##*/}"
expect_write OK "$POL" default || ktap_exit_fail_msg "cannot set $dax online_policy"
kmem_param_set online_policy offline || ktap_exit_fail_msg "cannot set kmem.online_policy"
daxctl_onlines() {
	run daxctl reconfigure-device -m system-ram "$dax" &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(b) daxctl reconfigure-device: every block online in ZONE_MOVABLE" daxctl_onlines
check "(b) a block offlined by hand: online, online_kernel refused with EPERM, it stays offline" \
	refused_online
check "(b) online_movable brings it back" movable_again

daxctl_devdax_gone() {
	run daxctl reconfigure-device -m devdax -f "$dax" && kmem_gone "$s" "$e" "$base"
}
check "(b) daxctl takes the device back to devdax: memory gone" daxctl_devdax_gone

# kmem.subblock back as it was (nothing is retained), and the range it adds
kmem_param_set subblock "${KMEM_SAVED[subblock]}" ||
	ktap_exit_fail_msg "cannot set kmem.subblock back"
read -r s e < <(kmem_span "$dax")

# (c) online_movable, one block retained, re-adopted with policy unplugged
partial() {
	local lb=$(((e - 1) / KMEM_MB)) top

	top=$(block_addr "$lb" "$s" "$e")
	dax_unbind_any "$dax" && expect_write OK "$POL" online_movable &&
		kmem_bind "$dax" && kmem_param_set unplug_retries 1 &&
		kmem_fail_at "$top" && kmem_unbind "$dax" && retained_single &&
		expect_write OK "$POL" unplugged && kmem_bind "$dax" &&
		retained_empty && kmem_fail_at 0 || return 1
	msg "re-adopted: state $(dax_state "$dax"), present_bytes $(kmem_attr "$dax" present_bytes)"
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" "$(block_part "$lb" "$s" "$e")" &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(c) one block re-adopted, the others unplugged: reads online_movable" partial

completes_movable() {
	expect_write OK "$SYS_DAX/devices/$dax/state" online_movable &&
		eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e - s)) &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(c) writing online_movable completes it: every block online in ZONE_MOVABLE" \
	completes_movable
check "(c) unbind removes everything" unbind_leaves_nothing

# (d) a foreign offline during an unbind of ours; the top block's number
# and its address (block_addr: the start of the device's part of it)
lb=$(((e - 1) / KMEM_MB))
top=$(block_addr "$lb" "$s" "$e")
tb=$SYS_MEM/memory$lb

only_top_left() {
	[ "$(kmem_present_blocks "$s" "$e")" = "$lb" ]
}

unbind_held() {
	expect_write OK "$POL" online_movable && kmem_bind "$dax" &&
		state_is online_movable "$dax" "$s" "$e" "$base" &&
		kmem_param_set unplug_retries 50 && kmem_param_set unbind_timeout_ms 120000 &&
		kmem_fail_at "$top" || return 1
	sysfs_err "$KMEM_DRV/unbind" "$dax" >"$UNB_LOG" &
	unb_pid=$!
	wait_until 60 only_top_left ||
		{ msg "blocks present: $(kmem_present_blocks "$s" "$e")"; return 1; }
	kill -0 "$unb_pid" 2>/dev/null || { msg "the unbind ended: $(cat "$UNB_LOG")"; return 1; }
	msg "unbind running, only ${tb##*/} left"
}

foreign_offline_refused() {
	local rc=0

	kmsg_mark "foreign-d-$$"
	eq "offline ${tb##*/}" "$(sysfs_err "$tb/state" offline)" EBUSY || rc=1
	eq "${tb##*/} state" "$(read_word "$tb/state")" online || rc=1
	kill -0 "$unb_pid" 2>/dev/null || { msg "the unbind had ended"; rc=1; }
	kmsg_since "foreign-d-$$" |
		grep -q "$dax: block $(printf '%#x' "$top"): offline refused (-16): a transition" ||
		{ msg "no 'offline refused' line for ${tb##*/} in the kernel log"; rc=1; }
	return $rc
}

unbind_finishes() {
	local rc=0 st

	kmem_fail_at 0 || rc=1
	wait_exit "$unb_pid" 60
	st=$?
	unb_pid=
	eq "unbind exit status, result" "$st $(cat "$UNB_LOG")" "0 OK" || rc=1
	kmem_bound "$dax" && { msg "$dax still bound to kmem"; rc=1; }
	kmem_gone "$s" "$e" "$base" && retained_empty || rc=1
	return $rc
}
check "(d) unbind held retrying the top block (injected), the others removed" unbind_held
check "(d) another writer's offline of that block during the unbind: EBUSY, still online" \
	foreign_offline_refused
check "(d) injection off: the same unbind removes it and succeeds, nothing retained" \
	unbind_finishes

ktap_finished
