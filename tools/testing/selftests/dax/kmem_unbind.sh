#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A device leaving kmem with its memory online must take the memory with
# it. The seed regression first: all of the big region online_movable,
# then the raw driver unbind, without offlining anything. Stock kmem fails
# here: remove_memory() refuses online memory, the kernel logs "cannot be
# hotremoved until the next reboot" and the memory stays System RAM.
#
# Then the same with a process holding about 50% (plain) and 95%
# (mlocked) of a device's memory on its node (numa_fill): the unbind migrates
# the pages to node 0 and the process finds them intact. A fill goes to the
# big region when it fits into node 0's free memory after the migration
# (with 256 MiB to spare), else to the small one.
#
# Then the other ways a device leaves kmem with online memory, on the
# small region (the big one's 15 blocks would take four times as long and
# test nothing more): daxctl reconfigure-device --mode=devdax -f,
# modprobe -r kmem, destroying the namespace, disabling the region (then
# enabling it again). ndctl 76 refuses to destroy a namespace whose dax
# device has online memory (a user-space check): the test then does what
# ndctl would do, the nd-bus unbind of the namespace's dax device, and
# destroys the namespace after.
#
# Last, memory that cannot go (a failure injected on one block): it is
# retained, listed in drivers/kmem/retained with its reason and pfn, named
# in the kernel log, keeps the module loaded, is re-adopted by the next
# bind, retained again by the next unbind, and removed by the background
# retry once the failure is gone; then the module unloads.
#
# After each: no memory block of the range, MemTotal at the baseline, no
# System RAM (kmem) in /proc/iomem.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write numa_fill
require_region big
big=$region
require_region small
small=$region
PAGE=$(getconf PAGESIZE)
FILL_OUT=/tmp/kmem_unbind.$$.fill
SPARE_KB=$((256 << 10))

ktap_print_header
ktap_set_plan 32
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

fill_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	[ -n "$fill_pid" ] && kill -KILL "$fill_pid" 2>/dev/null && wait "$fill_pid" 2>/dev/null
	rm -f "$FILL_OUT"
	modprobe kmem 2>/dev/null
	kmem_fail_off
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

base=$(meminfo_kb MemTotal)

# devdax_ns REGION: a devdax namespace filling REGION; sets ns, dax, s, e.
devdax_ns() {
	local json

	json=$(create_ns "$1" devdax "" -a 2M)
	ns=$(ns_of "$json")
	dax=$(dax_of_ns "$json")
	[ -n "$dax" ] || ktap_exit_fail_msg "cannot create a devdax namespace on $1"
	read -r s e < <(kmem_span "$dax")
	node=$(dax_attr "$dax" target_node)
}

# online_all: bind $dax to kmem with all of its memory online_movable,
# through online_policy where the driver has it; what is left offline
# (stock kmem binds offline) is onlined through memoryN/state.
online_all() {
	sysfs_err "$SYS_DAX/devices/$dax/online_policy" online_movable >/dev/null
	kmem_bind "$dax" || return 1
	blocks_census "$s" "$e"
	if [ "$bc_online" != "$bc_total" ]; then
		msg "$dax: $bc_online of $bc_total blocks online after the bind, onlining the rest"
		blocks_set "$s" "$e" online_movable || return 1
	fi
	blocks_all "$s" "$e" online Movable && memtotal_grew_by $(((e - s) / 1024))
}

# online_dev REGION: devdax_ns, then online_all.
online_dev() {
	devdax_ns "$1"
	msg "$dax on $1: $(((e - s) >> 20)) MiB at $(printf '%#x' "$s")"
	online_all
}

# iomem_clean DAX: no System RAM (kmem) and no resource named DAX.
iomem_clean() {
	eq "System RAM (kmem) in /proc/iomem" "$(iomem_lines 'System RAM (kmem)')" "" &&
		eq "$1 in /proc/iomem" "$(iomem_lines "$1")" ""
}

# --- the seed regression: raw unbind, everything online ---

big_online() {
	online_dev "$big" && eq state "$(dax_state "$dax")" online_movable
}
check "big region: bind kmem, all memory online_movable, state online_movable" big_online
kmsg_mark "unbind-$$"
check "raw unbind from kmem with the memory online" kmem_unbind "$dax"
check "after the unbind: no memory block of the range" kmem_gone "$s" "$e" "$base"
check "after the unbind: MemTotal back at the baseline" memtotal_is "$base"
check "after the unbind: no System RAM (kmem), no $dax in /proc/iomem" iomem_clean "$dax"

no_hotremove_msg() {
	local l

	l=$(kmsg_since "unbind-$$" | grep 'cannot be hotremoved')
	[ -z "$l" ] || { msg "kernel log: $l"; return 1; }
}
check "kernel log: nothing 'cannot be hotremoved'" no_hotremove_msg

# teardowns_logged TAG DAX: how many times kmem logged, since mark TAG,
# that DAX's provider told it of a teardown (kill_dax() through the dax
# holder): once when the provider removes the device, never for an unbind
# of kmem alone.
teardowns_logged() {
	local line="kmem: $2: the provider is removing the device\$"

	kmsg_since "$1" | grep -c "$line"
}
check "kernel log: no teardown told of a plain unbind" \
	eq "teardown lines for $dax" "$(teardowns_logged "unbind-$$" "$dax")" 0

# --- a process holding the memory ---

# fill_size PCT: set want (MiB) to PCT% of $dax's memory; once the memory
# is online, cap it at node $node's free memory less 8 MiB. True when node
# 0 has room for it after the migration, with SPARE_KB to spare. Before
# the memory is online, what onlining it will take from node 0 is counted
# too: its memmap (1/64) and KASAN shadow (1/8).
fill_size() {
	local free0 free1 cost=0

	want=$(((e - s) * $1 / 100 >> 20))
	if kmem_bound "$dax"; then
		free1=$(($(node_meminfo_kb "$node" MemFree) / 1024 - 8))
		[ "$want" -le "$free1" ] || want=$free1
	else
		cost=$(((e - s) / 8 / 1024 + (e - s) / 64 / 1024))
	fi
	free0=$(($(node_meminfo_kb 0 MemFree) - cost))
	[ $((want * 1024 + SPARE_KB)) -le "$free0" ] && return 0
	msg "$want MiB from $dax would not fit into node 0 ($((free0 >> 10)) MiB free)"
	return 1
}

# region_fits REGION PCT: fill_size's test before a namespace is made, on
# the region's size (more than its device's memory): a region that fails
# it gets no namespace (making and destroying one on the big region takes
# tens of seconds in the test VM).
region_fits() {
	local size want free0

	read -r size <"$SYS_ND/$1/size" || return 1
	want=$((size * $2 / 100 >> 20))
	free0=$(($(node_meminfo_kb 0 MemFree) - size / 8 / 1024 - size / 64 / 1024))
	[ $((want * 1024 + SPARE_KB)) -le "$free0" ] && return 0
	msg "$want MiB from $1 would not fit into node 0 ($((free0 >> 10)) MiB free)"
	return 1
}

# fill_case PCT [-l]: a device online_movable, a process holding PCT% of
# it on its node; unbind; the memory is gone and the data intact.
fill_case() {
	local pct=$1 what="$1%${2:+ mlocked}" region line pages n rc
	local lock=(${2:+"$2"}) bind_failed=

	fill_ready=
	kmem_reset
	for region in "$big" "$small"; do
		region_fits "$region" "$pct" || continue
		devdax_ns "$region"
		if fill_size "$pct"; then
			online_all || { bind_failed=1; break; }
			fill_size "$pct" && { fill_ready=1; break; }
		fi
		kmem_reset
	done
	if [ -z "$fill_ready" ]; then
		if [ -n "$bind_failed" ]; then
			ktap_test_fail "$what: fill and verify (could not bind $dax online_movable)"
		else
			ktap_test_skip "$what: fill and verify (no region fits node 0)"
		fi
		ktap_test_skip "$what: unbind with the memory in use"
		ktap_test_skip "$what: data intact after the migration"
		return
	fi

	"$DAX_DIR/numa_fill" "${lock[@]}" -n "$node" -s $((RANDOM + 1)) "$want" \
		>"$FILL_OUT" 2>&1 &
	fill_pid=$!
	filled() {
		wait_line "$FILL_OUT" '^ready ' 600 "$fill_pid" ||
			{ msg "numa_fill: $(tail -n 2 "$FILL_OUT" | tr '\n' ' ')"; return 1; }
		line=$(grep '^ready ' "$FILL_OUT")
		msg "numa_fill ${lock[*]} $want MiB: $line"
		pages=$(kv "$line" pages)
		eq "pages on node $node" "$(kv "$line" "node$node")" "$pages"
	}
	check "$what: $want MiB of $dax filled on node $node and verified" filled

	unbind_in_use() {
		local t0=$SECONDS

		kmem_unbind "$dax" || return 1
		msg "unbind took $((SECONDS - t0)) s"
		kmem_gone "$s" "$e" "$base" && retained_empty
	}
	check "$what: unbind with the memory in use: memory gone, MemTotal at the baseline" \
		unbind_in_use

	intact() {
		kill -USR1 "$fill_pid" 2>/dev/null
		wait_exit "$fill_pid" 600
		rc=$?
		fill_pid=
		line=$(grep '^done ' "$FILL_OUT")
		msg "numa_fill: ${line:-$(tail -n 2 "$FILL_OUT" | tr '\n' ' ')}"
		eq "numa_fill exit status" "$rc" 0 || return 1
		n=$(kv "$line" "node$node")
		eq "pages left on node $node" "$n" 0 &&
			eq "pages on node 0" "$(kv "$line" node0)" "$pages"
	}
	check "$what: data intact, every page now on node 0" intact
}

fill_case 50
fill_case 95 -l

# --- the other ways out, memory online ---

kmem_reset
daxctl_online_devdax() {
	online_dev "$small" && run daxctl reconfigure-device -m devdax -f "$dax"
}
check "daxctl reconfigure-device --mode=devdax -f with the memory online" daxctl_online_devdax
devdax_back() {
	eq "$dax driver" "$(dax_drv_of "$dax")" device_dax &&
		kmem_gone "$s" "$e" "$base" && retained_empty &&
		eq "$dax in /proc/iomem" "$(iomem_lines "$dax" | wc -l)" 1
}
check "daxctl: back on device_dax, memory gone, MemTotal at the baseline" devdax_back

kmem_reset
rmmod_online() {
	online_dev "$small" && run modprobe -r kmem && ! kmem_loaded
}
check "modprobe -r kmem with the memory online: module unloaded" rmmod_online

gone_clean() {
	kmem_gone "$s" "$e" "$base" && iomem_clean "$dax"
}
check "modprobe -r kmem: memory gone, MemTotal and /proc/iomem at the baseline" gone_clean
modprobe kmem || ktap_exit_fail_msg "cannot load kmem again"

destroy_online() {
	local out nd

	online_dev "$small" || return 1
	out=$(ndctl destroy-namespace -f "$ns" 2>&1)
	if [ -e "$SYS_DAX/devices/$dax" ]; then
		msg "ndctl destroy-namespace -f $ns refused:" \
			"$(echo "$out" | tail -n 2 | tr '\n' ' ')"
		blocks_census "$s" "$e"
		eq "blocks online after the refusal" "$bc_online" "$bc_total" || return 1
		nd=$(nd_dax_of "$ns")
		msg "ndctl 76 refuses online system-ram: unbinding $nd from dax_pmem as it would"
		expect_write OK "$SYS_BUS_ND_DAX_PMEM/unbind" "$nd" || return 1
		[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; return 1; }
		run ndctl destroy-namespace -f "$ns" || return 1
	fi
	eq "namespaces left on $small" "$(ndctl list -N -r "$small" | tr -d ' \n')" ""
}
kmem_reset
kmsg_mark "destroy-$$"
check "namespace destroyed with the memory online" destroy_online
check "namespace destroyed: the provider told kmem of the teardown, once" \
	eq "teardown lines for $dax" "$(teardowns_logged "destroy-$$" "$dax")" 1

gone_clean_unretained() {
	kmem_gone "$s" "$e" "$base" && iomem_clean "$dax" && retained_empty
}
check "namespace destroyed: memory gone, MemTotal and /proc/iomem at the baseline" \
	gone_clean_unretained

disable_online() {
	online_dev "$small" || return 1
	# the device that comes back with the region is device_dax's again
	sysfs_err "$KMEM_DRV/remove_id" "$dax" >/dev/null
	run ndctl disable-region "$small" || return 1
	if [ -e "$SYS_DAX/devices/$dax" ]; then
		# ndctl 76 skips a region with online system-ram ("disabled 0
		# regions"): take the region from its driver as ndctl would
		msg "ndctl left $small enabled: unbinding it from nd_region"
		sysfs_err /sys/bus/nd/drivers/nd_region/unbind "$small" >/dev/null
	fi
	[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; return 1; }
}
kmem_reset
kmsg_mark "disable-$$"
check "ndctl disable-region with the memory online" disable_online
check "region disabled: the provider told kmem of the teardown, once" \
	eq "teardown lines for $dax" "$(teardowns_logged "disable-$$" "$dax")" 1
check "region disabled: memory gone, MemTotal and /proc/iomem at the baseline" \
	gone_clean_unretained
enable_again() {
	run ndctl enable-region "$small" || return 1
	wait_until 30 test -e "$SYS_DAX/devices/$dax" || { msg "$dax did not come back"; return 1; }
	eq "namespace on $small" "$(ndctl list -N -r "$small" | json_field dev)" "$ns" &&
		kmem_gone "$s" "$e" "$base"
}
check "ndctl enable-region: namespace and $dax back, no memory added" enable_again

# --- memory that cannot go: retained ---

# only_fa_left: every block but the failing one ($fa) removed; MemTotal
# and /proc/iomem count exactly that one, still below $dax.
only_fa_left() {
	local b rc=0

	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		if [ $((b * KMEM_MB)) = "$fa" ]; then
			[ -d "$SYS_MEM/memory$b" ] || { msg "memory$b (failing) is gone"; rc=1; }
		else
			[ ! -d "$SYS_MEM/memory$b" ] || { msg "memory$b is still present"; rc=1; }
		fi
	done
	kmem_consistent "$dax" "$s" "$e" "$base" || rc=1
	eq "System RAM (kmem) in the range" "$(iomem_kmem_in "$s" "$e")" \
		"$(printf '%x-%x' "$fa" $((fa + KMEM_MB - 1)))" || rc=1
	return $rc
}

# retained_one: drivers/kmem/retained has one line, over the failing block,
# as documented.
retained_one() {
	local rc=0

	retained_single || return 1
	if [ "$rt_start" -gt "$fa" ] || [ "$rt_end" -lt $((fa + KMEM_MB - 1)) ] ||
	   [ "$rt_start" -lt "$s" ] || [ "$rt_end" -ge "$e" ]; then
		msg "range does not cover the failing block or is not the device's"
		rc=1
	fi
	eq "node" "$rt_node" "$node" || rc=1
	eq "present_bytes" "$rt_present" "$KMEM_MB" || rc=1
	[ "$rt_attempts" -ge 1 ] || { msg "attempts $rt_attempts"; rc=1; }
	errno_is "$rt_errno" EBUSY 16 || { msg "errno $rt_errno, want EBUSY"; rc=1; }
	[ $((rt_pfn * PAGE / KMEM_MB)) = $((fa / KMEM_MB)) ] ||
		{ msg "pfn $(printf '%#x' "$rt_pfn") is not in the failing block"; rc=1; }
	case $rt_reason in
	*injected*) ;;
	*) msg "reason '$rt_reason' does not say injected"; rc=1 ;;
	esac
	return $rc
}

retain() {
	kmem_reset
	online_dev "$small" || return 1
	kmem_param_set unplug_retries 2 || return 1
	# a middle block: whole even when the first and last are partial
	[ "$(kmem_nblocks "$s" "$e")" -ge 3 ] ||
		{ msg "$(kmem_nblocks "$s" "$e") blocks: no middle block"; return 1; }
	fa=$(((s / KMEM_MB + $(kmem_nblocks "$s" "$e") / 2) * KMEM_MB))
	msg "failing block $(printf '%#x' "$fa") of $(printf '%#x-%#x' "$s" $((e - 1)))"
	kmem_fail_at "$fa" || return 1
	kmsg_mark "retain-$$"
	kmem_unbind "$dax" && only_fa_left
}
check "retained: unbind with one block failing: the others removed, that one kept" retain
check "retained: listed in drivers/kmem/retained with node, errno, pfn, reason" retained_one

log_names_it() {
	local log rc=0 l

	log=$(kmsg_since "retain-$$")
	echo "$log" | grep -qiE "(0x)?0*($(printf '%x' "$fa")|$(printf '%x' "$rt_start"))" ||
		{ msg "the kernel log does not name the range"; rc=1; }
	echo "$log" | grep -qiE "pfn[=: ]*(0x)?0*$(printf '%x' "$rt_pfn")" ||
		{ msg "the kernel log does not name the pfn"; rc=1; }
	echo "$log" | grep -q injected || { msg "the kernel log does not give the reason"; rc=1; }
	[ $rc = 0 ] || echo "$log" | grep -iE "kmem|dax" | tail -n 4 |
		while read -r l; do msg "  $l"; done
	return $rc
}
check "retained: the kernel log names the range, the reason and the pfn" log_names_it

check "retained: modprobe -r kmem fails" kmem_rmmod_refused

# readopt: the bind takes the retained block and, on the device's terms
# (online_policy online_movable), adds the blocks that had gone again.
readopt() {
	local st rc=0

	kmem_bind "$dax" || return 1
	st=$(dax_state "$dax")
	msg "state after the bind: $st, present_bytes $(kmem_attr "$dax" present_bytes)"
	retained_empty || rc=1
	[ -d "$SYS_MEM/memory$((fa / KMEM_MB))" ] || { msg "the failing block is gone"; rc=1; }
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e - s)) || rc=1
	state_is online_movable "$dax" "$s" "$e" "$base" || rc=1
	return $rc
}
check "retained: bind again: re-adopted, whole again, online_movable as its policy says" readopt

unbind_retains_again() {
	kmem_param_set retry_max_delay_ms 1000 && kmem_unbind "$dax" && retained_one
}
check "retained: unbind again with the block still failing: retained again" \
	unbind_retains_again

background() {
	local t0=$SECONDS

	kmem_fail_at 0 || return 1
	wait_until 30 retained_none ||
		{ msg "still retained after 30 s: $(kmem_retained)"; return 1; }
	msg "removed by the background retry after $((SECONDS - t0)) s"
	kmem_gone "$s" "$e" "$base" && iomem_clean "$dax"
}
check "retained: failure gone: the background retry removes it, MemTotal at the baseline" background

module_unloads() {
	run modprobe -r kmem && ! kmem_loaded
}
check "retained: nothing left: modprobe -r kmem works" module_unloads

cleanup
ktap_finished
