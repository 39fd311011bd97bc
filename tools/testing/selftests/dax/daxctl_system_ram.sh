#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# devdax -> system-ram -> devdax through daxctl, as an operator does it:
# the memory appears online and movable, then leaves without a trace
# (MemTotal back to the exact baseline, no "System RAM (kmem)" in
# /proc/iomem, the device back on device_dax with its character device).
# Also the --no-online variant of reconfigure-device (--no-movable is
# kernel_zone.sh's). Parts 1-3 run with kmem.subblock=N (whole memory
# blocks, which daxctl manages alone); part 4 with kmem.subblock=Y, where the
# device's first memory block is partial and daxctl 76.1 does not see it.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl
require_progs sysfs_write
require_region big

ktap_print_header
ktap_set_plan 19
kmem_reset

# kmem.subblock is read at bind, and the VM's command line may set it at
# every load of kmem: set N for parts 1-3 once kmem is loaded, and put the
# parameters back at exit. A kmem without the parameter adds whole blocks.
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
trap kmem_params_restore EXIT
subblock=$(kmem_param subblock)
[ "$subblock" = "(missing)" ] || kmem_param_set subblock N ||
	ktap_exit_fail_msg "cannot set kmem.subblock=N"

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

# 4: kmem.subblock=Y, a new device on the big region, whose first memory
# block is partial. These checks document daxctl 76.1, which selects a
# device's memory blocks by their start address and so does not see that
# block: reconfigure-device onlines every other block and leaves it
# offline; its own memoryN/state onlines it; devdax -f offlines the blocks
# daxctl sees and kmem's unbind removes the rest; with the device's
# online_policy online_movable, kmem onlines every block at bind and
# daxctl, finding them all online, exits 0. Skipped when kmem has no
# subblock parameter or the first block is whole (in the test VM it is
# partial: the device starts after its namespace's memmap reservation,
# inside its first block).
sb_skip=
if [ "$subblock" = "(missing)" ]; then
	sb_skip="kmem has no subblock parameter"
else
	kmem_param_set subblock Y || ktap_exit_fail_msg "cannot set kmem.subblock=Y"
	kmem_reset
	base=$(meminfo_kb MemTotal)
	new_devdax
	iomem0=$(cat /proc/iomem)
	hb=$((s / KMEM_MB))
	# the end of the partial block: the first block daxctl sees
	hs=$(((hb + 1) * KMEM_MB))
	[ $((s % KMEM_MB)) != 0 ] ||
		sb_skip="$dax's range starts at a memory block boundary: no partial first block"
fi
if [ -n "$sb_skip" ]; then
	msg "part 4 (kmem.subblock=Y) skipped: $sb_skip"
else
	msg "part 4 (kmem.subblock=Y) runs: $dax, hot-add range" \
	    "$(printf '%#x-%#x' "$s" $((e - 1))), memory$hb partial" \
	    "($(($(block_part "$hb" "$s" "$e") >> 20)) MiB); daxctl $(daxctl version)"
fi

# sb_check DESCRIPTION COMMAND...: a check of part 4, or its skip.
sb_check() {
	if [ -n "$sb_skip" ]; then
		ktap_test_skip "$1: $sb_skip"
	else
		check "$@"
	fi
}

# the device's policy offline: kmem adds the blocks, daxctl onlines them
sb_system_ram() {
	expect_write OK "$SYS_DAX/devices/$dax/online_policy" offline &&
		run daxctl reconfigure-device -m system-ram "$dax"
}
sb_check "subblock: online_policy offline, system-ram: reconfigure-device succeeds" \
	sb_system_ram

# head_left_offline: the partial first block offline, every other block
# online in ZONE_MOVABLE, the state "online" (some blocks online), MemTotal
# grown by the other blocks, every view consistent (kmem_consistent).
head_left_offline() {
	local rc=0

	eq "memory$hb (partial) state" "$(read_word "$SYS_MEM/memory$hb/state")" offline ||
		rc=1
	blocks_all "$hs" "$e" online Movable || rc=1
	memtotal_grew_by $(((e - hs) / 1024)) || rc=1
	state_is online "$dax" "$s" "$e" "$base" || rc=1
	return $rc
}
sb_check "subblock: daxctl 76.1 leaves the partial first block offline, onlines the rest" \
	head_left_offline

# head_online: memoryN/state online_movable onlines the partial block: every
# block online in ZONE_MOVABLE, the state online_movable, MemTotal grown by
# the whole hot-add range.
head_online() {
	block_set "$SYS_MEM/memory$hb" online_movable &&
		blocks_all "$s" "$e" online Movable &&
		memtotal_grew_by $(((e - s) / 1024)) &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
sb_check "subblock: memoryN/state onlines the partial block: state online_movable" \
	head_online

# devdax_all: daxctl reconfigure-device -f -m devdax takes the device back
# to device_dax and every block leaves, the partial one included: MemTotal
# and /proc/iomem at the baseline.
devdax_all() {
	run daxctl reconfigure-device -f -m devdax "$dax" && kmem_gone "$s" "$e" "$base" &&
		iomem_is "$iomem0" && chardev_back
}
sb_check "subblock: devdax -f: every block removed, the partial one included" devdax_all

# policy_all: with online_policy online_movable, reconfigure-device exits 0
# (daxctl finds every block it sees online already) and every block is
# online in ZONE_MOVABLE, the partial one included.
policy_all() {
	expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable &&
		run daxctl reconfigure-device -m system-ram "$dax" &&
		blocks_all "$s" "$e" online Movable &&
		memtotal_grew_by $(((e - s) / 1024)) &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
sb_check "subblock: online_policy online_movable: daxctl exits 0, every block online" \
	policy_all
sb_check "subblock: devdax -f again: MemTotal and /proc/iomem at the baseline" devdax_all

kmem_reset
ktap_finished
