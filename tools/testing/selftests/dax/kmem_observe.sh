#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What kmem tells about a device besides its state: the dax_kmem
# tracepoints and the memory tier of its node.
#
# Tracepoints: every transition (bind, a state write, a refused write, a
# rolled-back write, unbind) gives exactly one dax_kmem_transition event with
# the states it went from and to and its errno, and one dax_kmem_block event
# per block plugged or unplugged, with the block's address and errno, in
# the order the driver works on them, the transition last (a failing
# block shows its error; a rolled-back plug shows the unplug of what was
# plugged before it).
#
# Memory tiers: while the device's memory is online its node sits in a
# memory tier below node 0's (kmem registers a memory type with the dax
# default abstract distance when the platform gives none); when the last
# memory of the node goes, so does the node from the tiers; a rebind puts
# it back in the same tier.
#
# The small region, ZONE_MOVABLE only.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region small
TR=/sys/kernel/tracing
[ -d "$TR/events" ] || mount -t tracefs none "$TR" 2>/dev/null
TIERS=/sys/devices/virtual/memory_tiering

ktap_print_header
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
[ -d "$TR/events/dax_kmem" ] || { ktap_skip_all "no dax_kmem tracepoints"; exit "$KSFT_SKIP"; }
[ -d "$TIERS" ] || { ktap_skip_all "no $TIERS"; exit "$KSFT_SKIP"; }
ktap_set_plan 17
kmem_params_save

cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	echo 0 >"$TR/events/dax_kmem/enable" 2>/dev/null
	kmem_fail_off
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

kmem_new_device
POL=$SYS_DAX/devices/$dax/online_policy
STATE=$SYS_DAX/devices/$dax/state

# trace_start: an empty trace buffer, the dax_kmem events on.
trace_start() {
	echo 0 >"$TR/tracing_on"
	: >"$TR/trace"
	echo 1 >"$TR/events/dax_kmem/enable"
	echo 1 >"$TR/tracing_on"
}

# trace_events: "transition FROM TO ERR" and "OP ADDR ERR" lines (ADDR
# in hex as printed), in order, from the trace buffer.
trace_events() {
	local w='\([a-z_]*\)' err='err=\(-\{0,1\}[0-9]*\)$'

	sed -n -e "s/.* dax_kmem_transition: $dax: $w -> $w $err/transition \1 \2 \3/p" \
	       -e "s/.* dax_kmem_block: $dax: $w block \(0x[0-9a-f]*\) $err/\1 \2 \3/p" \
		"$TR/trace"
}

# blocks_ops OP ERR [up|down]: the event lines of OP on every block of the
# device, first to last (up) or last to first (down).
blocks_ops() {
	local b

	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		printf '%s %#x %s\n' "$1" "$(block_addr "$b" "$s" "$e")" "$2"
	done | if [ "${3:-up}" = down ]; then tac; else cat; fi
}

# events_are WANT: the trace holds exactly WANT (lines), in this order.
events_are() {
	events_are_text "$(trace_events)" "$1"
}

events_are_text() {
	same_text "dax_kmem events" "$1" "$2"
}

# unplug_traced: write "unplugged" once with the trace freshly started; a
# refusal is printed with the kernel log's reason.
unplug_traced() {
	trace_start && write_once "$STATE" unplugged
}

bind_traced() {
	expect_write OK "$POL" online_movable && trace_start && kmem_bind "$dax" &&
		events_are "$(blocks_ops plug 0; echo "transition unplugged online_movable 0")"
}
check "bind with online_policy=online_movable: one transition, one plug per block" bind_traced

# tier_of NODE: the memory_tierN directory whose nodelist has NODE, or
# "none".
tier_of() {
	local t

	for t in "$TIERS"/memory_tier*; do
		[ -r "$t/nodelist" ] || continue
		if in_list "$1" "$(cat "$t/nodelist")"; then
			basename "$t"
			return
		fi
	done
	echo none
}

# in_list N LIST: N is in a node list such as "0-2,5".
in_list() {
	local r lo hi

	for r in ${2//,/ }; do
		lo=${r%-*}
		hi=${r#*-}
		[ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ] && return 0
	done
	return 1
}

tier_num() {
	echo "${1#memory_tier}"
}

# tier_is TIER: node $node is in TIER (a memory_tierN, or none).
tier_is() {
	eq "tier of node $node" "$(tier_of "$node")" "$1"
}

tier_below_dram() {
	local t0 t1

	t0=$(tier_of 0)
	t1=$(tier_of "$node")
	msg "node 0 in $t0, node $node in $t1"
	[ "$t1" != none ] && [ "$t0" != none ] || return 1
	[ "$(tier_num "$t1")" -gt "$(tier_num "$t0")" ]
}
check "memory online: node $node in a memory tier below node 0's" tier_below_dram
first_tier=$(tier_of "$node")

# Blocks go from the top down, so ZONE_MOVABLE shrinks from its end.
unplug_events() {
	unplug_traced && events_are "$(blocks_ops unplug 0 down
				       echo "transition online_movable unplugged 0")"
}
check "state unplugged: one transition, one unplug per block, top down" unplug_events

check "memory gone: node $node in no memory tier" tier_is none

plug_events() {
	trace_start && expect_write OK "$STATE" online_movable &&
		events_are "$(blocks_ops plug 0; echo "transition unplugged online_movable 0")"
}
check "state online_movable: one transition, one plug per block" plug_events

check "memory back: node $node in the same tier as before ($first_tier)" tier_is "$first_tier"

kernel_refused_events() {
	trace_start && expect_write EBUSY "$STATE" online_kernel &&
		events_are "transition online_movable online_kernel -16"
}
check "online_kernel while online_movable: EBUSY, one transition with err=-16, no block event" \
	kernel_refused_events

same_state_events() {
	trace_start && expect_write OK "$STATE" online_movable &&
		events_are "transition online_movable online_movable 0"
}
check "same state written again: one transition with err=0, no block event" same_state_events

# A plug that fails at the second block rolls the first back.
second=$(block_addr $((s / KMEM_MB + 1)) "$s" "$e")
rollback_plug() {
	local want

	expect_write OK "$STATE" unplugged && kmem_fail_at "$second" && trace_start || return 1
	want=$(printf 'plug %#x 0\nplug %#x -16\nunplug %#x 0\n' "$s" "$second" "$s"
	       echo "transition unplugged online_movable -16")
	expect_write EBUSY "$STATE" online_movable || return 1
	events_are "$want"
}
if [ "$nb" -ge 2 ]; then
	check "plug failing at block 2: err=-16, block 1 unplugged again, transition err=-16" \
		rollback_plug
else
	ktap_test_skip "plug failing at block 2 (the device has one block)"
fi

injection_off_unplug() {
	kmem_fail_at 0 && unplug_traced
}
check "fault injection off: state unplugged" injection_off_unplug

# An unplug that fails at the bottom block (the last one tried) puts the
# others back, bottom up.
rollback_unplug() {
	expect_write OK "$STATE" online_movable && kmem_fail_at "$s" && trace_start || return 1
	expect_write EBUSY "$STATE" unplugged || return 1
	events_are "$(blocks_ops unplug 0 down | sed '$d'
		      printf 'unplug %#x -16\n' "$s"
		      blocks_ops plug 0 | sed 1d
		      echo "transition online_movable unplugged -16")"
}
if [ "$nb" -ge 2 ]; then
	check "unplug failing at block 1: err=-16, the others plugged back, transition err=-16" \
		rollback_unplug
else
	ktap_test_skip "unplug failing at the bottom block (the device has one block)"
fi

injection_off_movable() {
	kmem_fail_at 0 && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "fault injection off, still online_movable" injection_off_movable

# unbind_events: the unbind takes every block once, top down, with no
# failure (nothing holds the memory); a failure is printed with its reason.
unbind_events() {
	trace_start && kmem_unbind "$dax" || return 1
	events_are "$(blocks_ops unplug 0 down; echo "transition online_movable unplugged 0")"
}
check "unbind: one transition online_movable -> unplugged, one successful unplug per block" \
	unbind_events

unbound_no_tier() {
	tier_is none && kmem_gone "$s" "$e" "$base"
}
check "unbound: node $node in no memory tier, the memory gone" unbound_no_tier

rebind_same_tier() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base" &&
		tier_is "$first_tier"
}
check "rebind with online_policy=online_movable: node $node back in $first_tier" \
	rebind_same_tier

# unbind_retry_events: the unbind retries a block that fails in its next
# round: the bottom block (the last one tried) fails once (fail_dax_kmem,
# times=1), the round removed the others, so the next round comes at once
# and removes it. Then bound again, for what follows.
unbind_retry_events() {
	kmem_fail_at "$s" 1 && trace_start && kmem_unbind "$dax" || return 1
	events_are "$(blocks_ops unplug 0 down | sed '$d'
		      printf 'unplug %#x -16\nunplug %#x 0\n' "$s" "$s"
		      echo "transition online_movable unplugged 0")" || return 1
	kmem_fail_at 0 && kmem_gone "$s" "$e" "$base" && kmem_bind "$dax" &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "unbind, the bottom block failing once: its next round removes it, one transition" \
	unbind_retry_events

events_off_empty() {
	echo 0 >"$TR/events/dax_kmem/enable" && : >"$TR/trace" &&
		expect_write OK "$STATE" online_movable && events_are ""
}
check "events off: a transition leaves the trace empty" events_off_empty

ktap_finished
