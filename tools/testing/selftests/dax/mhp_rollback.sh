#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A memmap_on_memory hot-add of several memory blocks that fails part-way
# is undone, and nothing hangs: the error path patch 0006 reworks (its
# first version deadlocked there; the mutant mhp-rollback-under-lock puts
# that back). kmem adds one block per call,
# so ACPI DIMM hotplug is what reaches the path here: with
# memory_hotplug.memmap_on_memory=1, acpi_memhotplug adds a DIMM with
# MHP_MEMMAP_ON_MEMORY, which add_memory_resource() turns into one
# arch_add_memory() + create_memory_block_devices() per block, under
# mem_hotplug_lock. The harness (vm.sh check) gives the guest QEMU's
# monitor on ttyS2 through harness/qmp-relay.py, and free DIMM slots.
#  (a) control: a DIMM of three blocks hot-added shows three offline
#      blocks and a "System RAM" range; device_del removes them;
#  (b) create_memory_block_devices() made to fail for the third block
#      (fail_function, space 3, times 1: patch 0010): the ACPI worker
#      reports "add_memory failed" within 60 s, the injection was reached
#      (times went to 0), and the two blocks added before it are gone
#      again: blocks and /proc/iomem as before;
#  (c) the same DIMM added again (QEMU puts it at the same address) is
#      accepted and whole: nothing of (b) was left behind to refuse it.
# The blocks of a DIMM stay offline: the test kernel's default online type
# is offline (checked), and nothing else onlines them.
# Lockdep, KASAN and the "Altmap not fully unmapped" warning are watched
# by the runner (any report fails the test).

DIR=$(dirname "$0")
# shellcheck source=dax_lib.sh
. "$DIR/dax_lib.sh"

TTY=/dev/ttyS2
FF=/sys/kernel/debug/fail_function
SIZE_MB=384
BLOCKS_OUT=/tmp/mhp_rollback.$$.blocks

require_root
require_cmds stty
[ -c "$TTY" ] || { ktap_skip_all "no $TTY"; exit "$KSFT_SKIP"; }
[ -d "$FF" ] || { ktap_skip_all "no $FF (CONFIG_FAIL_FUNCTION)"; exit "$KSFT_SKIP"; }

ktap_print_header
ktap_set_plan 10

case $(cat /sys/module/memory_hotplug/parameters/memmap_on_memory) in
Y | force) ;;
*) ktap_exit_fail_msg "memory_hotplug.memmap_on_memory is not set: the path is not reached" ;;
esac
auto=$(cat "$SYS_MEM/auto_online_blocks")
[ "$auto" = offline ] || ktap_exit_fail_msg "auto_online_blocks is '$auto', not offline"

# The relay's answers arrive on the same port: raw, no echo (an echo would
# send them back).
exec 7<>"$TTY"
stty -F "$TTY" raw -echo 115200 || ktap_exit_fail_msg "cannot set up $TTY"

# hmp COMMAND: run an HMP command in QEMU's monitor; its output in
# $HMP_OUT; 1 when QEMU said it failed or no answer came within 20 s. What
# is left on the port (the late answer to a command that timed out) is read
# away first, so that no answer is taken for the next command's.
hmp() {
	local line

	HMP_OUT=
	while IFS= read -r -t 0.2 line <&7; do
		msg "(stale on $TTY: '$line')"
	done
	printf '%s\n' "$1" >&7
	while IFS= read -r -t 20 line <&7; do
		case $line in
		"relay-done ok") return 0 ;;
		"relay-done "*) msg "'$1': ${line#relay-done }"; return 1 ;;
		*) HMP_OUT+="${line# }"$'\n' ;;
		esac
	done
	msg "'$1': no answer from the relay"
	return 1
}

# blocks_list: every memory block, one number per line, sorted.
blocks_list() {
	local b

	for b in "$SYS_MEM"/memory[0-9]*; do
		echo "${b##*/memory}"
	done | sort -n
}

# new_blocks: the blocks that were not there at the start. A failure to
# list the blocks is a failure, never "no new block".
new_blocks() {
	local now

	now=$(blocks_list)
	[ -n "$now" ] || { msg "cannot list $SYS_MEM"; return 1; }
	grep -vxF -f "$BLOCKS_OUT" <<<"$now" | tr '\n' ' '
	return 0
}

nblocks_new_is() {
	local b

	b=$(new_blocks) && [ "$(echo "$b" | wc -w)" = "$1" ]
}

# dimm_present ID / dimm_gone ID: QEMU lists the DIMM, or does not; both
# fail when the monitor does not answer.
dimm_listed() {
	grep -q "\\[dimm\\]: \"$1\"" <<<"$HMP_OUT"
}

dimm_present() {
	hmp "info memory-devices" && dimm_listed "$1"
}

dimm_gone() {
	hmp "info memory-devices" && ! dimm_listed "$1"
}

# dimm_add ID: a backend and a pc-dimm of SIZE_MB on node 0.
dimm_add() {
	hmp "object_add memory-backend-ram,id=mem-$1,size=${SIZE_MB}M" &&
		hmp "device_add pc-dimm,id=$1,memdev=mem-$1,node=0"
}

# dimm_del ID: ask the guest to eject the DIMM; wait until QEMU has it no
# more, then drop its backend.
dimm_del() {
	hmp "device_del $1" || return 1
	wait_until 60 dimm_gone "$1" || { msg "$1 still present after 60 s"; return 1; }
	hmp "object_del mem-$1"
}

# dimm_range: the "System RAM" range of the new blocks, as START-END
# (hex, /proc/iomem style), from the first new block on.
dimm_range() {
	local b first

	b=$(new_blocks)
	first=${b%% *}
	[ -n "$first" ] || return 1
	printf '%08x-%08x\n' $((first * KMEM_MB)) $(((first + nb) * KMEM_MB - 1))
}

# block_devices_fail on|off: fail the third call of
# create_memory_block_devices() with -ENOMEM, once. The attributes are set
# before the function is named, so that nothing left by an earlier test
# applies in between; off puts them back to what kmem_bounds.sh and
# fail_function's defaults expect.
block_devices_fail() {
	if [ "$1" = on ]; then
		echo 0 >"$FF/verbose" && echo 100 >"$FF/probability" &&
			echo 1 >"$FF/interval" && echo 1 >"$FF/times" &&
			echo 3 >"$FF/space" && echo N >"$FF/task-filter" &&
			echo create_memory_block_devices >"$FF/inject" &&
			printf '%#x\n' -12 >"$FF/create_memory_block_devices/retval"
	else
		echo >"$FF/inject"
		echo 0 >"$FF/space"
		echo 1 >"$FF/times"
	fi
}

cleanup() {
	block_devices_fail off 2>/dev/null
	for d in dimm-a dimm-b dimm-c; do
		dimm_present "$d" 2>/dev/null && dimm_del "$d" >/dev/null 2>&1
		hmp "object_del mem-$d" >/dev/null 2>&1
	done
	rm -f "$BLOCKS_OUT"
}
trap cleanup EXIT

blocks_list >"$BLOCKS_OUT"
[ -s "$BLOCKS_OUT" ] || ktap_exit_fail_msg "cannot list $SYS_MEM"
iomem0=$(cat /proc/iomem)
[ $((SIZE_MB * 1024 * 1024 % KMEM_MB)) = 0 ] ||
	ktap_exit_fail_msg "$SIZE_MB MiB is not a whole number of memory blocks"
nb=$((SIZE_MB * 1024 * 1024 / KMEM_MB))

monitor_answers() {
	hmp "info memory-devices"
}
check "the monitor answers through $TTY" monitor_answers

# as_before: no new block, /proc/iomem as at the start. (MemTotal cannot
# tell: the blocks of a DIMM stay offline.)
as_before() {
	local rc=0

	nblocks_new_is 0 || { msg "blocks left: $(new_blocks)"; rc=1; }
	same_text /proc/iomem "$iomem0" "$(cat /proc/iomem)" || rc=1
	return $rc
}

# added_whole: the DIMM's blocks appeared, offline, with a System RAM
# range; the range in $range.
added_whole() {
	local b

	range=
	wait_until 60 nblocks_new_is "$nb" ||
		{ msg "new blocks after 60 s: '$(new_blocks)'"; return 1; }
	range=$(dimm_range) || return 1
	grep -q "^ *$range : System RAM\$" /proc/iomem ||
		{ msg "no System RAM $range in /proc/iomem"; return 1; }
	for b in $(new_blocks); do
		eq "memory$b state" "$(cat "$SYS_MEM/memory$b/state")" offline || return 1
	done
	msg "DIMM: blocks $(new_blocks)at $range"
}

# --- (a) control ---

add_a() {
	dimm_add dimm-a && added_whole && range_a=$range
}
check "(a) a $SIZE_MB MiB DIMM hot-added: $nb offline blocks, System RAM" add_a

del_clean() {
	dimm_del "$1" && as_before
}
check "(a) device_del: its blocks are removed, /proc/iomem as before" \
	del_clean dimm-a

# --- (b) the third block fails ---

kmsg_mark mhp_b
check "(b) fail_function set on create_memory_block_devices: the third call fails" \
	block_devices_fail on

add_failed_logged() {
	kmsg_since mhp_b | grep -q "add_memory failed"
}

add_failed() {
	local t0=$SECONDS

	dimm_add dimm-b || return 1
	wait_until 60 add_failed_logged ||
		{ msg "no 'add_memory failed' within 60 s: the ACPI worker is stuck"; return 1; }
	msg "the add failed after $((SECONDS - t0)) s"
}
check "(b) DIMM hot-add with the third block failing: the add fails, no hang" add_failed
check "(b) the injection was reached: the third call failed (times 1 -> 0)" \
	eq "fail_function times" "$(cat "$FF/times")" 0

undone() {
	block_devices_fail off && as_before
}
check "(b) the two blocks added before are removed: blocks and /proc/iomem as before" \
	undone
check "(b) the failed DIMM is ejected" dimm_del dimm-b

# --- (c) the range again ---

add_c() {
	dimm_add dimm-c && added_whole && eq "range" "$range" "$range_a"
}
check "(c) the DIMM added again on the same range: accepted and whole" add_c
check "(c) device_del: back to the start" del_clean dimm-c

ktap_finished
