#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sub-block System RAM (kmem.subblock=1): every 2 MiB of a dax device
# becomes System RAM, not only its whole memory blocks.
#
# Part 1, a devdax namespace filling the big region: the memory blocks at
# the device's ends are partial (memoryN/present_bytes), MemTotal grows by
# exactly the 2 MiB aligned range, /proc/iomem holds exactly that range;
# with the whole blocks offline, a process's memory sits on the partial
# blocks only, and the unbind migrates it intact and returns MemTotal and
# /proc/iomem to the baseline.
#
# Part 2, four 32 MiB devdax namespaces in one 128 MiB section (nothing of
# them is System RAM with whole blocks): one of them becomes System RAM
# while the other three stay mapped and readable; a second one in the same
# memory block is refused (one sub-block range per block) and changes
# nothing; after the first goes back to devdax (its memmap guard freed),
# the second gets the block.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl
require_progs sysfs_write numa_fill dax_rw
require_region small
small=$region
require_region big
MIB=$((1 << 20))
FILL_OUT=/tmp/kmem_subblock.$$.fill
DAX_RW=$DAX_DIR/dax_rw

ktap_print_header
ktap_set_plan 24
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
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

# block_bytes_ok S E: every memory block [S, E) touches exists and its
# present_bytes is the part of [S, E) inside it.
block_bytes_ok() {
	local b bs want got rc=0

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		bs=$((b * KMEM_MB))
		want=$((($2 < bs + KMEM_MB ? $2 : bs + KMEM_MB) - ($1 > bs ? $1 : bs)))
		got=$(read_word "$SYS_MEM/memory$b/present_bytes")
		eq "memory$b/present_bytes" "$got" "$want" || rc=1
	done
	return $rc
}

# iomem_exact DAX S E: the System RAM (kmem) resources under DAX cover
# exactly [S, E), with no gap and nothing outside it.
iomem_exact() {
	local st en parent next=$2 rc=0

	while read -r st en parent; do
		[ "$parent" = "$1" ] || continue
		st=$((16#$st)) en=$((16#$en + 1))
		if [ "$st" != "$next" ]; then
			msg "System RAM (kmem) of $1 at $(printf '%#x' "$st")," \
				"want $(printf '%#x' "$next")"
			rc=1
		fi
		next=$en
	done < <(iomem_kmem_all | sort)
	eq "end of $1's System RAM (kmem)" "$(printf '%#x' "$next")" "$(printf '%#x' "$3")" || rc=1
	return $rc
}

# blocks_in S E STATE [ZONE]: every memory block [S, E) touches is STATE
# (and its valid_zones ZONE) and on node 1.
blocks_in() {
	local b st z rc=0

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		st=$(read_word "$SYS_MEM/memory$b/state")
		eq "memory$b state" "$st" "$3" || rc=1
		if [ -n "${4:-}" ]; then
			z=$(read_word "$SYS_MEM/memory$b/valid_zones")
			eq "memory$b valid_zones" "$z" "$4" || rc=1
		fi
		[ -e "$SYS_NODE/node1/memory$b" ] ||
			{ msg "memory$b is not under node1"; rc=1; }
	done
	return $rc
}

# ---- part 1: a big device with partial blocks at its ends ---------------
check "kmem.subblock=1 accepted" kmem_param_set subblock 1
kmem_new_unbound online_movable
read -r s2 e2 < <(kmem_range_2m "$dax")
whole=$((e - s))
msg "$dax: 2 MiB aligned $(printf '%#x-%#x' "$s2" $((e2 - 1))), $(((e2 - s2) / MIB)) MiB;" \
	"whole blocks $((whole / MIB)) MiB"
head=$(((s2 % KMEM_MB) ? KMEM_MB - s2 % KMEM_MB : 0))
tail=$((e2 % KMEM_MB))
msg "partial head block: $((head / MIB)) MiB, partial tail block: $((tail / MIB)) MiB"

has_partial() {
	[ "$head" -gt 0 ] || [ "$tail" -gt 0 ] ||
		{ msg "$dax has no partial block: nothing to test"; return 1; }
}
check "the device has a partial memory block (layout)" has_partial

check "bind to kmem" kmem_bind "$dax"
check "MemTotal grew by the 2 MiB aligned range, exactly" memtotal_grew_by $(((e2 - s2) / 1024))
check "kmem/present_bytes is the 2 MiB aligned range" \
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e2 - s2))
check "kmem/online_movable_bytes is the 2 MiB aligned range" \
	eq "online_movable_bytes" "$(kmem_attr "$dax" online_movable_bytes)" $((e2 - s2))
check "memoryN/present_bytes: the device's part of every block" block_bytes_ok "$s2" "$e2"
check "every block online in ZONE_MOVABLE on node 1" blocks_in "$s2" "$e2" online Movable
check "/proc/iomem: System RAM (kmem) is exactly the 2 MiB aligned range" \
	iomem_exact "$dax" "$s2" "$e2"

boot_block_whole() {
	eq "memory0/present_bytes" "$(read_word "$SYS_MEM/memory0/present_bytes")" "$KMEM_MB"
}
check "a boot memory block's present_bytes is the block size" boot_block_whole

# Only the partial blocks stay online: the memory a process gets on node 1
# is theirs.
whole_offline() {
	local b

	for ((b = (s2 + KMEM_MB - 1) / KMEM_MB; b < e2 / KMEM_MB; b++)); do
		block_set "$SYS_MEM/memory$b" offline || return 1
	done
	memtotal_grew_by $(((head + tail) / 1024))
}
check "whole blocks offline, the partial ones online: MemTotal = base + partial bytes" whole_offline

fill_partial() {
	local want line

	want=$(((head + tail) / MIB / 2))
	"$DAX_DIR/numa_fill" -n 1 -s $((RANDOM + 1)) "$want" >"$FILL_OUT" 2>&1 &
	fill_pid=$!
	wait_line "$FILL_OUT" '^ready ' 600 "$fill_pid" ||
		{ msg "numa_fill: $(tail -n 2 "$FILL_OUT" | tr '\n' ' ')"; return 1; }
	line=$(grep '^ready ' "$FILL_OUT")
	msg "numa_fill $want MiB: $line"
	eq "pages on node 1" "$(kv "$line" node1)" "$(kv "$line" pages)"
}
check "a process holds memory on the partial blocks" fill_partial

unbind_migrates() {
	local line rc=0

	kmem_unbind "$dax" || rc=1
	kill -USR1 "$fill_pid" 2>/dev/null
	wait_exit "$fill_pid" 600 || rc=1
	fill_pid=
	line=$(grep '^done ' "$FILL_OUT")
	msg "numa_fill: $line"
	eq "words changed" "$(kv "$line" bad)" 0 || rc=1
	eq "pages left on node 1" "$(kv "$line" node1)" 0 || rc=1
	return $rc
}
check "unbind migrates the partial blocks' memory, contents intact" unbind_migrates
check "after unbind: MemTotal at the baseline" memtotal_is "$base"
check "after unbind: /proc/iomem at the baseline" iomem_is "$IOMEM0"
check "after unbind: no memory block of the range left" \
	eq "blocks" "$(kmem_blocks_of "$dax" | tr '\n' ' ')" ""

# ---- part 2: four devdax namespaces in one section ----------------------
kmem_reset
region=$small
declare -a NS DAXES
four_in_one_section() {
	local i j start size first=

	NS=() DAXES=()
	for i in 0 1 2 3; do
		j=$(create_ns "$region" devdax $((32 * MIB)) -a 2M)
		[ -n "$j" ] || { msg "namespace $i not created"; return 1; }
		NS[i]=$(ns_of "$j")
		DAXES[i]=$(dax_of_ns "$j")
		start=$(($(cat "$SYS_ND/${NS[i]}/resource")))
		size=$(cat "$SYS_ND/${NS[i]}/size")
		: "${first:=$((start / KMEM_MB))}"
		if [ $((start / KMEM_MB)) != "$first" ] ||
		   [ $(((start + size - 1) / KMEM_MB)) != "$first" ]; then
			msg "${NS[i]} is not in memory block $first"
			return 1
		fi
	done
	msg "namespaces ${NS[*]} (${DAXES[*]}) in memory block $first"
}
check "four 32 MiB devdax namespaces in one memory block" four_in_one_section

# mapped_ok I...: the devdax devices of namespaces I... read back a pattern
mapped_ok() {
	local i d rc=0

	for i in "$@"; do
		d=${DAXES[i]}
		run "$DAX_RW" "/dev/$d" "$(dax_attr "$d" size)" 0x$RANDOM || rc=1
	done
	return $rc
}

# to_ram I: namespace I's device bound to kmem with online_movable; its
# 2 MiB aligned range is System RAM
to_ram() {
	local d=${DAXES[$1]} s e

	read -r s e < <(kmem_range_2m "$d")
	base=$(meminfo_kb MemTotal)
	expect_write OK "$SYS_DAX/devices/$d/online_policy" online_movable || return 1
	kmem_bind "$d" || return 1
	memtotal_grew_by $(((e - s) / 1024)) &&
		eq "$d present_bytes" "$(kmem_attr "$d" present_bytes)" $((e - s)) &&
		iomem_exact "$d" "$s" "$e"
}
check "namespace 1 becomes System RAM, exactly its 2 MiB aligned range" to_ram 1
check "namespaces 0, 2, 3 stay devdax: mappings read back" mapped_ok 0 2 3

# The block is namespace 1's: binding namespace 2 fails with EEXIST, the
# kernel log names the block and the range it holds, and nothing changes.
second_refused() {
	local d=${DAXES[2]} iomem blk mark=subblock-$$ rc=0

	dax_unbind_any "$d" || return 1
	iomem=$(cat /proc/iomem)
	base=$(meminfo_kb MemTotal)
	blk=$(($(dax_attr "$d" resource) / KMEM_MB))
	expect_write OK "$SYS_DAX/devices/$d/online_policy" online_movable || return 1
	kmsg_mark "$mark"
	kmem_bind "$d" && rc=1
	eq "bind $d to kmem" "$kmem_bind_err" EEXIST || rc=1
	eq "$d driver" "$(dax_drv_of "$d")" none || rc=1
	kmsg_since "$mark" | grep -q "memory block memory$blk exists, for " ||
		{ msg "no kernel log line names memory$blk"; rc=1; }
	memtotal_is "$base" || rc=1
	iomem_is "$iomem" || rc=1
	return $rc
}
check "namespace 2 in the same block: bind fails with EEXIST, nothing changes" second_refused

devdax_again() {
	expect_write OK "$SYS_DAX/drivers/device_dax/bind" "${DAXES[$1]}" && mapped_ok "$1"
}

back_to_devdax() {
	kmem_unbind "${DAXES[$1]}" && devdax_again "$1"
}
check "namespace 2 back on device_dax, mapping reads back" devdax_again 2
check "namespace 1 back to devdax (its guard freed), mapping reads back" back_to_devdax 1
check "then namespace 2 gets the block" to_ram 2
check "namespaces 0, 1, 3 devdax: mappings read back" mapped_ok 0 1 3

kmem_reset
ktap_finished
