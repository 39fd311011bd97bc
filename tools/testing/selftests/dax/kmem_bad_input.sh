#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input to the kmem driver's files. daxX.Y/state (with the memory
# online_movable, then unplugged), daxX.Y/online_policy, daxX.Y/memmap,
# daxX.Y/removal and the module parameter online_policy each get garbage,
# an empty line, whitespace only,
# 5000 bytes, and a valid word with garbage after it; state also gets
# "offline" and online words in the wrong state, the module parameter gets
# "default" (a device word only), and the time parameters get 0 and one
# past an hour, subblock and kernel_zone_surprise get words that are not
# booleans, kernel_loss words other than panic and keep. Each write must
# fail with the errno the spec gives (EINVAL, EBUSY) and change nothing:
# the state, both policies, every memory block and its zone, MemTotal and
# /proc/iomem are compared before and after. (A zero-length write never reaches the driver: sysfs
# returns 0 without calling it, so there is nothing of the driver's to
# check, and no check pretends to.)
# Valid words with a trailing newline show the checks can see success.
# Last, two writers race for a few seconds, "unplugged" against
# "online_movable": every write must succeed or fail with EBUSY, and the
# end state must be one the blocks, MemTotal and /proc/iomem agree with.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write
require_region small
RACE_SECONDS=8

ktap_print_header
ktap_set_plan 56
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

STOP=/tmp/kmem_bad_input.$$.stop
LOG_U=/tmp/kmem_bad_input.$$.unplugged
LOG_M=/tmp/kmem_bad_input.$$.online_movable
pids=()
cleaned=
cleanup() {
	local p

	[ -n "$cleaned" ] && return
	cleaned=1
	touch "$STOP"
	for p in "${pids[@]}"; do
		wait_exit "$p" 120 >/dev/null
	done
	rm -f "$STOP" "$LOG_U" "$LOG_M"
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

base=$(meminfo_kb MemTotal)
new_devdax
ST=$SYS_DAX/devices/$dax/state
POL=$SYS_DAX/devices/$dax/online_policy
MPOL=$KMEM_PARAMS/online_policy
MMP=$SYS_DAX/devices/$dax/memmap
RMV=$SYS_DAX/devices/$dax/removal
printf -v LONG '%5000s' ''
LONG=${LONG// /x}

# snapshot: set SNAP to everything a refused write must leave alone. No
# fork: one costs about 0.1 s in the test VM, and each refused write
# takes two snapshots.
snapshot() {
	local f v k b
	local -a lines

	SNAP=
	for f in "state $ST" "policy $POL" "module $MPOL" "memmap $MMP" \
		"removal $RMV" "subblock $KMEM_PARAMS/subblock" \
		"kernel_zone_surprise $KMEM_PARAMS/kernel_zone_surprise" \
		"kernel_loss $KMEM_PARAMS/kernel_loss"; do
		read_word_to v "${f#* }"
		SNAP+="${f%% *}=$v"$'\n'
	done
	meminfo_to v MemTotal
	SNAP+="MemTotal=$v"$'\n'
	for ((b = s / KMEM_MB; b <= (e - 1) / KMEM_MB; b++)); do
		f=$SYS_MEM/memory$b
		[ -d "$f" ] || continue
		read_word_to k "$f/state"
		read_word_to v "$f/valid_zones"
		SNAP+="memory$b $k $v"$'\n'
	done
	mapfile -t lines </proc/iomem
	printf -v v '%s\n' "${lines[@]}"
	SNAP+=$v
}

# unchanged_by CMD...: CMD succeeds and the snapshot is the same after it.
unchanged_by() {
	local before rc=0

	snapshot
	before=$SNAP
	"$@" || rc=1
	snapshot
	same_text "the state after the write" "$before" "$SNAP" || rc=1
	return $rc
}

# refused WANT FILE DATA: the write fails with WANT, nothing changes.
refused() {
	unchanged_by expect_write "$@"
}

# battery FILE WORD WHAT: the bad inputs every file gets; WORD is a valid
# word to append garbage to.
battery() {
	local f=$1 word=$2 what=$3

	check "$what: garbage: EINVAL, nothing changes" refused EINVAL "$f" bogus
	check "$what: empty line: EINVAL, nothing changes" refused EINVAL "$f" $'\n'
	check "$what: whitespace only: EINVAL, nothing changes" \
		refused EINVAL "$f" $' \t  \n'
	check "$what: 5000 bytes: EINVAL, nothing changes" refused EINVAL "$f" "$LONG"
	check "$what: '${word}x': EINVAL, nothing changes" refused EINVAL "$f" "${word}x"
	check "$what: '$word junk': EINVAL, nothing changes" \
		refused EINVAL "$f" "$word junk"$'\n'
}

bind_movable() {
	dax_unbind_any "$dax" && expect_write OK "$POL" online_movable && kmem_bind "$dax" &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bind with policy online_movable: online_movable" bind_movable

# --- daxX.Y/state, memory online_movable ---

battery "$ST" unplugged "state (online_movable)"
check "state (online_movable): 'offline': EINVAL, nothing changes" \
	refused EINVAL "$ST" $'offline\n'
check "state (online_movable): 'online_kernel': EBUSY, nothing changes" \
	refused EBUSY "$ST" $'online_kernel\n'
check "state (online_movable): 'online': EBUSY, nothing changes" \
	refused EBUSY "$ST" $'online\n'
check "state (online_movable): 'online_movable' with a newline: OK, no-op" \
	refused OK "$ST" $'online_movable\n'

# --- daxX.Y/online_policy ---

battery "$POL" unplugged "online_policy"

# While bound the policy reads what the bind applied: another word is
# refused, the same word (with a newline) is taken and changes nothing.
policy_word_ok() {
	expect_write EBUSY "$POL" $'offline\n' &&
		expect_write OK "$POL" $'online_movable\n' &&
		eq "online_policy" "$(dax_policy "$dax")" online_movable
}
check "online_policy (bound): 'offline' EBUSY, 'online_movable' and a newline OK, no change" \
	unchanged_by policy_word_ok

# --- daxX.Y/memmap (a map=dev namespace: 'reservation') ---

battery "$MMP" reservation "memmap"
memmap_word_ok() {
	expect_write EBUSY "$MMP" $'dram\n' &&
		expect_write OK "$MMP" $'reservation\n' &&
		eq "memmap" "$(read_word "$MMP")" reservation
}
check "memmap (bound): 'dram' EBUSY, 'reservation' and a newline OK, no change" \
	unchanged_by memmap_word_ok

# --- daxX.Y/removal (a pmem namespace: 'announced') ---

battery "$RMV" announced "removal"
removal_word_ok() {
	expect_write EBUSY "$RMV" $'surprise\n' &&
		expect_write OK "$RMV" $'announced\n' &&
		eq "removal" "$(read_word "$RMV")" announced
}
check "removal (bound): 'surprise' EBUSY, 'announced' and a newline OK, no change" \
	unchanged_by removal_word_ok

# --- the module parameter online_policy ---

battery "$MPOL" online_movable "module online_policy"
check "module online_policy: 'default': EINVAL, nothing changes" \
	refused EINVAL "$MPOL" $'default\n'

module_word_ok() {
	local old

	old=$(kmem_param online_policy)
	expect_write OK "$MPOL" $'unplugged\n' &&
		eq "kmem.online_policy" "$(kmem_param online_policy)" unplugged &&
		expect_write OK "$MPOL" "$old" &&
		eq "kmem.online_policy" "$(kmem_param online_policy)" "$old"
}
check "module online_policy: 'unplugged' with a newline: OK, read back" \
	unchanged_by module_word_ok

# --- the time parameters: 1 ms to an hour, no "0 = unbounded" ---

# time_param_ok NAME: 0 and one past an hour are refused with EINVAL and
# leave the value; 1 and an hour are taken; the old value goes back.
time_param_ok() {
	local f=$KMEM_PARAMS/$1 old rc=0

	old=$(kmem_param "$1")
	refused EINVAL "$f" 0 || rc=1
	eq "$1 after 0" "$(kmem_param "$1")" "$old" || rc=1
	refused EINVAL "$f" 3600001 || rc=1
	eq "$1 after 3600001" "$(kmem_param "$1")" "$old" || rc=1
	expect_write OK "$f" 1 && eq "$1" "$(kmem_param "$1")" 1 || rc=1
	expect_write OK "$f" 3600000 && eq "$1" "$(kmem_param "$1")" 3600000 || rc=1
	expect_write OK "$f" "$old" || rc=1
	return $rc
}
for p in offline_timeout_ms unbind_timeout_ms retry_max_delay_ms; do
	check "module $p: 0 and 3600001 EINVAL, nothing changes; 1 and 3600000 taken" \
		time_param_ok "$p"
done

# words_param_ok PARAM GOOD... -- BAD...: each BAD word written to the
# module parameter PARAM is refused with EINVAL and changes nothing; each
# GOOD word is taken and read back; then the old value goes back.
words_param_ok() {
	local p=$1 f=$KMEM_PARAMS/$1 old w good=() rc=0

	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		good+=("$1")
		shift
	done
	shift
	old=$(kmem_param "$p")
	for w in "$@"; do
		refused EINVAL "$f" "$w" || rc=1
	done
	for w in "${good[@]}"; do
		expect_write OK "$f" "$w" && eq "$p" "$(kmem_param "$p")" "$w" || rc=1
	done
	expect_write OK "$f" "$old" || rc=1
	return $rc
}
check "module subblock: 'maybe' and '2' EINVAL, nothing changes; Y and N taken" \
	words_param_ok subblock Y N -- maybe 2
check "module kernel_zone_surprise: 'maybe' and '2' EINVAL, nothing changes; Y and N taken" \
	words_param_ok kernel_zone_surprise Y N -- maybe 2
check "module kernel_loss: words other than panic and keep EINVAL, nothing changes; both taken" \
	words_param_ok kernel_loss keep panic -- kept "keep now" " " Y "$LONG"

# --- daxX.Y/state, memory unplugged ---

unplug_all() {
	expect_write OK "$ST" unplugged && state_is unplugged "$dax" "$s" "$e" "$base"
}
check "state: online_movable -> unplugged" unplug_all
battery "$ST" online_movable "state (unplugged)"
check "state (unplugged): 'offline': EINVAL, nothing changes" \
	refused EINVAL "$ST" $'offline\n'

# --- two writers at once ---

# racer WORD LOG: write WORD to the state file until $STOP appears.
racer() {
	while [ ! -e "$STOP" ]; do
		sysfs_err "$ST" "$1" >>"$2"
	done
	return 0
}

race() {
	local n_u n_m bad rc=0

	rm -f "$STOP" "$LOG_U" "$LOG_M"
	racer unplugged "$LOG_U" &
	pids+=($!)
	racer online_movable "$LOG_M" &
	pids+=($!)
	sleep "$RACE_SECONDS"
	touch "$STOP"
	wait_exit "${pids[0]}" 120
	[ $? != 124 ] || { msg "the unplugged writer did not stop"; rc=1; }
	wait_exit "${pids[1]}" 120
	[ $? != 124 ] || { msg "the online_movable writer did not stop"; rc=1; }
	pids=()
	n_u=$(grep -c '^OK$' "$LOG_U")
	n_m=$(grep -c '^OK$' "$LOG_M")
	msg "unplugged: $(sort "$LOG_U" | uniq -c | tr -s ' \n' ' ')"
	msg "online_movable: $(sort "$LOG_M" | uniq -c | tr -s ' \n' ' ')"
	bad=$(cat "$LOG_U" "$LOG_M" | grep -Ev '^(OK|EBUSY)$' | sort -u | tr '\n' ' ')
	eq "errors other than EBUSY" "$bad" "" || rc=1
	if [ "$n_u" = 0 ] || [ "$n_m" = 0 ]; then
		msg "a writer never succeeded"
		rc=1
	fi
	return $rc
}
check "two writers, unplugged and online_movable, ${RACE_SECONDS} s: each write OK or EBUSY" race

race_end_consistent() {
	msg "ended $(dax_state "$dax")"
	kmem_consistent "$dax" "$s" "$e" "$base"
}
check "after the race: the state reading, blocks, MemTotal, /proc/iomem and kmem/ agree" \
	race_end_consistent

cleanup
ktap_finished
