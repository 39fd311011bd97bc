#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The big region in a kernel zone, through the kmem state machine. A
# node's own threads (kswapdN, kcompactdN) start when the node gets its
# first memory and stop when it loses its last; their stacks and task
# structs go into the node's ZONE_NORMAL when it has one and never move,
# so a block holding them cannot be offlined before a reboot. The test
# starts on a memoryless node, so that this happens to the device, on
# purpose (checked: no thread before, both after). The device is first
# marked as one that may go without warning (daxX.Y/removal "surprise"):
#  - a bind with online_policy online_kernel fails with EPERM, nothing is
#    added, the node stays memoryless, the kernel log says why;
#  - bound with online_policy offline, online_kernel through daxX.Y/state
#    and through a block's memoryN/state is refused with EPERM, nothing
#    changes, and removal cannot change while bound (EBUSY);
#  - with kmem.kernel_zone_surprise=Y the rest runs as for any device
#    (with N again from the "unplugged" write on: a rollback of kmem's own
#    puts blocks back into their kernel zone):
#  - bound with online_policy online_kernel: state online_kernel, every
#    block online in ZONE_NORMAL, all of it counted as kernel memory;
#  - online_movable and online are refused with EBUSY, offline with
#    EINVAL, and nothing changes;
#  - "unplugged" fails with EBUSY and puts every block back as it was
#    (blocks, zones, MemTotal, /proc/iomem), kmem/last_failure naming
#    errno, pfn and reason;
#  - the unbind removes what it can and retains the rest, at least the
#    block with the threads: counted exactly (MemTotal, /proc/iomem),
#    listed in drivers/kmem/retained, named in the kernel log, keeping
#    kmem loaded;
#  - a new bind re-adopts the retained memory, block for block, and the
#    kernel log says how many blocks of kernel memory it kept in a kernel
#    zone with kernel_zone_surprise=N;
#  - with kmem.kernel_loss=keep, the provider's teardown (dax_pmem
#    unbound; for a device that may go without warning the memory may
#    stop decoding then)
#    keeps the blocks with kernel data, each named in the kernel log, and
#    taints the kernel M (machine check); they stay retained and counted.
#    With kernel_loss=panic, the default, the kernel would panic there:
#    kmem_kernel_loss_panic.sh, in a VM of its own, checks that.
# Whether "unplugged" of kernel-zone memory on a node that already has
# some completes is not a case here: any kernel allocation bound to the
# node (a thread's stack, a new slab cache's per-node structure: seen in
# this VM with such an anchor) may land in it first. The unbind's removal
# of the blocks without the threads runs that path.
# The memory is left retained, its device gone: nothing can use the
# big region after this test until a reboot, so it runs after every other
# test of the big region. Only kernel_zone.sh, on the small region, comes
# after it.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region big
PAGE=$(getconf PAGESIZE)

ktap_print_header
ktap_set_plan 15
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

plugged=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	kmem_params_restore
	if [ -z "$plugged" ]; then
		kmem_reset
	elif [ ! -e "$SYS_DAX/devices/$dax" ]; then
		msg "$dax is gone; $(kmem_present_bytes "$s" "$e") bytes of it stay retained"
	else
		msg "$dax stays as it is: $(dax_drv_of "$dax"), state $(dax_state "$dax")," \
			"present_bytes $(kmem_attr "$dax" present_bytes)"
	fi
	return 0
}
trap cleanup EXIT

kmem_new_device
ST=$SYS_DAX/devices/$dax/state
POL=$SYS_DAX/devices/$dax/online_policy

# w WANT WORD: writing WORD to the state file gives WANT.
w() {
	expect_write "$1" "$ST" "$2"
}

# picture: the device's blocks with their zones, MemTotal and /proc/iomem,
# as text.
picture() {
	blocks_census "$s" "$e"
	printf 'blocks:%s\nMemTotal: %s kB\n%s\n' "$bc_desc" "$(meminfo_kb MemTotal)" \
		"$(cat /proc/iomem)"
}

# unchanged_since PICTURE: the picture now is PICTURE; else what differs
# is printed.
unchanged_since() {
	same_text "the picture since before the write" "$1" "$(picture)"
}

# present_normal: every present block of the device is online in
# ZONE_NORMAL; the others are named.
present_normal() {
	local b st z rc=0

	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		[ -d "$SYS_MEM/memory$b" ] || continue
		st=$(read_word "$SYS_MEM/memory$b/state")
		z=$(read_word "$SYS_MEM/memory$b/valid_zones")
		[ "$st" = online ] && [ "$z" = Normal ] && continue
		msg "memory$b: $st, $z; want online in Normal"
		rc=1
	done
	return $rc
}

# --- a device that may go without warning: no kernel zone ---

RMV=$SYS_DAX/devices/$dax/removal

mark_surprise() {
	eq "$dax removal" "$(read_word "$RMV")" announced &&
		expect_write OK "$RMV" surprise &&
		eq "$dax removal" "$(read_word "$RMV")" surprise
}
check "removal: a pmem device reads announced; surprise taken" mark_surprise

# surprise_bind_refused: a bind with online_policy online_kernel fails with
# EPERM; nothing is added, the node stays memoryless, the log says why.
surprise_bind_refused() {
	local before rc=0

	dax_unbind_any "$dax" && expect_write OK "$POL" online_kernel || return 1
	before=$(picture)
	kmsg_mark "kzone-surprise-$$"
	kmem_bind "$dax" && { msg "$dax bound to kmem"; return 1; }
	eq "bind error" "$kmem_bind_err" EPERM || rc=1
	eq "$dax driver" "$(dax_drv_of "$dax")" none || rc=1
	unchanged_since "$before" || rc=1
	node_has has_memory "$node" && { msg "node $node has memory"; rc=1; }
	kmsg_since "kzone-surprise-$$" |
		grep -q "$dax: online_kernel refused: the device may go without warning" ||
		{ msg "no refusal naming the removal class in the kernel log"; rc=1; }
	return $rc
}
check "surprise, kernel_zone_surprise=N: bind online_kernel is EPERM, nothing added" \
	surprise_bind_refused

# surprise_bound_offline: bound with policy offline; online_kernel through
# daxX.Y/state and a block's memoryN/state is EPERM, removal is EBUSY;
# nothing changes; then the device is unbound again.
surprise_bound_offline() {
	local before b rc=0

	expect_write OK "$POL" offline && kmem_bind "$dax" || return 1
	before=$(picture)
	w EPERM online_kernel || rc=1
	b=$(blocks_of "$s" "$e" | head -n 1)
	kmsg_mark "kzone-block-$$"
	expect_write EPERM "$b/state" online_kernel || rc=1
	kmsg_since "kzone-block-$$" |
		grep -q "online refused (-1): the device may go without warning" ||
		{ msg "no block refusal naming the removal class in the kernel log"; rc=1; }
	expect_write EBUSY "$RMV" announced || rc=1
	unchanged_since "$before" || rc=1
	eq "$dax state" "$(dax_state "$dax")" offline || rc=1
	node_has has_memory "$node" && { msg "node $node has memory"; rc=1; }
	w OK unplugged && kmem_unbind "$dax" || rc=1
	return $rc
}
check "surprise, bound offline: online_kernel (state, memoryN/state) EPERM, removal EBUSY" \
	surprise_bound_offline

bind_kernel() {
	local rc=0

	kmem_param_set kernel_zone_surprise Y || return 1
	node_has has_memory "$node" && { msg "node $node has memory before the bind"; rc=1; }
	eq "node $node threads before" "$(node_threads "$node")" "" || rc=1
	dax_unbind_any "$dax" && expect_write OK "$POL" online_kernel || return 1
	plugged=1
	kmem_bind "$dax" || return 1
	eq "node $node threads" "$(node_threads "$node")" "kcompactd$node kswapd$node" || rc=1
	state_is online_kernel "$dax" "$s" "$e" "$base" || rc=1
	eq "blocks present" "$bc_present" "$nb" || rc=1
	present_normal || rc=1
	eq "kmem/present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e - s)) || rc=1
	eq "kmem/online_kernel_bytes" "$(kmem_attr "$dax" online_kernel_bytes)" \
		"$(kmem_attr "$dax" present_bytes)" || rc=1
	memtotal_grew_by $(((e - s) / 1024)) || rc=1
	return $rc
}
check "surprise, kernel_zone_surprise=Y, bind online_kernel: threads start, all in Normal" \
	bind_kernel

# refused_stays WORD WANT: writing WORD gives WANT; nothing changes, the
# state still reads online_kernel.
refused_stays() {
	local before

	before=$(picture)
	w "$2" "$1" && unchanged_since "$before" &&
		eq "$dax state" "$(dax_state "$dax")" online_kernel
}
check "online_kernel -> online_movable: EBUSY, nothing changes" refused_stays online_movable EBUSY
check "online_kernel -> online: EBUSY, nothing changes" refused_stays online EBUSY
check "online_kernel -> offline: EINVAL, nothing changes" refused_stays offline EINVAL

# unplug_refused: "unplugged" fails with EBUSY and leaves everything as it
# was, also with kernel_zone_surprise=N (from here on): the rollback puts
# the blocks back into their kernel zone. Sets f0 to offline_failures
# before.
unplug_refused() {
	local before r t0=$SECONDS rc=0

	kmem_param_set kernel_zone_surprise N || return 1
	before=$(picture)
	f0=$(kmem_attr "$dax" offline_failures)
	kmsg_mark "unplug-kernel-$$"
	r=$(sysfs_err "$ST" unplugged)
	msg "unplugged: $r after $((SECONDS - t0)) s"
	msg "kernel log: $(kmem_why "unplug-kernel-$$" | head -n 1)"
	eq "write unplugged" "$r" EBUSY || return 1
	eq "$dax state" "$(dax_state "$dax")" online_kernel || rc=1
	unchanged_since "$before" || rc=1
	kmem_consistent "$dax" "$s" "$e" "$base" || rc=1
	return $rc
}
check "threads in the device, kernel_zone_surprise=N: unplugged EBUSY, every block as it was" \
	unplug_refused

# pfn_in_device PFN: PFN is in the device's range.
pfn_in_device() {
	[ $(($1 * PAGE)) -ge "$s" ] && [ $(($1 * PAGE)) -lt "$e" ]
}

failure_named() {
	local rc=0

	[ "$(kmem_attr "$dax" offline_failures)" -gt "$f0" ] ||
		{ msg "offline_failures $f0 -> $(kmem_attr "$dax" offline_failures)"; rc=1; }
	last_failure_read "$dax" || return 1
	eq "last_failure errno" "$lf_errno" -16 || rc=1
	failure_pfn_ok "$lf_reason" "$lf_pfn" || rc=1
	if [ "$lf_pfn" = unknown ]; then
		:
	elif ! pfn_in_device "$lf_pfn"; then
		msg "pfn $(printf '%#x' "$lf_pfn") is not in $dax"
		rc=1
	elif [ "$(block_addr $((lf_pfn * PAGE / KMEM_MB)) "$s" "$e")" != "$lf_block" ]; then
		msg "pfn $(printf '%#x' "$lf_pfn") is not in block $(printf '%#x' "$lf_block")"
		rc=1
	fi
	case $lf_reason in
	"" | none) msg "no reason given"; rc=1 ;;
	esac
	return $rc
}
check "unplugged refused: last_failure errno=-16, reason, pfn as reason says; failures up" \
	failure_named

# left_counted: what is left is online in Normal, and MemTotal and
# /proc/iomem count exactly that.
left_counted() {
	local rc=0

	present_normal || rc=1
	kmem_consistent "$dax" "$s" "$e" "$base" || rc=1
	memtotal_is $((base + bc_present_bytes / 1024)) || rc=1
	return $rc
}

# unbind_kernel: unbind, then left_counted, between two attempts of the
# background retry (kmem_settled). Sets left (blocks present): at least the
# block with the node's threads, and left_bytes (their bytes of the range).
left=0
left_bytes=0
unbind_kernel() {
	local t0

	kmem_param_set offline_timeout_ms 2000 && kmem_param_set unplug_retries 2 || return 1
	kmsg_mark "kernel-zone-$$"
	t0=$SECONDS
	kmem_unbind "$dax" || return 1
	left=$(kmem_present_blocks "$s" "$e" | wc -w)
	left_bytes=$(kmem_present_bytes "$s" "$e")
	msg "unbind took $((SECONDS - t0)) s; $left of $nb blocks left:" \
		"$(kmem_present_blocks "$s" "$e")"
	[ "$left" -ge 1 ] || { msg "nothing left, yet the node's threads were in $dax"; return 1; }
	kmem_settled left_counted
}
check "unbind: each block gone or online in Normal; MemTotal, /proc/iomem count those left" \
	unbind_kernel

# retained_listed: one line in drivers/kmem/retained, the device's, as
# documented.
retained_listed() {
	local rc=0

	retained_single || return 1
	retained_whole "$s" "$e" "$node" || rc=1
	# what is present now: the background retry may have removed some
	eq "present_bytes" "$rt_present" "$(kmem_present_bytes "$s" "$e")" || rc=1
	[ "$rt_attempts" -ge 1 ] || { msg "attempts $rt_attempts"; rc=1; }
	errno_is "$rt_errno" EBUSY 16 || errno_is "$rt_errno" ETIMEDOUT 110 ||
		{ msg "errno $rt_errno, want EBUSY or ETIMEDOUT"; rc=1; }
	case $rt_reason in
	"" | none) msg "no reason given"; rc=1 ;;
	esac
	failure_pfn_ok "$rt_reason" "$rt_pfn" || rc=1
	if [ "$rt_pfn" != unknown ] && { ! pfn_in_device "$rt_pfn" ||
	   [ ! -d "$SYS_MEM/memory$((rt_pfn * PAGE / KMEM_MB))" ]; }; then
		msg "pfn $(printf '%#x' "$rt_pfn") is not in a block left"
		rc=1
	fi
	return $rc
}
check "unbind: drivers/kmem/retained lists what is left: range, node, bytes, errno, pfn, reason" \
	retained_listed

# log_names_it: the kernel log says the device retains the blocks left:
# bytes, range, errno, pfn and reason; and that kernel memory of a device
# that may go without warning is retained (its loss would go unnoticed).
log_names_it() {
	local log l re rc=0

	log=$(kmsg_since "kernel-zone-$$")
	l=$(echo "$log" | grep -m1 "$dax: retaining ")
	[ -n "$l" ] || { msg "no '$dax: retaining ...' in the kernel log"; return 1; }
	msg "kernel log: ${l#*] }"
	re="retaining $left_bytes bytes of \[mem $(printf '%#x-%#x' "$s" $((e - 1)))\]"
	[[ $l =~ $re ]] || { msg "want '$re'"; rc=1; }
	re='errno=-[0-9]+ pfn=(0x[0-9a-f]+|unknown) reason=[^ )]'
	[[ $l =~ $re ]] || { msg "errno, pfn and reason not named"; rc=1; }
	re="$dax: [0-9]+ blocks of kernel memory retained from a device that may go without warning"
	echo "$log" | grep -qE "$re" || { msg "no '$re'"; rc=1; }
	return $rc
}
check "unbind: the log has 'retaining ... [mem ...]' with errno, pfn, reason; kernel memory said" \
	log_names_it

check "memory retained: modprobe -r kmem fails" kmem_rmmod_refused

# readopt: bind again (online_policy unplugged: a bind that finds nothing
# retained adds nothing): the retained memory is the device's again,
# block for block, and not retained any more. What the bind took is what
# the kernel log says it re-adopted (a background round may still remove
# a block between the look at the blocks and the bind's claim), and every
# block now present was present before.
readopt() {
	local before b l n rc=0

	expect_write OK "$POL" unplugged || return 1
	before=$(kmem_present_blocks "$s" "$e")
	kmsg_mark "readopt-$$"
	kmem_bind "$dax" || return 1
	retained_empty || rc=1
	kmem_consistent "$dax" "$s" "$e" "$base" || rc=1
	msg "after the bind: state $(dax_state "$dax"), blocks:${bc_desc:- none}"
	[ "$(dax_state "$dax")" != unplugged ] || { msg "re-adopted memory not shown"; rc=1; }
	present_normal || rc=1
	l=$(kmsg_since "readopt-$$" | grep -m1 -o "$dax: re-adopted [0-9]* bytes")
	[ -n "$l" ] || { msg "no '$dax: re-adopted ... bytes' in the kernel log"; return 1; }
	l=${l#*re-adopted }
	eq "bytes re-adopted" "${l% bytes}" "$(kmem_present_bytes "$s" "$e")" || rc=1
	n=0
	for b in $(kmem_present_blocks "$s" "$e"); do
		n=$((n + 1))
		case " $before " in
		*" $b "*) ;;
		*) msg "memory$b was not there before the bind"; rc=1 ;;
		esac
	done
	# all of them in Normal (present_normal), kept there although
	# kernel_zone_surprise=N: said once
	l="$dax: $n blocks of kernel memory re-adopted by a device that may go without warning"
	eq "lines '$l'" "$(kmsg_since "readopt-$$" | grep -c "$l")" 1 || rc=1
	return $rc
}
check "bind again: retained memory re-adopted (same blocks, state not unplugged), retained empty" \
	readopt

# kernel_lost_kept: kernel_loss=keep; the provider's teardown of the
# surprise device (dax_pmem unbound from its nd_dax device, as a namespace
# destroy does; ndctl itself refuses while the memory is online) retains
# every block with kernel data (at least the one with the node's threads),
# each named in the log as kernel memory kept, with one summary line, and
# taints the kernel M, which nothing else in the suite does (checked
# clear before). The retained line is the device's whole range; MemTotal
# and /proc/iomem count what is left (kmem_settled: the retry may still
# remove a block without kernel data).
kernel_lost_kept() {
	local ns nd log b n a rc=0

	ns=$(ndctl list -N -r "$region" | json_field dev)
	nd=$(nd_dax_of "$ns")
	[ -n "$nd" ] || { msg "no nd_dax device claims '$ns' on $region"; return 1; }
	eq "$dax removal" "$(read_word "$RMV")" surprise || return 1
	eq "taint M (16) before" $(($(cat /proc/sys/kernel/tainted) & 16)) 0 || return 1
	kmem_param_set kernel_loss keep || return 1
	kmsg_mark "kernel-loss-$$"
	expect_write OK "$SYS_BUS_ND_DAX_PMEM/unbind" "$nd" || return 1
	[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; rc=1; }
	eq "taint M (16) after" $(($(cat /proc/sys/kernel/tainted) & 16)) 16 || rc=1
	log=$(kmsg_since "kernel-loss-$$")
	a="$dax: retaining memory although the provider is removing the device"
	echo "$log" | grep -q "$a" || { msg "no '$a'"; rc=1; }
	a="$dax: block 0x[0-9a-f]+: kernel memory kept although the device is going without warning"
	n=$(echo "$log" | grep -cE "$a")
	msg "blocks named as kept kernel memory: $n; present: $(kmem_present_blocks "$s" "$e")"
	[ "$n" -ge 1 ] || rc=1
	a="$dax: $n blocks \([0-9]+ bytes\) of kernel memory kept although the device is going"
	echo "$log" | grep -qE "$a" || { msg "no summary line '$a'"; rc=1; }
	# every block still there was named (the retry only removes)
	for b in $(kmem_present_blocks "$s" "$e"); do
		a="$dax: block $(printf '%#x' "$(block_addr "$b" "$s" "$e")"): kernel memory kept"
		echo "$log" | grep -q "$a" || { msg "memory$b is present, not named"; rc=1; }
	done
	kmem_settled retained_left || rc=1
	return $rc
}

# retained_left: what is left of the device is retained as its whole
# range, online in Normal, and counted.
retained_left() {
	retained_single && retained_whole "$s" "$e" "$node" && left_counted
}
check "kernel_loss=keep, provider's teardown: kernel blocks kept, each logged, taint M, retained" \
	kernel_lost_kept

cleanup
ktap_finished
