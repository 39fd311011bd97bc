#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Memory whose device is going away is taken from its users. page_pin -m
# vmsplice maps 2 MiB on the device's node and splices its first 1 MiB
# into a pipe, so migration cannot move those pages (kmem_pin.sh); the
# other 1 MiB is free to migrate. The small region, online movable, with
# kmem.offline_timeout_ms=3000 and vm.memory_failure_early_kill=0:
#  (a) a plain unbind with the pin held retains the blocks and takes
#      nothing from anybody: no page is revoked, the holder reads every
#      page as written, and the memory goes once the pipe is drained;
#  (b) the provider tears the device down (the nd-bus unbind of the
#      namespace's nd_dax device from dax_pmem, which ndctl 76 does not
#      do for a namespace with online system-ram, so the test does it as
#      kmem_unbind.sh does): kmem is told before its ->remove, migration
#      gives up on the pinned pages, and core mm takes them from their
#      users (memory_failure(), MF_MEM_LOST) on the isolated block: the
#      kernel log says how many pages per block, and their sum is the
#      pinned pages. It runs with vm.memory_failure_recovery=0, which
#      panics on a hardware memory error but not on this;
#  (c) the pipe still references them, so their blocks stay (retained,
#      "unmovable page", EBUSY) and HardwareCorrupted counts them;
#  (d) the holder reading its buffer gets SIGBUS with BUS_MCEERR_AR at
#      each pinned page, and reads the other 1 MiB as written: pages that
#      migration could move were moved, not taken;
#  (e) once the pipe is drained the background retry removes the blocks:
#      MemTotal, /proc/iomem and HardwareCorrupted are back at the
#      baseline, and no pfn of the range reaches a page (/proc/kpageflags
#      reads NOPAGE alone; so after (a), (g) and (i));
#  (f) the same with a holder that asked for early kills
#      (PR_MCE_KILL_EARLY), and the region disabled instead (taken from
#      nd_region, with its namespace): it dies of the SIGBUS
#      (BUS_MCEERR_AO) the revocation sends, its pipe goes with it (pages
#      it frees before the revocation reaches them are not taken), and the
#      same teardown removes the block (core mm offlines the isolated block
#      again until its deadline): nothing is retained, all at the baseline;
#      the region enabled again brings the namespace back;
#  (g) the memory itself fails (fail_dax_backing makes the teardown tell
#      kmem so before it tells of the teardown), with the memmap in DRAM:
#      nothing is migrated, every page of the buffer is taken from its
#      users, pinned or not (the kernel log's count is the buffer's
#      pages), the holder gets SIGBUS BUS_MCEERR_AR on each and reads
#      none, the pipe keeps the blocks until it is drained, then all is at
#      the baseline;
#  (h) the same with the memmap in the device's reservation (the
#      default): kmem says once that removing the memory reads it, and
#      the memory goes;
#  (i) after a loss nothing of the device goes online again: a device
#      bound offline whose first block cannot be removed (fail_dax_kmem)
#      is torn down; that block is retained, offline, and an online of it
#      through memoryN/state fails with ENXIO and changes nothing (the
#      kernel log says why); with the injection off the retry removes it;
#  (j) a namespace created on the region again works as System RAM.
# They run in the order (b)-(e), (a), (f)-(j): the stock kernel shows its
# behaviour in (b)-(e) (make check-stock, results/loss-stock.md); it has no
# fail_dax_backing, no kmem parameters and no online_policy, and their
# checks fail there without stopping the test.
# Not checked: that the block stays isolated while its pages are taken
# (nothing outside the kernel sees the window).

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write page_pin
require_region small
PAGE=$(getconf PAGESIZE)
# one pipe slot a page: 1 MiB fits into the default fs.pipe-max-size
BUF_SIZE=2M
BUF_PAGES=$(((2 << 20) / PAGE))
FREE_SIZE=1M
PIN_PAGES=$(((1 << 20) / PAGE))
PFNS=/tmp/kmem_loss.$$.pfns
OUT=/tmp/kmem_loss.$$.out
MF_EARLY=/proc/sys/vm/memory_failure_early_kill
[ -w "$MF_RECOVERY" ] || ktap_exit_fail_msg "no $MF_RECOVERY (CONFIG_MEMORY_FAILURE)"
mf_recovery0=$(cat "$MF_RECOVERY")
mf_early0=$(cat "$MF_EARLY")
# the early-kill holder dies of SIGBUS: no core dump of the device's pages
ulimit -c 0

ktap_print_header
ktap_set_plan 28
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
# what the stock kernel lacks fails its checks, it does not stop the test
[ -d "$BACKING_FAIL" ] ||
	msg "no $BACKING_FAIL: the failed-memory cases (g)-(i) will fail"

pin_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	[ -n "$pin_pid" ] && kill -KILL "$pin_pid" 2>/dev/null && wait "$pin_pid" 2>/dev/null
	rm -f "$PFNS" "$OUT"
	[ -e "$BACKING_FAIL/probability" ] && echo 0 >"$BACKING_FAIL/probability"
	kmem_fail_off
	echo "$mf_recovery0" >"$MF_RECOVERY"
	echo "$mf_early0" >"$MF_EARLY"
	# (f) disables the region: a failure there must not leave it so
	ndctl enable-region "$region" >/dev/null 2>&1
	kmem_cleanup_end "$dax"
}
trap cleanup EXIT

# late kills: the holder of (a)-(e) reads its buffer before it is told
echo 0 >"$MF_EARLY" || ktap_exit_fail_msg "cannot set $MF_EARLY"
params_set() {
	kmem_param_set offline_timeout_ms 3000 && kmem_param_set unplug_retries 2 &&
		kmem_param_set retry_max_delay_ms 8000
}
check "kmem.offline_timeout_ms=3000, unplug_retries=2, retry_max_delay_ms=8000" params_set


# new_ns: a devdax namespace filling $region, online_movable at bind;
# sets ns, dax, s, e, node, nb and the baseline (base, hwc0).
new_ns() {
	devdax_ns || return 1
	read -r s e < <(kmem_span "$dax")
	nb=$(kmem_nblocks "$s" "$e")
	node=$(dax_attr "$dax" target_node)
	dax_unbind_any "$dax" || return 1
	base=$(meminfo_kb MemTotal)
	hwc0=$(meminfo_kb HardwareCorrupted)
	msg "$ns, $dax: $nb blocks, $(printf '%#x-%#x' "$s" $((e - 1))), node $node"
	[ ! -e "$SYS_DAX/devices/$dax/online_policy" ] ||
		expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable
}

# bind_pinned [OPTION]: bind, then page_pin with OPTION (-c or -e). The pin
# starts even if the device's state is wrong, so that the cases after it
# show what the kernel does with a holder; the check fails all the same.
bind_pinned() {
	local rc=0

	kmem_bind_movable "$dax" "$s" "$e" || return 1
	state_is online_movable "$dax" "$s" "$e" "$base" || rc=1
	start_pin vmsplice "$BUF_SIZE" -u "$FREE_SIZE" "$1" || return 1
	pfns_in_device
	msg "buffer pages in memory blocks: ${pinned:-none} (of $nb)"
	eq "pages with a pfn" "$pfns_total" "$BUF_PAGES" &&
		eq "buffer pages in $dax" "$pfns_in" "$pfns_total" || rc=1
	return $rc
}

# stop_checked INTACT AR: page_pin reads its buffer (-c) and drains the
# pipe; INTACT pages read as written and AR gave SIGBUS BUS_MCEERR_AR.
stop_checked() {
	local line

	stop_pin || return 1
	line=$(grep '^checked ' "$OUT")
	msg "page_pin: $line"
	eq "pages read as written" "$(kv "$line" intact)" "$1" &&
		eq "pages giving SIGBUS BUS_MCEERR_AR" "$(kv "$line" sigbus_ar)" "$2" &&
		eq "bad pages" "$(kv "$line" bad)" 0
}

# released: no retained memory within 30 s, then nothing of the device in
# memory, MemTotal, /proc/iomem and HardwareCorrupted at the baseline, and
# no page of the range reachable by a pfn walker.
released() {
	wait_until 30 retained_none || { msg "still retained: $(kmem_retained)"; return 1; }
	kmem_gone "$s" "$e" "$base" &&
		eq "System RAM (kmem) in /proc/iomem" "$(iomem_lines 'System RAM (kmem)')" "" &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" "$hwc0" &&
		kpf_unreachable "$s" "$e"
}

new_ns || ktap_exit_fail_msg "cannot set up a namespace on $region"

# --- (b)-(e) the provider tears the device down ---
# First, before (a): on the stock kernel the memory of a device torn down
# (or unbound) while online stays System RAM until the next reboot, and the
# cases after the first such removal find the region's range still in use.

check "bind online_movable, $BUF_SIZE on the device, half of it pinned in a pipe" bind_pinned -c

kmsg_mark "loss-$$"
check "teardown with the pin held, vm.memory_failure_recovery=0: kmem told once, no panic" \
	teardown "loss-$$"
check "teardown: the pinned pages, only those, were taken from their users (kernel log)" \
	eq "pages revoked" "$(revoked_logged "loss-$$")" "$PIN_PAGES"

# held_by_pipe PAGES: the blocks are retained by the pipe's poisoned pages,
# PAGES of them.
held_by_pipe() {
	retained_single || return 1
	errno_is "$rt_errno" EBUSY 16 || { msg "errno $rt_errno, want EBUSY"; return 1; }
	eq "reason" "$rt_reason" "unmovable page" &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" \
			$((hwc0 + $1 * PAGE / 1024))
}
check "teardown: the pipe's references keep the blocks (EBUSY), poisoned" \
	held_by_pipe "$PIN_PAGES"
check "teardown: SIGBUS BUS_MCEERR_AR on every pinned page, the rest reads as written" \
	stop_checked $((BUF_PAGES - PIN_PAGES)) "$PIN_PAGES"
check "teardown: the drained pipe lets the memory go, all at the baseline" released

# --- (a) a plain unbind never revokes ---

plain_pinned() {
	run ndctl destroy-namespace -f "$ns" && new_ns && bind_pinned -c
}
check "new namespace, bound, $BUF_SIZE on it, half pinned in a pipe" plain_pinned
kmsg_mark "plain-$$"
plain_retains() {
	kmem_unbind "$dax" && retained_single || return 1
	eq "reason" "$rt_reason" "migration timeout" &&
		eq "pages revoked (kernel log)" "$(revoked_logged "plain-$$")" 0 &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" "$hwc0"
}
check "plain unbind with the pin held: retained, nothing revoked" plain_retains
check "plain unbind: the holder reads all $BUF_PAGES pages as written" \
	stop_checked "$BUF_PAGES" 0
check "plain unbind: the drained pipe lets the memory go, all at the baseline" released

# --- (f) an early-kill holder dies, and the block goes at once ---

early_pinned() {
	run ndctl destroy-namespace -f "$ns" && new_ns && bind_pinned -e &&
		uuid=$(ndctl list -n "$ns" | json_field uuid)
}
check "new namespace, bound, $BUF_SIZE on it, half pinned by an early-kill holder" early_pinned
kmsg_mark "early-$$"
check "early-kill holder: $region disabled (taken from nd_region), kmem told once" \
	teardown "early-$$" "" region
early_gone() {
	local rc n

	wait_exit "$pin_pid" 30
	rc=$?
	pin_pid=
	msg "page_pin: $(tail -n 1 "$OUT")"
	# the pinned pages its exit freed before the revocation got to them
	# were not taken: between one and all of them
	n=$(revoked_logged "early-$$")
	msg "pages revoked: $n of $PIN_PAGES"
	eq "page_pin exit status (128 + SIGBUS)" "$rc" $((128 + $(kill -l BUS))) &&
		[ "$n" -ge 1 ] && [ "$n" -le "$PIN_PAGES" ] &&
		retained_empty && kmem_gone "$s" "$e" "$base" &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" "$hwc0"
}
check "early-kill holder killed by SIGBUS; the same teardown removed everything" early_gone
# region_back: the namespace comes back with the region (by its uuid: its
# name is the lowest free id again), nothing of it is memory.
region_back() {
	run ndctl enable-region "$region" || return 1
	ns=$(ndctl list -N -r "$region" | json_field dev)
	eq "uuid of $region's namespace ${ns:-(none)}" \
		"$(ndctl list -n "$ns" | json_field uuid)" "$uuid" &&
		kmem_gone "$s" "$e" "$base"
}
check "ndctl enable-region: the namespace is back, no memory added" region_back

# --- (g) the memory fails: nothing is migrated, every page is taken ---

failed_pinned() {
	run ndctl destroy-namespace -f "$ns" && new_ns &&
		expect_write OK "$SYS_DAX/devices/$dax/memmap" dram && bind_pinned -c
}
check "new namespace, memmap in DRAM, bound, $BUF_SIZE on it, half pinned in a pipe" \
	failed_pinned

MEMMAP_READ="the memmap of the failed memory is on the device: removing the memory reads it"
# failed_teardown TAG MEMMAP_LINES: the teardown after backing_fails, kmem
# told of the failure (it returns EOPNOTSUPP) and not of the teardown;
# MEMMAP_LINES: kmem's lines saying it reads the memmap on the device.
failed_teardown() {
	local rc=0

	backing_fails && teardown "$1" "the provider reports a failure of the device's memory" ||
		rc=1
	echo 0 >"$BACKING_FAIL/probability"
	[ $rc = 0 ] &&
		eq "fail_dax_backing lines" "$(kmsg_since "$1" |
			grep -c "$dax: fail_dax_backing: memory lost (holder: -95)\$")" 1 &&
		eq "teardown lines after the failure" \
			"$(kmsg_since "$1" | grep -c "kmem: $dax: the provider is removing")" 0 &&
		eq "memmap lines" "$(kmsg_since "$1" | grep -c "kmem: $dax: $MEMMAP_READ\$")" "$2"
}
kmsg_mark "failed-$$"
check "failed memory: the teardown tells kmem of the failure first, no panic" \
	failed_teardown "failed-$$" 0
check "failed memory: every page of the buffer taken, pinned or not (kernel log)" \
	eq "pages revoked" "$(revoked_logged "failed-$$" failed)" "$BUF_PAGES"
check "failed memory: the pipe's references keep the blocks (EBUSY), poisoned" \
	held_by_pipe "$BUF_PAGES"
check "failed memory: SIGBUS BUS_MCEERR_AR on every page, none read" \
	stop_checked 0 "$BUF_PAGES"
check "failed memory: the drained pipe lets the memory go, all at the baseline" released

# --- (h) the same with the memmap in the reservation: kmem says so ---

resv_bound() {
	run ndctl destroy-namespace -f "$ns" && new_ns &&
		eq "$dax memmap" "$(read_word "$SYS_DAX/devices/$dax/memmap")" reservation &&
		kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "new namespace, memmap in the reservation, bound online_movable" resv_bound
kmsg_mark "resv-$$"
resv_failed() {
	failed_teardown "resv-$$" 1 && released
}
check "failed memory, memmap on the device: kmem says it reads it once, the memory goes" \
	resv_failed

# --- (i) after a loss, nothing of the device goes online again ---

offline_bound() {
	run ndctl destroy-namespace -f "$ns" && new_ns &&
		expect_write OK "$SYS_DAX/devices/$dax/online_policy" offline &&
		kmem_bind "$dax" && state_is offline "$dax" "$s" "$e" "$base"
}
check "new namespace, bound with online_policy offline: every block present, offline" \
	offline_bound
# lost_offline: the first block's unplug fails from now on; the teardown
# removes the others and retains it, offline.
lost_offline() {
	first=$(blocks_of "$s" "$e" | head -n 1)
	kmem_fail_at "$(block_addr "${first##*memory}" "$s" "$e")" && teardown "$1" &&
		retained_single || return 1
	eq "reason" "$rt_reason" injected &&
		eq "retained present bytes" "$rt_present" \
			"$(block_part "${first##*memory}" "$s" "$e")" &&
		eq "${first##*/} state" "$(read_word "$first/state")" offline
}
kmsg_mark "lostoff-$$"
check "teardown, first block's unplug failing: the others go, it is retained offline" \
	lost_offline "lostoff-$$"
# online_after_loss: every online of the retained block fails with ENXIO,
# kmem's log line says why, and the block stays offline.
online_after_loss() {
	local w rc=0

	kmsg_mark "online-lost-$$"
	for w in online_movable online; do
		eq "${first##*/}/state $w" "$(sysfs_err "$first/state" "$w")" ENXIO || rc=1
	done
	eq "${first##*/} state" "$(read_word "$first/state")" offline || rc=1
	eq "kmem's lines for the refusals" "$(kmsg_since "online-lost-$$" |
		grep -c "kmem: $dax: block .*: online refused (-6): the device is going away")" 2 ||
		rc=1
	return $rc
}
check "after the loss an online of the retained block fails with ENXIO, changes nothing" \
	online_after_loss
lost_released() {
	kmem_fail_at 0 && released
}
check "injection off: the retry removes the block, all at the baseline" lost_released

again() {
	run ndctl destroy-namespace -f "$ns" || return 1
	new_ns || return 1
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base" &&
		kmem_unbind "$dax" && retained_empty && kmem_gone "$s" "$e" "$base"
}
check "a new namespace on $region binds online_movable and unbinds clean" again
ktap_finished
