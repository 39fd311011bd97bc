#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real multi-range device, end to end. The VM (vm.sh check) converts
# 512 MiB of node 0's RAM to Soft Reserved (memmap=512M%2G-1+0xefffffff),
# which dax_hmem turns into a dynamic dax region. Three devices of one
# memory block each are made in it, the first is shrunk to nothing and the
# second grown to three blocks: its ranges are then, in the device's order,
# [+128M, +256M), [+0, +128M) and [+384M, +512M), with the third device's
# range [+256M, +384M) between them. That device bound to kmem:
#  - System RAM (kmem) covers exactly its three ranges, never the third
#    device's;
#  - an injected failure in its second range (the lowest addresses): the
#    unbind retains that block; drivers/kmem/retained lists the three
#    ranges in the device's order (no start > end, nothing of the other
#    device), and the kernel log names the retained range alone;
#  - a bind re-adopts it; without the injection the unbind removes all.

DIR=$(dirname "$0")
# shellcheck source=dax_lib.sh
. "$DIR/dax_lib.sh"

require_root
modprobe dax_hmem 2>/dev/null
modprobe kmem 2>/dev/null

# hmem_dax: the dax device of the hmem region with id 0 in its name.
hmem_dax() {
	local d

	for d in "$SYS_DAX"/devices/dax*.0; do
		[ -e "$d" ] || continue
		case $(readlink -f "$d") in
		*/hmem.*) echo "${d##*/}"; return 0 ;;
		esac
	done
	return 1
}

if ! seed=$(hmem_dax); then
	ktap_skip_all "no hmem dax device (memmap=...%...+0xefffffff)"
	exit "$KSFT_SKIP"
fi
# the region's attributes are on the device's parent (hmem.N)
region=$(dirname "$(readlink -f "$SYS_DAX/devices/$seed")")/dax_region
[ -d "$region" ] || { ktap_skip_all "no $region"; exit "$KSFT_SKIP"; }
rid=${seed%.0}
rid=${rid#dax}
reg_size=$(cat "$region/size")
[ "$reg_size" -ge $((4 * KMEM_MB)) ] ||
	{ ktap_skip_all "hmem region of $reg_size bytes, 4 blocks needed"; exit "$KSFT_SKIP"; }
[ -e "$KMEM_FAIL/block" ] ||
	{ ktap_skip_all "no $KMEM_FAIL/block"; exit "$KSFT_SKIP"; }

ktap_print_header
ktap_set_plan 9

seed_drv=$(dax_drv_of "$seed")
seed_size=$(cat "$SYS_DAX/devices/$seed/size")
msg "$seed: $seed_size of $reg_size bytes, driver $seed_drv"
made=()

# dax_size DAX BYTES: resize an unbound device.
dax_size() {
	expect_write OK "$SYS_DAX/devices/$1/size" "$2"
}

dax_names() {
	local d

	for d in "$SYS_DAX"/devices/dax"$rid".*; do
		echo "${d##*/}"
	done | sort
}

# dax_create: a new device of size 0 in the region; its name in $new.
dax_create() {
	local before

	before=$(dax_names)
	expect_write OK "$region/create" 1 || return 1
	new=$(dax_names | grep -vxF -f <(echo "$before"))
	[ "$(echo "$new" | grep -c .)" = 1 ] ||
		{ msg "new devices in region $rid: '$new'"; return 1; }
	made+=("$new")
}

# ranges_of DAX: its ranges, "start-end" (hex, inclusive) in its order.
ranges_of() {
	local i m

	for ((i = 0; ; i++)); do
		m=$SYS_DAX/devices/$1/mapping$i
		[ -d "$m" ] || break
		printf '%x-%x\n' "$(cat "$m/start")" "$(cat "$m/end")"
	done
}

cleanup() {
	local d

	kmem_fail_off
	for d in "${made[@]}" "$seed"; do
		kmem_bound "$d" && sysfs_err "$KMEM_DRV/unbind" "$d" >/dev/null
		dax_unbind_any "$d" >/dev/null 2>&1
		sysfs_err "$SYS_DAX/devices/$d/size" 0 >/dev/null
	done
	for d in "${made[@]}"; do
		sysfs_err "$region/delete" "$d" >/dev/null
	done
	sysfs_err "$SYS_DAX/devices/$seed/size" "$seed_size" >/dev/null
	[ "$seed_drv" != none ] && sysfs_err "$SYS_DAX/drivers/$seed_drv/bind" "$seed" >/dev/null
}
trap cleanup EXIT

# --- the layout ---

layout() {
	local a b

	dax_unbind_any "$seed" >/dev/null 2>&1
	# the baseline with nothing of the region in use
	base=$(meminfo_kb MemTotal)
	dax_size "$seed" 0 && dax_size "$seed" "$KMEM_MB" || return 1
	dax_create && a=$new && dax_size "$a" "$KMEM_MB" || return 1
	dax_create && b=$new && dax_size "$b" "$KMEM_MB" || return 1
	dax_size "$seed" 0 && dax_size "$a" $((3 * KMEM_MB)) || return 1
	dax=$a
	other=$b
	ra=$(ranges_of "$dax" | tr '\n' ',' | sed 's/,$//')
	rb=$(ranges_of "$other")
	msg "$dax: $ra; $other: $rb"
	expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable || return 1
	reg0=$((16#$(ranges_of "$dax" | sed -n 2p | cut -d- -f1)))
	eq "ranges of $dax" "$ra" "$(printf '%x-%x,%x-%x,%x-%x' \
		$((reg0 + KMEM_MB)) $((reg0 + 2 * KMEM_MB - 1)) \
		"$reg0" $((reg0 + KMEM_MB - 1)) \
		$((reg0 + 3 * KMEM_MB)) $((reg0 + 4 * KMEM_MB - 1)))" &&
		eq "range of $other" "$rb" \
			"$(printf '%x-%x' $((reg0 + 2 * KMEM_MB)) $((reg0 + 3 * KMEM_MB - 1)))"
}
check "hmem region $rid: a device with three ranges out of address order, another between" \
	layout
[ -n "${dax:-}" ] || ktap_exit_fail_msg "no multi-range device"

# kmem_exactly RANGES: System RAM (kmem) is exactly RANGES (sorted by
# address), all under the device, nothing in the other device's range.
kmem_exactly() {
	local got want

	got=$(iomem_kmem_in "$reg0" $((reg0 + 4 * KMEM_MB)) | sort)
	want=$(echo "$1" | tr ',' '\n' | sort)
	same_text "System RAM (kmem) in the hmem region" "$got" "$want"
}

bound_whole() {
	kmem_bind "$dax" || return 1
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((3 * KMEM_MB)) &&
		kmem_exactly "$ra" && memtotal_grew_by $((3 * KMEM_MB / 1024))
}
check "bind: System RAM (kmem) is exactly the three ranges, MemTotal +3 blocks" bound_whole

# --- an injected failure in the second range ---

kmsg_mark hmem_unbind
unbind_retains_range() {
	local rc=0

	kmem_fail_at "$reg0" && kmem_unbind "$dax" || return 1
	retained_single || return 1
	eq "retained ranges, in the device's order" "$rt_ranges" "$ra" || rc=1
	eq "present_bytes" "$rt_present" "$KMEM_MB" || rc=1
	eq "reason" "$rt_reason" injected || rc=1
	kmem_exactly "$(printf '%x-%x' "$reg0" $((reg0 + KMEM_MB - 1)))" || rc=1
	return $rc
}
check "unbind, a block of the second range failing: retained lists the three ranges in order" \
	unbind_retains_range

logged_range_alone() {
	local lines want

	lines=$(kmsg_since hmem_unbind | grep "$dax: retaining")
	msg "log: $lines"
	want=$(printf 'retaining %d bytes of [mem %#x-%#x]' "$KMEM_MB" "$reg0" \
		$((reg0 + KMEM_MB - 1)))
	eq "retaining lines" "$(echo "$lines" | grep -c .)" 1 &&
		grep -qF "$want" <<<"$lines"
}
check "the kernel log names the retained range alone" logged_range_alone

other_untouched() {
	eq "$other driver" "$(dax_drv_of "$other")" none &&
		eq "ranges of $other" "$(ranges_of "$other")" "$rb"
}
check "the device between the ranges is untouched" other_untouched

readopt() {
	kmem_bind "$dax" || return 1
	retained_empty && kmem_exactly "$ra" &&
		eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((3 * KMEM_MB))
}
check "bind again: the retained block re-adopted, the other ranges added" readopt

all_gone() {
	kmem_fail_at 0 && kmem_unbind "$dax" || return 1
	retained_empty && kmem_exactly "" && memtotal_is "$base"
}
check "unbind without the injection: every range removed, MemTotal at the baseline" all_gone

restored() {
	cleanup
	trap - EXIT
	eq "$seed size" "$(cat "$SYS_DAX/devices/$seed/size")" "$seed_size" &&
		eq "$seed driver" "$(dax_drv_of "$seed")" "$seed_drv"
}
check "the region back as it was: $seed of $seed_size bytes, driver $seed_drv" restored
made_gone() {
	[ ! -e "$SYS_DAX/devices/$dax" ] && [ ! -e "$SYS_DAX/devices/$other" ]
}
check "the devices made are gone" made_gone

ktap_finished
