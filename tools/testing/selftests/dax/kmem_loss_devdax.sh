#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A device-dax device goes away while its pages are referenced. A page of
# a device-dax mapping that get_user_pages() took (a pipe after vmsplice,
# an io_uring fixed buffer) stays referenced after the device is unbound
# or unregistered; device_dax must neither free the page's memmap under
# that reference nor let another device take its memory, and ->remove must
# not wait for it. On the small region, a devdax namespace (2 MiB
# alignment), bound to device_dax:
#  (a) page_pin -d maps 2 MiB of the device, splices its first 1 MiB into
#      a pipe, and survives SIGBUS (-s). Unbinding device_dax returns; the
#      holder is told (SIGBUS BUS_MCEERR_AO) while it still maps the page;
#      the kernel log says that the device's one 2 MiB page (512 base
#      pages) is still referenced; HardwareCorrupted does not change and
#      no "recovery action" line is logged (the page is not poisoned);
#  (b) while the pipe holds the page the device's range stays claimed:
#      /proc/iomem still lists the device, binding device_dax again
#      fails with EBUSY, and device_dax cannot be unloaded;
#  (c) the holder's reads of its mapping give SIGBUS BUS_ADRERR (nothing
#      maps the device any more), the pipe still gives the data it took;
#  (d) once the pipe is drained the deferred release frees everything
#      (the kernel log says so, /proc/iomem no longer lists the device),
#      device_dax binds again and the device reads and writes;
#  (e) page_pin -m iouring -d registers the mapping as an io_uring fixed
#      buffer (a long-term pin) and handles no SIGBUS; destroying the
#      namespace (the provider's teardown) kills it with SIGBUS, its ring
#      goes with it, and the device's memory is released (the log says
#      whether within ->remove's wait or deferred: either is correct);
#  (f) a namespace created again on the region works (rc 0), and
#      HardwareCorrupted is at the baseline.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write page_pin dax_rw
require_region small
PAGE=$(getconf PAGESIZE)
BUF_SIZE=2M
BUF_PAGES=$(((2 << 20) / PAGE))
# one pipe slot a page: 1 MiB fits into the default fs.pipe-max-size
FREE_SIZE=1M
PFNS=/tmp/kmem_loss_devdax.$$.pfns
OUT=/tmp/kmem_loss_devdax.$$.out
DEVDAX_DRV=$SYS_DAX/drivers/device_dax
# start_pin's node: unused with -d
node=0
# the killed holder: no core dump of the device's pages
ulimit -c 0

ktap_print_header
ktap_set_plan 14
kmem_reset

pin_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	pin_kill
	# a page left referenced keeps the range: wait for the release
	[ -n "$dax" ] && wait_until 30 unclaimed
	kmem_reset
}
trap cleanup EXIT

# new_ns: a devdax namespace filling $region, bound to device_dax; sets
# ns, dax and the baseline hwc0.
new_ns() {
	devdax_ns || return 1
	if [ "$(dax_drv_of "$dax")" != device_dax ]; then
		dax_unbind_any "$dax" &&
			expect_write OK "$DEVDAX_DRV/bind" "$dax" || return 1
	fi
	hwc0=$(meminfo_kb HardwareCorrupted)
	msg "$ns, $dax on device_dax: $(iomem_lines "$dax" | tr -s ' ' | tr '\n' ' ')"
}

# claimed / unclaimed: /proc/iomem lists $dax once / not at all.
claimed() {
	[ "$(iomem_lines "$dax" | wc -l)" = 1 ]
}

unclaimed() {
	[ -z "$(iomem_lines "$dax")" ]
}

# referenced_logged TAG: the pages device_dax's log lines since TAG say
# were still referenced at its removal, summed.
referenced_logged() {
	kmsg_since "$1" |
		sed -n "s/.* $dax: \\([0-9]*\\) pages still referenced, first at .*/\\1/p" |
		awk '{ n += $1 } END { print n + 0 }'
}

released_logged() {
	kmsg_since "$1" | grep -c " $dax: pages released: memmap and ranges freed\$"
}

# not_poisoned TAG: no hwpoison count and no memory_failure() recovery
# line for the device's pages since TAG.
not_poisoned() {
	eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" "$hwc0" &&
		eq "\"recovery action for dax page\" lines" \
			"$(kmsg_since "$1" | grep -c 'recovery action for dax page')" 0
}

new_ns || ktap_exit_fail_msg "cannot set up a devdax namespace on $region"

# --- (a)-(d) device_dax unbound while a pipe holds a page ---

check "$BUF_SIZE of $dax mapped, $FREE_SIZE of it spliced into a pipe" \
	start_pin vmsplice "$BUF_SIZE" -d "/dev/$dax" -u "$FREE_SIZE" -s -c
kmsg_mark "unbind-$$"
unbind_referenced() {
	expect_write OK "$DEVDAX_DRV/unbind" "$dax" &&
		eq "driver of $dax" "$(dax_drv_of "$dax")" none &&
		eq "pages still referenced (kernel log)" \
			"$(referenced_logged "unbind-$$")" "$BUF_PAGES" &&
		eq "released (kernel log)" "$(released_logged "unbind-$$")" 0
}
check "device_dax unbind returns; the log says the 2 MiB page is still referenced" \
	unbind_referenced
check "unbind: the page is not poisoned (HardwareCorrupted, no recovery line)" \
	not_poisoned "unbind-$$"
kept_claimed() {
	claimed || { msg "/proc/iomem lines of $dax: $(iomem_lines "$dax" | wc -l)"; return 1; }
	expect_write EBUSY "$DEVDAX_DRV/bind" "$dax" &&
		eq "driver of $dax" "$(dax_drv_of "$dax")" none || return 1
	if modprobe -r device_dax 2>/dev/null; then
		msg "device_dax was unloaded"
		return 1
	fi
	grep -q '^device_dax ' /proc/modules || { msg "device_dax is not loaded"; return 1; }
}
check "while referenced: /proc/iomem keeps $dax, bind gives EBUSY, device_dax stays loaded" \
	kept_claimed
# told_and_checked: page_pin says what SIGBUS it had while waiting, what
# its reads gave, drains the pipe (checking its data) and exits 0.
told_and_checked() {
	local told line

	stop_pin || return 1
	told=$(grep '^told ' "$OUT")
	line=$(grep '^checked ' "$OUT")
	msg "page_pin: $told; $line"
	[ "$(kv "$told" ao)" -ge 1 ] 2>/dev/null ||
		{ msg "no SIGBUS BUS_MCEERR_AO: $told"; return 1; }
	eq "other SIGBUS while waiting" "$(kv "$told" other)" 0 &&
		eq "pages read as written" "$(kv "$line" intact)" 0 &&
		eq "pages giving SIGBUS BUS_ADRERR" "$(kv "$line" sigbus_adr)" "$BUF_PAGES" &&
		eq "bad pages" "$(kv "$line" bad)" 0
}
check "holder told (SIGBUS BUS_MCEERR_AO), reads give BUS_ADRERR, the pipe's data intact" \
	told_and_checked
released_late() {
	wait_until 30 unclaimed ||
		{ msg "/proc/iomem still lists $dax"; return 1; }
	eq "released (kernel log)" "$(released_logged "unbind-$$")" 1
}
check "the drained pipe lets the deferred release free the memmap and the range" released_late
rebound() {
	expect_write OK "$DEVDAX_DRV/bind" "$dax" &&
		run "$DAX_DIR/dax_rw" "/dev/$dax" $((4 << 20)) 7
}
check "device_dax binds $dax again, its memory reads and writes" rebound

# --- (e) the provider's teardown under a long-term pin ---

check "$BUF_SIZE of $dax registered as an io_uring fixed buffer" \
	start_pin iouring "$BUF_SIZE" -d "/dev/$dax"
kmsg_mark "destroy-$$"
check "namespace destroyed with the pin held (rc 0)" run ndctl destroy-namespace -f "$ns"
holder_killed() {
	local rc

	wait_exit "$pin_pid" 30
	rc=$?
	pin_pid=
	eq "page_pin exit status (128 + SIGBUS)" "$rc" $((128 + $(kill -l BUS)))
}
check "the io_uring holder is killed by SIGBUS" holder_killed
released_any() {
	local n

	wait_until 30 unclaimed ||
		{ msg "/proc/iomem still lists $dax"; return 1; }
	n=$(referenced_logged "destroy-$$")
	if [ "$n" = 0 ]; then
		msg "branch: the pin was dropped within ->remove's wait"
		eq "released lines (kernel log)" "$(released_logged "destroy-$$")" 0
	else
		msg "branch: deferred ($n pages still referenced at ->remove)"
		eq "pages still referenced (kernel log)" "$n" "$BUF_PAGES" &&
			eq "released lines (kernel log)" "$(released_logged "destroy-$$")" 1
	fi
}
check "teardown: the device's memory is released, no resource leaks" released_any
check "teardown: the page is not poisoned (HardwareCorrupted, no recovery line)" \
	not_poisoned "destroy-$$"
nonexistent_none() {
	eq "\"nonexistent resource\" lines" \
		"$(kmsg_since "unbind-$$" | grep -c 'Trying to free nonexistent resource')" 0
}
check "no resource was freed twice (kernel log)" nonexistent_none

# --- (f) the region is usable again ---

again() {
	new_ns && run "$DAX_DIR/dax_rw" "/dev/$dax" $((4 << 20)) 11
}
check "a namespace created again on $region works, its device reads and writes" again

ktap_finished
