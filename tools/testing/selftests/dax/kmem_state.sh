#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# daxX.Y/state of the kmem driver: every write the spec allows and every
# one it refuses (with the errno), from each state, and after each one the
# whole picture: the state reading, every memory block and its zone,
# MemTotal, /proc/iomem and the kmem/ figures. Then the roll-back of both
# directions with a failure injected through debugfs, the kmem/ failure
# counters, and what the memory becomes at bind: daxX.Y/online_policy with
# every word, and the module's online_policy for devices left at
# "default".
#
# The small region keeps it quick. No memory ever goes into a kernel zone:
# on a memory-only node the first kernel-zone block receives the node's
# own kernel data (kswapd and kcompactd stacks, slab) and can never be
# offlined again before a reboot, which would spoil every later test on
# the region (kmem_kernel_zone.sh and kernel_zone.sh do that, last). So
# online_kernel is only written where it must be refused (EBUSY, nothing
# changes), and the word "online", with which the kernel picks the zone,
# is used with memory_hotplug.online_policy=auto-movable and
# auto_movable_numa_aware=N (node 0's kernel memory then allows the
# device's blocks in ZONE_MOVABLE; counted per node, the node without
# kernel memory would allow none): every block must land in ZONE_MOVABLE.
# Without that parameter the subtests that online memory with "online"
# are skipped.
# Every "unplugged" and every memoryN/state offline must work at the first
# write; a refusal fails the subtest with the kernel log's reason.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region small

ktap_print_header
ktap_set_plan 47
kmem_reset
# a freshly loaded module: its parameters at their defaults
modprobe -r kmem 2>/dev/null
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
MH=/sys/module/memory_hotplug/parameters

mh_policy=
mh_numa=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	kmem_fail_off
	kmem_params_restore
	kmem_reset
	[ -n "$mh_policy" ] && sysfs_err "$MH/online_policy" "$mh_policy" >/dev/null
	[ -n "$mh_numa" ] && sysfs_err "$MH/auto_movable_numa_aware" "$mh_numa" >/dev/null
	return 0
}
trap cleanup EXIT

# auto_movable: make "online" pick ZONE_MOVABLE for the device (see the
# top); else set online_skip to the reason.
online_skip=
auto_movable() {
	local ratio

	[ -e "$MH/online_policy" ] ||
		{ online_skip="no $MH/online_policy"; return 1; }
	ratio=$(read_word "$MH/auto_movable_ratio")
	if [ "$ratio" = 0 ]; then
		online_skip="memory_hotplug.auto_movable_ratio is 0"
		return 1
	fi
	mh_policy=$(read_word "$MH/online_policy")
	if ! eq "memory_hotplug.online_policy=auto-movable" \
		"$(sysfs_err "$MH/online_policy" auto-movable)" OK; then
		online_skip="memory_hotplug.online_policy refuses auto-movable"
		return 1
	fi
	if [ -e "$MH/auto_movable_numa_aware" ]; then
		mh_numa=$(read_word "$MH/auto_movable_numa_aware")
		if ! eq "memory_hotplug.auto_movable_numa_aware=N" \
			"$(sysfs_err "$MH/auto_movable_numa_aware" N)" OK; then
			online_skip="memory_hotplug.auto_movable_numa_aware cannot be turned off"
			return 1
		fi
	fi
	msg "memory_hotplug: online_policy auto-movable (was $mh_policy)," \
		"auto_movable_numa_aware N (was ${mh_numa:-absent}), ratio $ratio%"
}
auto_movable

base=$(meminfo_kb MemTotal)
new_devdax
nb=$(kmem_nblocks "$s" "$e")
[ "$nb" -ge 2 ] || ktap_exit_fail_msg "$dax: need 2 memory blocks or more, has $nb"
ST=$SYS_DAX/devices/$dax/state
POL=$SYS_DAX/devices/$dax/online_policy
# the last block, or its part in the range: kmem names it by that address
top=$(block_addr $(((e - 1) / KMEM_MB)) "$s" "$e")
TOP=$SYS_MEM/memory$((top / KMEM_MB))
msg "$dax on $region: $nb blocks, $(printf '%#x-%#x' "$s" $((e - 1)))"

# w WANT WORD: writing WORD to the state file gives WANT.
w() {
	expect_write "$1" "$ST" "$2"
}

# is WORD: the state reads WORD and every view agrees (state_is).
is() {
	state_is "$1" "$dax" "$s" "$e" "$base"
}

# trans WORD WANT AFTER: write WORD, expect WANT, then the state is AFTER.
trans() {
	local rc=0

	w "$2" "$1" || rc=1
	is "$3" || rc=1
	return $rc
}

attempts() {
	kmem_attr "$dax" offline_attempts
}

failures() {
	kmem_attr "$dax" offline_failures
}

# unplug: write "unplugged" once and expect everything gone; a refusal is
# printed with its errno, the device's last failure and the kernel log's
# reason, and the device must have rolled back to where it was.
unplug() {
	local before

	before=$(dax_state "$dax")
	write_once "$ST" unplugged "$dax" && { is unplugged; return; }
	is "$before" || msg "not rolled back to $before"
	return 1
}

# all_movable: every block of the last census is online in ZONE_MOVABLE;
# the ones that are not are named.
all_movable() {
	local d rc=0

	for d in $bc_desc; do
		[ "${d#*:}" = Movable ] && continue
		msg "memory${d%%:*}: ${d#*:}, not ZONE_MOVABLE"
		rc=1
	done
	eq "blocks online in ZONE_MOVABLE" "$bc_movable" "$nb" || rc=1
	return $rc
}

# check_online DESCRIPTION COMMAND...: check, for the subtests that write
# the word "online"; skipped when auto_movable could not be set up.
check_online() {
	local desc=$1

	shift
	if [ -n "$online_skip" ]; then
		ktap_test_skip "$desc: $online_skip"
	else
		check "$desc" "$@"
	fi
}

# --- a new device, bound with the policy "unplugged" ---

fresh_device() {
	wait_until 10 test -e "$SYS_DAX/devices/$dax/driver"
	eq "$dax online_policy" "$(dax_policy "$dax")" default &&
		eq "$dax driver" "$(dax_drv_of "$dax")" device_dax &&
		eq "state file" "$(dax_state "$dax")" "(missing)" &&
		[ ! -e "$SYS_DAX/devices/$dax/kmem" ]
}
check "new device: online_policy reads 'default', no state file, no kmem/" fresh_device
check "module online_policy of a freshly loaded kmem reads 'system'" \
	eq "kmem.online_policy" "$(kmem_param online_policy)" system

bind_unplugged() {
	dax_unbind_any "$dax" && expect_write OK "$POL" unplugged &&
		kmem_bind "$dax" &&
		is unplugged &&
		last_failure_read "$dax" none &&
		eq offline_attempts "$(attempts)" 0 &&
		eq offline_failures "$(failures)" 0
}
check "policy unplugged, bind: state unplugged, nothing added, kmem/ counters at zero" \
	bind_unplugged

# --- from unplugged ---

check "unplugged -> unplugged: no-op" trans unplugged OK unplugged
check "unplugged -> offline: EINVAL (never writable)" trans offline EINVAL unplugged
check "unplugged -> online_movable: every block online in ZONE_MOVABLE" \
	trans online_movable OK online_movable

# --- from online_movable ---

noop_nothing_offlined() {
	local a0

	a0=$(attempts)
	trans "$1" OK "$1" && eq "offline_attempts after a no-op" "$(attempts)" "$a0"
}
check "online_movable -> online_movable: no-op, nothing offlined" \
	noop_nothing_offlined online_movable
check "online_movable -> online_kernel: EBUSY, unchanged" trans online_kernel EBUSY online_movable
check "online_movable -> online: EBUSY, unchanged" trans online EBUSY online_movable
check "online_movable -> offline: EINVAL, unchanged" trans offline EINVAL online_movable

unplug_counted() {
	local a0 f0 rc=0

	a0=$(attempts)
	f0=$(failures)
	trans unplugged OK unplugged || rc=1
	[ "$(attempts)" -ge $((a0 + nb)) ] ||
		{ msg "offline_attempts $a0 -> $(attempts), want +$nb or more"; rc=1; }
	eq "offline_failures" "$(failures)" "$f0" || rc=1
	return $rc
}
check "online_movable -> unplugged: every block removed, offline_attempts +$nb, no failure" \
	unplug_counted

# --- online (the kernel picks the zone: auto-movable, ZONE_MOVABLE) ---

online_all_movable() {
	trans online OK online && all_movable
}
check_online "unplugged -> online: reads online, every block online in ZONE_MOVABLE" \
	online_all_movable
check_online "online -> online: no-op" noop_nothing_offlined online
check_online "online -> online_movable: EBUSY, unchanged" trans online_movable EBUSY online
check_online "online -> online_kernel: EBUSY, unchanged" trans online_kernel EBUSY online
check_online "online -> offline: EINVAL, unchanged" trans offline EINVAL online
check_online "online -> unplugged: every block removed" unplug

# --- blocks offlined behind the driver's back: online (some), offline ---

top_offlined() {
	w OK online_movable && block_set "$TOP" offline && is online
}
check "online_movable, top block offlined through memoryN/state: reads online" top_offlined
check "online (some blocks online) -> online_movable: EBUSY, unchanged" \
	trans online_movable EBUSY online
check "online (some blocks online) -> online: completes, every block online in ZONE_MOVABLE" \
	online_all_movable

offline_rest() {
	local b

	for b in $(blocks_of "$s" "$e" | tac); do
		[ "$(cat "$b/state")" = offline ] || block_set "$b" offline || return 1
	done
	is offline
}
check "every block offlined through memoryN/state: reads offline" offline_rest
check "offline -> offline: EINVAL" trans offline EINVAL offline
check "offline -> online_movable: EBUSY, unchanged" trans online_movable EBUSY offline
check "offline -> online_kernel: EBUSY, unchanged" trans online_kernel EBUSY offline
check "offline -> online: EBUSY, unchanged" trans online EBUSY offline
check "offline -> unplugged: every block removed" trans unplugged OK unplugged

# --- roll-back, with a failure injected ---

fail_top_unplug() {
	local mt rc=0

	w OK online_movable || return 1
	mt=$(meminfo_kb MemTotal)
	a0=$(attempts)
	f0=$(failures)
	kmem_fail_at "$top" || return 1
	trans unplugged EBUSY online_movable || rc=1
	memtotal_is "$mt" || rc=1
	return $rc
}
check "online_movable -> unplugged, top block failing: EBUSY, still online_movable, same MemTotal" \
	fail_top_unplug

failure_figures() {
	local rc=0

	[ "$(attempts)" -gt "$a0" ] || { msg "offline_attempts $a0 -> $(attempts)"; rc=1; }
	[ "$(failures)" -gt "$f0" ] || { msg "offline_failures $f0 -> $(failures)"; rc=1; }
	last_failure_read "$dax" || return 1
	eq "last_failure errno" "$lf_errno" -16 || rc=1
	eq "last_failure block" "$(printf '%#x' "$lf_block")" "$(printf '%#x' "$top")" || rc=1
	[ $((lf_pfn * $(getconf PAGESIZE) / KMEM_MB)) = $((top / KMEM_MB)) ] ||
		{ msg "last_failure pfn $(printf '%#x' "$lf_pfn") is not in the block"; rc=1; }
	case $lf_reason in
	*injected*) ;;
	*) msg "last_failure reason '$lf_reason' does not say injected"; rc=1 ;;
	esac
	return $rc
}
check "kmem/: offline_attempts, offline_failures up; last_failure: -16, top block, 'injected'" \
	failure_figures

# trans_failing ADDR WORD WANT AFTER: trans, with the block at ADDR failing.
trans_failing() {
	kmem_fail_at "$1" && trans "$2" "$3" "$4"
}
check "online_movable -> unplugged, bottom block failing: EBUSY, all back online_movable" \
	trans_failing "$s" unplugged EBUSY online_movable

unplug_injection_off() {
	kmem_fail_at 0 && unplug
}
check "fault injection off: online_movable -> unplugged works" unplug_injection_off

check "unplugged -> online_movable, top block failing: EBUSY, still unplugged, no System RAM" \
	trans_failing "$top" online_movable EBUSY unplugged

bind_fails() {
	local rc=0

	kmem_unbind "$dax" && expect_write OK "$POL" online_movable || return 1
	if kmem_bind "$dax"; then
		msg "bind succeeded with a block failing"
		rc=1
	fi
	eq "bind error" "$kmem_bind_err" EBUSY || rc=1
	eq "$dax driver" "$(dax_drv_of "$dax")" none || rc=1
	kmem_gone "$s" "$e" "$base" || rc=1
	retained_empty || rc=1
	kmem_fail_at 0 || rc=1
	return $rc
}
check "bind with policy online_movable, top block failing: bind fails with EBUSY, nothing left" \
	bind_fails

# --- online_policy of the device: what the memory is at bind ---

# policy_bind POLICY gives WANT: with the device unbound, set its
# online_policy (with a trailing newline), bind: the state is WANT; then
# unplug, unbind.
policy_bind() {
	local rc=0

	set -- "$1" "$3"
	dax_unbind_any "$dax" || return 1
	expect_write OK "$POL" "$1"$'\n' || rc=1
	eq "$dax online_policy" "$(dax_policy "$dax")" "$1" || rc=1
	kmem_bind "$dax" || return 1
	is "$2" || rc=1
	if [ "$2" = online ]; then
		all_movable || rc=1
	fi
	unplug || rc=1
	kmem_unbind "$dax" || rc=1
	return $rc
}

auto_online() {
	eq "auto_online_blocks=$1" "$(sysfs_err "$SYS_MEM/auto_online_blocks" "$1")" OK
}

check "policy unplugged: bound unplugged" policy_bind unplugged gives unplugged
check "policy offline: bound offline" policy_bind offline gives offline
check_online "policy online: bound online, every block in ZONE_MOVABLE" \
	policy_bind online gives online
check "policy online_movable: bound online_movable" policy_bind online_movable gives online_movable

# system_bind AUTO gives WANT: policy_bind system, with auto_online_blocks
# AUTO.
system_bind() {
	auto_online "$1" && policy_bind system gives "$3"
}
check "policy system, auto_online_blocks offline: bound offline" \
	system_bind offline gives offline
check "policy system, auto_online_blocks online_movable: bound online_movable" \
	system_bind online_movable gives online_movable
check_online "policy system, auto_online_blocks online: bound online, every block in ZONE_MOVABLE" \
	system_bind online gives online
auto_online "${KMEM_SAVED[auto_online_blocks]}" >/dev/null

default_bind_movable() {
	kmem_param_set online_policy online_movable &&
		policy_bind default gives online_movable
}
check "policy default, module online_policy online_movable: bound online_movable" \
	default_bind_movable

# --- the module's online_policy, for devices at "default" ---

# module_bind POLICY gives WANT: the same, with the device's policy
# "default" and the module's POLICY.
module_bind() {
	set -- "$1" "$3"
	kmem_param_set online_policy "$1" &&
		eq "kmem.online_policy" "$(kmem_param online_policy)" "$1" &&
		policy_bind default gives "$2"
}

module_system_offline() {
	auto_online offline && module_bind system gives offline
}
check "module policy system (auto_online_blocks offline): bound offline" module_system_offline
check "module policy unplugged: bound unplugged" module_bind unplugged gives unplugged
check "module policy offline: bound offline" module_bind offline gives offline
check_online "module policy online: bound online, every block in ZONE_MOVABLE" \
	module_bind online gives online
check "module policy online_movable: bound online_movable" \
	module_bind online_movable gives online_movable

# --- online_policy cannot change while bound ---

policy_while_bound() {
	expect_write OK "$POL" online_movable && kmem_bind "$dax" && is online_movable &&
		expect_write EBUSY "$POL" unplugged &&
		eq "$dax online_policy" "$(dax_policy "$dax")" online_movable &&
		expect_write OK "$POL" online_movable$'\n' &&
		eq "$dax online_policy" "$(dax_policy "$dax")" online_movable &&
		is online_movable
}
check "online_policy while bound: another word EBUSY, the same word OK; nothing changes" \
	policy_while_bound

policy_after_unbind() {
	kmem_unbind "$dax" && kmem_gone "$s" "$e" "$base" &&
		expect_write OK "$POL" unplugged && kmem_bind "$dax" && is unplugged
}
check "unbound again, the policy is taken and applies at the next bind: unplugged" \
	policy_after_unbind

cleanup
ktap_finished
