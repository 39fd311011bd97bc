#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The raw sysfs flow, without daxctl: unbind device_dax, new_id (which
# binds kmem), online every block through memoryN/state, offline them,
# unbind kmem, then the explicit bind/unbind path, remove_id and back to
# device_dax. Memory must leave without a trace each time.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region big

ktap_print_header
ktap_set_plan 12
kmem_reset
modprobe kmem 2>/dev/null

base=$(meminfo_kb MemTotal)
new_devdax
added_kb=$(((e - s) / 1024))
DEVDAX=$SYS_DAX/drivers/device_dax

# write_to FILE: write $dax to a driver's sysfs FILE, say so on failure.
write_to() {
	echo "$dax" 2>/dev/null >"$1" && return 0
	ktap_print_msg "'$dax' > $1 refused"
	return 1
}

driver_is() {
	eq driver "$(dax_drv_of "$dax")" "$1"
}

# no_trace: no memory block, MemTotal at the baseline, no System RAM (kmem).
no_trace() {
	kmem_gone "$s" "$e" "$base" &&
		eq "kmem lines" "$(iomem_lines 'System RAM (kmem)')" ""
}

unbind_devdax() {
	write_to "$DEVDAX/unbind" && driver_is none
}
check "unbind from device_dax" unbind_devdax

new_id_adds() {
	write_to "$KMEM_DRV/new_id" && driver_is kmem && blocks_all "$s" "$e" offline
}
check "new_id binds kmem, blocks added offline" new_id_adds
check "MemTotal unchanged while offline" memtotal_is "$base"

online_every_block() {
	blocks_set "$s" "$e" online_movable && blocks_all "$s" "$e" online
}
check "online_movable every block" online_every_block
check "MemTotal grew by exactly the hot-add range" \
	memtotal_grew_by "$added_kb"

offline_every_block() {
	blocks_set "$s" "$e" offline && blocks_all "$s" "$e" offline
}
check "offline every block" offline_every_block

unbind_removes() {
	write_to "$KMEM_DRV/unbind" && no_trace
}
check "unbind kmem removes the memory" unbind_removes

bind_adds() {
	write_to "$KMEM_DRV/bind" && driver_is kmem && blocks_all "$s" "$e" offline
}
check "explicit bind to kmem adds it again" bind_adds

online_then_offline() {
	online_every_block && offline_every_block
}
check "online_movable again, then offline" online_then_offline
check "second unbind removes it again" unbind_removes

remove_id_devdax() {
	write_to "$KMEM_DRV/remove_id" && write_to "$DEVDAX/bind" && driver_is device_dax
}
check "remove_id, bind device_dax" remove_id_devdax
check "character device back" test -c "/dev/$dax"

kmem_reset
ktap_finished
