#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sub-section hotplug: four 32 MiB namespaces that share one 128 MiB
# memory section, alternately fsdax (ext4 mounted -o dax) and devdax
# (mapped directly), each written and read back, destroyed, then created
# again with the modes swapped. Before sub-section hotplug the second
# devm_memremap_pages() in a section failed or warned.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl mkfs.ext4
require_region small
DAX_RW=$DAX_DIR/dax_rw
SECTION=$((128 << 20))
NS_SIZE=$((32 << 20))

ktap_print_header
ktap_set_plan 14
kmem_reset

declare -a NS
# create_four MODE0 MODE1 MODE2 MODE3
create_four() {
	local m json i=0 align=()

	NS=()
	for m in "$@"; do
		align=()
		[ "$m" = devdax ] && align=(-a 2M)
		json=$(create_ns "$region" "$m" $NS_SIZE "${align[@]}")
		[ -n "$json" ] || { ktap_print_msg "namespace $i ($m) not created"; return 1; }
		NS[i]=$json
		i=$((i + 1))
	done
}

# The namespaces' own resources, all inside one section.
one_section() {
	local j ns start size first=

	eq "namespaces" "${#NS[@]}" 4 || return 1
	for j in "${NS[@]}"; do
		ns=$(ns_of "$j")
		start=$(($(cat "$SYS_ND/$ns/resource")))
		size=$(cat "$SYS_ND/$ns/size")
		ktap_print_msg "$ns: $(printf '%#x' "$start") +$((size >> 20)) MiB," \
			"section $((start / SECTION))"
		[ $((start / SECTION)) -eq $(((start + size - 1) / SECTION)) ] || return 1
		: "${first:=$((start / SECTION))}"
		[ $((start / SECTION)) -eq "$first" ] || return 1
	done
}

use_fsdax() {
	local dev mnt=/tmp/fsdax.$$ rc=0

	dev=/dev/$(echo "$1" | json_field blockdev)
	mkdir -p $mnt
	run mkfs.ext4 -q -F -b 4096 "$dev" || return 1
	run mount -o dax=always "$dev" $mnt || return 1
	if ! grep -q " $mnt .*dax=always" /proc/mounts; then
		ktap_print_msg "$dev not mounted with dax"
		rc=1
	fi
	dd if=/dev/zero of=$mnt/f bs=1M count=8 2>/dev/null
	run "$DAX_RW" $mnt/f $((8 << 20)) 0x$RANDOM || rc=1
	umount $mnt || rc=1
	return $rc
}

use_devdax() {
	local dax size

	dax=$(dax_of_ns "$1")
	size=$(dax_attr "$dax" size)
	[ "$size" -gt 0 ] || return 1
	run "$DAX_RW" "/dev/$dax" "$size" 0x$RANDOM
}

use_all() {
	local j m rc=0 i=0

	for j in "${NS[@]}"; do
		m=$(echo "$j" | json_field mode)
		case $m in
		fsdax) check "pass $1: namespace $i fsdax: ext4 -o dax read back" use_fsdax "$j" ;;
		devdax) check "pass $1: namespace $i devdax: mapping read back" use_devdax "$j" ;;
		*) check "pass $1: namespace $i has a known mode" false ;;
		esac
		i=$((i + 1))
	done
}

destroy_all() {
	run ndctl destroy-namespace -f all -r "$region" &&
		eq "namespaces left" "$(ndctl list -N -r "$region" | tr -d ' \n')" ""
}

for pass in 1 2; do
	if [ $pass = 1 ]; then
		modes="fsdax devdax fsdax devdax"
	else
		modes="devdax fsdax devdax fsdax"
	fi
	check "pass $pass: four namespaces ${modes// //}" create_four $modes
	check "pass $pass: all four inside one 128 MiB section" one_section
	use_all $pass
	check "pass $pass: destroy all, region empty" destroy_all
done

kmem_reset
ktap_finished
