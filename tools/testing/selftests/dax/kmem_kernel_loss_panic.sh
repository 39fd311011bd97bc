#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem.kernel_loss=panic, the default, where it acts: a device that may go
# without warning (daxX.Y/removal "surprise") is bound with its memory in a
# kernel zone (kmem.kernel_zone_surprise=Y, online_policy online_kernel),
# every unplug of its first block fails (fail_dax_kmem), and its provider
# tears it down (dax_pmem unbound from the nd_dax device, as a namespace
# destroy does). kmem cannot take the block away and must not leave kernel
# memory of a device that may stop decoding: the kernel panics, naming the
# device and the block.
#
# This test ends the machine, so it is not in kselftest-list.txt: the
# harness boots a VM of its own for it (harness/vm.sh panic). The test
# prints KTAP results for the setup (harness/vm.sh PANIC_SETUP counts
# them), then marks the kernel log "kmem_panic_test: teardown, expect:
# TEXT", TEXT the line the kernel must panic with, and tears the device
# down. The host gives the last result (vm.sh panic_verdict): the
# console's first report is "Kernel panic - not syncing: TEXT", after the
# mark. If the teardown returns, the test fails that result itself.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region small

ktap_print_header
ktap_set_plan 5
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"

# default_panic: nothing has set kernel_loss: it reads panic.
default_panic() {
	eq "kmem.kernel_loss" "$(kmem_param kernel_loss)" panic
}
check "kmem.kernel_loss is panic by default" default_panic

kmem_new_device
RMV=$SYS_DAX/devices/$dax/removal
POL=$SYS_DAX/devices/$dax/online_policy

mark_surprise() {
	expect_write OK "$RMV" surprise && eq "$dax removal" "$(read_word "$RMV")" surprise
}
check "removal: surprise taken" mark_surprise

# bind_kernel: with kernel_zone_surprise=Y, bound with online_kernel: every
# block online in a kernel zone.
bind_kernel() {
	local rc=0

	kmem_param_set kernel_zone_surprise Y || return 1
	dax_unbind_any "$dax" && expect_write OK "$POL" online_kernel || return 1
	kmem_bind "$dax" || return 1
	state_is online_kernel "$dax" "$s" "$e" "$base" || rc=1
	eq "blocks in a kernel zone" "$bc_kernel" "$nb" || rc=1
	return $rc
}
check "surprise, kernel_zone_surprise=Y: bound online_kernel, every block in a kernel zone" \
	bind_kernel

# arm_first: every unplug of the device's first block fails from now on.
first=
arm_first() {
	local b

	b=$(blocks_of "$s" "$e" | head -n 1)
	[ -n "$b" ] || { msg "no memory block of $dax"; return 1; }
	first=$(block_addr "${b##*memory}" "$s" "$e")
	kmem_fail_at "$first"
}
check "fail_dax_kmem armed for the first block" arm_first

ns=$(ndctl list -N -r "$region" | json_field dev)
nd=$(nd_dax_of "$ns")
[ -n "$nd" ] && [ -n "$first" ] ||
	ktap_exit_fail_msg "no nd_dax device claims '$ns' on $region, or no block"
expect="kmem: $dax: kernel memory in block $(printf '%#x' "$first")"
expect+=" lost with the device (kmem.kernel_loss=panic)"
echo "# expect panic: $expect"
echo "kmem_panic_test: teardown, expect: $expect" >/dev/kmsg
r=$(sysfs_err "$SYS_BUS_ND_DAX_PMEM/unbind" "$nd")
msg "the teardown returned ($r); the kernel log since:"
dmesg | sed -n '/kmem_panic_test: teardown/,$p' | tail -n 20 | sed 's/^/#   /'
ktap_test_fail "the provider's teardown panics: $expect"
ktap_finished
