#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Pages that cannot move, in ZONE_MOVABLE. page_pin -m vmsplice splices a
# buffer bound to the device's node into a pipe and leaves it there: the
# pipe holds a reference on each page, so migrating those pages fails and
# offlining their memory block retries until the driver's deadline
# (kmem.offline_timeout_ms, 2 s here), then fails with ETIMEDOUT,
# "migration timeout". The small region, online_movable:
#  (a) unbind with the pin held: the blocks holding pinned pages are
#      retained and listed in drivers/kmem/retained (errno, pfn, reason),
#      every other block goes, MemTotal and /proc/iomem count exactly what
#      stays, kmem cannot be unloaded;
#  (b) a bind re-adopts the retained blocks, the next unbind retains them
#      again;
#  (c) once the pin is released the background retry removes them:
#      MemTotal and /proc/iomem back at the baseline, and kmem unloads.
#      retry_max_delay_ms=8000: the retry's gaps grow 1, 2, 4, 8, 8 s, so
#      the views of (a) and (b) find a gap between two attempts longer
#      than they take (kmem_settled; with gaps of 1 s they did not, under
#      TCG, five times running), and the removal comes within 10 s;
#  (d) page_pin -m iouring: a long-term pin (an io_uring fixed buffer)
#      migrates the pages out of ZONE_MOVABLE before pinning them, so the
#      buffer is off the device and the unbind removes everything at once.
#      Skipped when io_uring is not available.
# Only ZONE_MOVABLE is used. Runs before the tests that put memory into a
# kernel zone: the long-term pin must find no kernel zone on the node.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write page_pin
require_region small
PAGE=$(getconf PAGESIZE)
# one pipe slot a page: 1 MiB fits into the default fs.pipe-max-size
PIN_SIZE=1M
PIN_PAGES=$(((1 << 20) / PAGE))
URING_SIZE=16M
URING_PAGES=$(((16 << 20) / PAGE))
PFNS=/tmp/kmem_pin.$$.pfns
OUT=/tmp/kmem_pin.$$.out
# the kernel log of the latest unbind starts at this mark (others_gone)
UNBIND_MARK=

ktap_print_header
ktap_set_plan 16
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

pin_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	[ -n "$pin_pid" ] && kill -KILL "$pin_pid" 2>/dev/null && wait "$pin_pid" 2>/dev/null
	rm -f "$PFNS" "$OUT"
	kmem_cleanup_end "$dax"
}
trap cleanup EXIT

kmem_new_unbound online_movable
if ! kmem_param_set offline_timeout_ms 2000 || ! kmem_param_set unplug_retries 2 ||
   ! kmem_param_set retry_max_delay_ms 8000; then
	ktap_exit_fail_msg "cannot set the kmem parameters"
fi

bind_movable_whole() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bind with policy online_movable: every block online in ZONE_MOVABLE" bind_movable_whole

# --- (a) a vmsplice pin held over the unbind ---

vmsplice_pin() {
	start_pin vmsplice "$PIN_SIZE" || return 1
	pfns_in_device
	msg "pinned pages in memory blocks: ${pinned:-none} (of $nb)"
	eq "pages with a pfn" "$pfns_total" "$PIN_PAGES" &&
		eq "pinned pages in $dax" "$pfns_in" "$pfns_total" && [ -n "$pinned" ]
}
check "vmsplice pin: $PIN_SIZE on node $node, every page in $dax" vmsplice_pin

# retained_listed: drivers/kmem/retained has one line, the device's, as
# documented: the device's range and node, present_bytes the blocks still
# present, errno ETIMEDOUT ("migration timeout": offline_pages() runs with
# the LRU caches disabled, so a page whose migration failed is back on the
# LRU at once and the migration loop meets the deadline; in ZONE_MOVABLE
# no page is taken for unmovable, so there is no EBUSY), the pfn one of the
# pinned pages; every block with pinned pages is present, in ZONE_MOVABLE.
retained_listed() {
	local b rc=0

	retained_single || return 1
	retained_whole "$s" "$e" "$node" || rc=1
	blocks_census "$s" "$e"
	eq "present_bytes" "$rt_present" "$bc_present_bytes" || rc=1
	eq "retained blocks in ZONE_MOVABLE" "$bc_movable" "$bc_present" ||
		{ msg "blocks:$bc_desc"; rc=1; }
	errno_is "$rt_errno" ETIMEDOUT 110 || { msg "errno $rt_errno, want ETIMEDOUT"; rc=1; }
	eq "reason" "$rt_reason" "migration timeout" || rc=1
	failure_pfn_ok "$rt_reason" "$rt_pfn" || return 1
	b=$((rt_pfn * PAGE / KMEM_MB))
	if [ $((rt_pfn * PAGE)) -lt "$s" ] || [ $((rt_pfn * PAGE)) -ge "$e" ] ||
	   [ ! -d "$SYS_MEM/memory$b" ]; then
		msg "pfn $(printf '%#x' "$rt_pfn") is not in a retained block"
		rc=1
	fi
	grep -qix "$(printf '%#x' "$rt_pfn")" "$PFNS" ||
		{ msg "pfn $(printf '%#x' "$rt_pfn") is not one of the pinned pages"; rc=1; }
	for b in $pinned; do
		[ -d "$SYS_MEM/memory$b" ] || { msg "memory$b (pinned) is gone"; rc=1; }
	done
	return $rc
}

# unbind_pinned: unbind, then retained_listed. From now on the background
# retry tries to offline the retained blocks, 2 s a block, with growing
# gaps: views of their state are taken between two attempts (kmem_settled).
unbind_pinned() {
	local t0=$SECONDS

	UNBIND_MARK=kmem-pin-unbind1-$$
	kmsg_mark "$UNBIND_MARK"
	kmem_unbind "$dax" || return 1
	msg "unbind took $((SECONDS - t0)) s"
	kmem_settled retained_listed
}

others_gone() {
	local b l rc=0

	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		is_pinned "$b" && continue
		[ -d "$SYS_MEM/memory$b" ] || continue
		msg "memory$b holds no pinned page and is still present:" \
		    "$(cat "$SYS_MEM/memory$b/"{state,valid_zones} 2>&1 | tr '\n' ' ')"
		rc=1
	done
	[ $rc = 0 ] && return 0
	msg "retained: $(kmem_retained | tr '\n' '|')"
	kmem_why "$UNBIND_MARK" | while IFS= read -r l; do msg "  $l"; done
	return 1
}

# readopt: bind again: the retained blocks are the device's again, and,
# on the device's terms (online_policy online_movable), so are the others:
# the whole device online_movable.
readopt() {
	local b before rc=0

	before=$(kmem_present_blocks "$s" "$e")
	kmem_bind "$dax" || return 1
	retained_empty || rc=1
	eq "$dax state" "$(dax_state "$dax")" online_movable || rc=1
	kmem_consistent "$dax" "$s" "$e" "$base" || rc=1
	for b in $before; do
		[ -d "$SYS_MEM/memory$b" ] || { msg "memory$b (retained) is gone"; rc=1; }
	done
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e - s)) || rc=1
	return $rc
}

# unbind_again: the blocks with pinned pages are retained again, the others
# go.
unbind_again() {
	local rc=0 t0=$SECONDS

	UNBIND_MARK=kmem-pin-unbind2-$$
	kmsg_mark "$UNBIND_MARK"
	kmem_unbind "$dax" || return 1
	msg "unbind took $((SECONDS - t0)) s"
	kmem_settled retained_listed || rc=1
	others_gone || rc=1
	return $rc
}

if [ -n "$pinned" ]; then
	check "pin held, unbind: blocks with pinned pages retained, listed: errno, reason, pfn" \
		unbind_pinned
	check "pin held, unbind: every other block removed" others_gone
	check "pin held, unbind: MemTotal and /proc/iomem count exactly the retained blocks" \
		kmem_settled kmem_consistent "$dax" "$s" "$e" "$base"
	check "pin held, memory retained: modprobe -r kmem fails" kmem_rmmod_refused
	check "pin held, bind again: retained memory re-adopted, the rest added, retained empty" \
		readopt
	check "pin held, unbind again: pinned blocks retained again, the others gone" unbind_again
else
	for w in "pin held, unbind: blocks with pinned pages retained" \
		 "pin held, unbind: every other block removed" \
		 "pin held, unbind: MemTotal and /proc/iomem count the retained blocks" \
		 "pin held, memory retained: modprobe -r kmem fails" \
		 "pin held, bind again: retained memory re-adopted" \
		 "pin held, unbind again: retained again"; do
		ktap_test_skip "$w: no page pinned in $dax"
	done
	kmem_bound "$dax" && kmem_unbind "$dax" >/dev/null
fi

# --- (c) the pin released ---

if [ -n "$pin_pid" ]; then
	check "pin released: page_pin drains the pipe and exits 0" stop_pin
else
	ktap_test_skip "pin released: page_pin drains the pipe and exits 0: no pin"
fi

background() {
	local t0=$SECONDS

	wait_until 60 retained_none ||
		{ msg "still retained after 60 s: $(kmem_retained | tr '\n' '|')"; return 1; }
	msg "nothing retained after $((SECONDS - t0)) s"
	kmem_gone "$s" "$e" "$base" && iomem_is "$IOMEM0"
}
check "pin released: background retry removes it in 60 s, MemTotal and /proc/iomem at baseline" \
	background

module_unloads() {
	run modprobe -r kmem && ! kmem_loaded
}
check "nothing retained: modprobe -r kmem works" module_unloads
modprobe kmem || ktap_exit_fail_msg "cannot load kmem again"

# --- (d) a long-term pin: io_uring fixed buffer ---

check "bind again, online_movable: every block online in ZONE_MOVABLE" bind_movable_whole

# uring_off_device: a buffer faulted in on the device's node, registered
# as an io_uring fixed buffer; afterwards no page of it is in the device.
uring_skip=
uring_off_device() {
	local f

	if ! start_pin iouring "$URING_SIZE"; then
		# ENOSYS: no io_uring; EPERM: kernel.io_uring_disabled
		if [ "$pin_rc" = 4 ] &&
		   grep -qE '^io_uring_setup: (Function not implemented|Operation not permitted)$' \
			"$OUT"; then
			uring_skip="io_uring not available ($(grep '^io_uring_setup' "$OUT"))"
		fi
		return 1
	fi
	f=$(grep '^faulted ' "$OUT")
	msg "before the registration: $f"
	eq "pages faulted in on node $node" "$(kv "$f" "node$node")" "$URING_PAGES" || return 1
	pfns_in_device
	eq "registered pages with a pfn" "$pfns_total" "$URING_PAGES" &&
		eq "registered pages still in $dax" "$pfns_in" 0
}
WHAT="io_uring: $URING_SIZE faulted in on node $node, registered: migrated off $dax"
if uring_off_device; then
	ktap_test_pass "$WHAT"
elif [ -n "$uring_skip" ]; then
	ktap_test_skip "$WHAT: $uring_skip"
else
	ktap_test_fail "$WHAT"
fi

unbind_at_once() {
	kmem_unbind "$dax" && retained_empty && kmem_gone "$s" "$e" "$base" &&
		iomem_is "$IOMEM0"
}
if [ -n "$uring_skip" ]; then
	ktap_test_skip "io_uring: unbind with the buffer registered: $uring_skip"
	ktap_test_skip "io_uring: unregistered, page_pin exits 0: $uring_skip"
	kmem_unbind "$dax" >/dev/null
else
	check "io_uring: unbind, buffer registered: all removed at once, at the baseline" \
		unbind_at_once
	check "io_uring: unregistered, page_pin exits 0" stop_pin
fi

baseline() {
	retained_empty && kmem_gone "$s" "$e" "$base" && iomem_is "$IOMEM0" &&
		run modprobe -r kmem && ! kmem_loaded && run modprobe kmem
}
check "baseline: nothing retained, MemTotal and /proc/iomem as before, kmem unloads" baseline

cleanup
ktap_finished
