#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# memmap_on_memory: with daxX.Y/memmap_on_memory set, every memory block
# kmem adds carries its own memmap (1/64 of the block) at its start, so
# MemTotal grows by 63/64 of the blocks. Removing such memory goes through
# the per-block altmap path of try_remove_memory(), which patch 0006
# reordered: it is exercised both by "unplugged" and by an unbind with the
# memory online, and must leave MemTotal and /proc/iomem at the baseline.
# Such memory is added in whole blocks, also with kmem.subblock=Y: no
# block of the device's range that is not whole is added.
# Needs memory_hotplug.memmap_on_memory=1 on the kernel command line (the
# test VM sets it); without it the test is skipped.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region small

MOM=/sys/module/memory_hotplug/parameters/memmap_on_memory

ktap_print_header
if [ "$(read_word "$MOM")" != Y ]; then
	ktap_skip_all "memory_hotplug.memmap_on_memory is not enabled"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 6
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
# kmem.subblock=Y, so that whole_blocks_only can tell memmap_on_memory's
# whole blocks from the 2 MiB clipping it overrides
kmem_params_save
kmem_param_set subblock Y || ktap_exit_fail_msg "cannot set kmem.subblock=Y"

cleanup() {
	kmem_reset
	kmem_params_restore
}
trap cleanup EXIT

kmem_new_device
dax_unbind_any "$dax" || ktap_exit_fail_msg "cannot unbind $dax"
IOMEM0=$(cat /proc/iomem)
ST=$SYS_DAX/devices/$dax/state

check "memmap_on_memory set on the unbound $dax" \
	expect_write OK "$SYS_DAX/devices/$dax/memmap_on_memory" 1
# kmem_new_device took the range before memmap_on_memory was set: take it
# again, now whole blocks
read -r s e < <(kmem_span "$dax")
nb=$(kmem_nblocks "$s" "$e")
msg "with memmap_on_memory: $nb blocks, $(printf '%#x-%#x' "$s" $((e - 1)))"
# what onlining adds: every block minus its memmap (64 bytes per 4 KiB page)
added_kb=$((nb * (KMEM_MB - KMEM_MB / 64) / 1024))

bound_movable() {
	expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable &&
		kmem_bind "$dax" &&
		eq state "$(dax_state "$dax")" online_movable &&
		blocks_all "$s" "$e" online Movable &&
		memtotal_grew_by "$added_kb"
}
check "bound online_movable: MemTotal grew by the blocks less their memmap" bound_movable

# whole_blocks_only: the memory blocks present of those the device's 2 MiB
# aligned range touches are exactly those of kmem_range, its whole blocks.
whole_blocks_only() {
	local ws we

	read -r ws we < <(kmem_range "$dax")
	msg "kmem.subblock=$(kmem_param subblock)"
	same_text "memory blocks of $dax present" "$(blocks_of "$ws" "$we")" \
		"$(kmem_blocks_of "$dax")"
}
check "no memory block outside the whole blocks added, whatever kmem.subblock says" \
	whole_blocks_only

unplug_removes() {
	expect_write OK "$ST" unplugged && kmem_gone "$s" "$e" "$base"
}
check "state unplugged: every block and its memmap removed, MemTotal at the baseline" \
	unplug_removes

unbind_online() {
	expect_write OK "$ST" online_movable && memtotal_grew_by "$added_kb" &&
		kmem_unbind "$dax" && kmem_gone "$s" "$e" "$base"
}
check "unbind with the memory online: everything removed" unbind_online

iomem_unretained() {
	iomem_is "$IOMEM0" && retained_empty
}
check "/proc/iomem equal to the baseline, nothing retained" iomem_unretained
ktap_finished
