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
require_region big

ktap_print_header
ktap_set_plan 12
reset_regions
modprobe kmem 2>/dev/null

base=$(meminfo_kb MemTotal)
new_devdax
added_kb=$(((e - s) / 1024))
KMEM=$SYS_DAX/drivers/kmem
DEVDAX=$SYS_DAX/drivers/device_dax

# write_to FILE: write $dax to a driver's sysfs FILE, say so on failure.
write_to() {
	echo "$dax" 2>/dev/null >"$1" && return 0
	ktap_print_msg "'$dax' > $1 refused"
	return 1
}

driver_is() {
	eq driver "$(dax_driver "$dax")" "$1"
}

gone() {
	blocks_gone && memtotal_is "$base" &&
		eq "kmem lines" "$(iomem_lines 'System RAM (kmem)')" ""
}

check "unbind from device_dax" eval 'write_to "$DEVDAX/unbind" && driver_is none'
check "new_id binds kmem, blocks added offline" \
	eval 'write_to "$KMEM/new_id" && driver_is kmem && blocks_are offline'
check "MemTotal unchanged while offline" memtotal_is "$base"
check "online_movable every block" eval 'blocks_set online_movable && blocks_are online'
check "MemTotal grew by exactly the hot-add range" \
	memtotal_grew_by "$added_kb"
check "offline every block" eval 'blocks_set offline && blocks_are offline'
check "unbind kmem removes the memory" eval 'write_to "$KMEM/unbind" && gone'
check "explicit bind to kmem adds it again" \
	eval 'write_to "$KMEM/bind" && driver_is kmem && blocks_are offline'
check "online_movable again, then offline" \
	eval 'blocks_set online_movable && blocks_are online && blocks_set offline &&
	      blocks_are offline'
check "second unbind removes it again" eval 'write_to "$KMEM/unbind" && gone'
check "remove_id, bind device_dax" \
	eval 'write_to "$KMEM/remove_id" && write_to "$DEVDAX/bind" && driver_is device_dax'
check "character device back" test -c "/dev/$dax"

reset_regions
ktap_finished
