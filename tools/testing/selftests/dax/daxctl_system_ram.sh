#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# devdax -> system-ram -> devdax through daxctl, as an operator does it:
# the memory appears online and movable, then leaves without a trace
# (MemTotal back to the exact baseline, no "System RAM (kmem)" in
# /proc/iomem, the device back on device_dax with its character device).
# Also the --no-online variant of reconfigure-device (--no-movable is
# kernel_zone.sh's).

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_region big

ktap_print_header
ktap_set_plan 13
kmem_reset

base=$(meminfo_kb MemTotal)
new_devdax
added_kb=$(((e - s) / 1024))
ktap_print_msg "$dax on $region: hot-add range $(printf '%#x-%#x' "$s" $((e - 1)))," \
	"$((added_kb / 1024)) MiB"

# 1: default reconfigure: online, movable
check "system-ram: reconfigure-device succeeds" run daxctl reconfigure-device -m system-ram "$dax"
check "system-ram: driver is kmem" eq driver "$(dax_drv_of "$dax")" kmem
check "system-ram: MemTotal grew by exactly the hot-add range" \
	memtotal_grew_by "$added_kb"
check "system-ram: every block online" blocks_all "$s" "$e" online
check "system-ram: every block in ZONE_MOVABLE" blocks_all "$s" "$e" online Movable

# 2: back to devdax (daxctl offlines the memory itself)
check "devdax: reconfigure-device succeeds" run daxctl reconfigure-device -f -m devdax "$dax"
check "devdax: MemTotal back to the exact baseline" memtotal_is "$base"
check "devdax: no System RAM (kmem) left in /proc/iomem" \
	eq "kmem lines" "$(iomem_lines 'System RAM (kmem)')" ""
check "devdax: memory blocks removed" kmem_gone "$s" "$e" "$base"

chardev_back() {
	[ "$(dax_drv_of "$dax")" = device_dax ] && [ -c "/dev/$dax" ]
}
check "devdax: driver is device_dax and /dev/$dax exists" chardev_back

# 3: --no-online: added, offline, MemTotal unchanged
check "no-online: reconfigure-device succeeds" \
	run daxctl reconfigure-device --no-online -m system-ram "$dax"

added_offline() {
	blocks_all "$s" "$e" offline && memtotal_is "$base"
}
check "no-online: blocks present and offline, MemTotal unchanged" added_offline

devdax_again() {
	run daxctl reconfigure-device -m devdax "$dax" && kmem_gone "$s" "$e" "$base"
}
check "no-online: back to devdax, MemTotal at baseline" devdax_again

kmem_reset
ktap_finished
