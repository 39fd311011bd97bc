#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Competing controllers on the big region for KMEM_RACE_SECONDS (default
# 45) seconds: random memoryN/state writes (offline, online_movable),
# daxX.Y/state flipping between unplugged and online_movable, daxctl
# offline-memory / online-memory, an unbind + bind every few seconds, and a
# reader timing reads of daxX.Y/state. Then everything stops. No
# controller may hang (a 120 s bound on the stop, and the test's timeout),
# the runner fails the test on any splat, the driver's own controllers
# (state, unbind/bind) must have succeeded at least once, a memoryN/state
# writer may only be refused as documented (EBUSY while one of kmem's
# transitions runs, ENOENT/ENODEV for a block that is not there, EINVAL
# for one already in the state written) - with the state flipping all the
# time it may never get through, which is the contract - and once the race
# is over, daxctl and memoryN/state must work again; no read of state may
# have waited for a
# transition, the final state must agree with the blocks, MemTotal,
# /proc/iomem and kmem/, "unplugged" must remove everything, and the
# unbind must leave MemTotal and /proc/iomem exactly at the baseline with
# nothing retained. The controllers' random choices come from one seed,
# said in the log: KMEM_SEED=N (make stress STRESS_SEED=N) replays them.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write
require_region big
DURATION=${KMEM_RACE_SECONDS:-45}
SEED=${KMEM_SEED:-$(((RANDOM << 15) | RANDOM))}
READ_MAX_US=3000000
TMP=/tmp/kmem_race.$$
STOP=$TMP/stop

ktap_print_header
ktap_set_plan 8
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
mkdir -p "$TMP"

pids=()
names=()

# children_of PID: the processes whose parent is PID.
children_of() {
	local p st pp

	for p in /proc/[0-9]*; do
		st=$(cat "$p/stat" 2>/dev/null) || continue
		st=${st##*) }
		read -r _ pp _ <<<"$st"
		[ "$pp" = "$1" ] && echo "${p#/proc/}"
	done
}

# stop_all SECONDS: ask the controllers to stop, wait for them; what is
# still running after SECONDS is reported (with the kernel stacks of it and
# its children) and killed. 1 when something had to be killed.
stop_all() {
	local end=$((SECONDS + $1)) i p c l rc=0

	touch "$STOP"
	for i in "${!pids[@]}"; do
		p=${pids[i]}
		while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
			sleep 0.5
		done
		if kill -0 "$p" 2>/dev/null; then
			rc=1
			msg "${names[i]} ($p) still running $1 s after the stop"
			for c in $p $(children_of "$p"); do
				msg "  $c $(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)" \
					"wchan $(cat "/proc/$c/wchan" 2>/dev/null)"
				head -n 8 "/proc/$c/stack" 2>/dev/null |
					while read -r l; do msg "    $l"; done
			done
			for c in $(children_of "$p") $p; do
				kill -KILL "$c" 2>/dev/null
			done
		fi
		wait "$p" 2>/dev/null
	done
	pids=()
	names=()
	return $rc
}

cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	stop_all 120 >/dev/null
	rm -rf "$TMP"
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

kmem_new_device
ST=$SYS_DAX/devices/$dax/state
msg "$DURATION s of racing, seed $SEED (KMEM_SEED=$SEED replays the random choices)"
dax_unbind_any "$dax" || ktap_exit_fail_msg "cannot unbind $dax from $(dax_drv_of "$dax")"
IOMEM_BASE=$(cat /proc/iomem)

policy_bind_movable() {
	expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable &&
		kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bind kmem with policy online_movable: online_movable" policy_bind_movable

# The controllers: each appends "what:result" lines to its log until $STOP.
ctl_blocks() {
	local b w r

	RANDOM=$SEED
	while [ ! -e "$STOP" ]; do
		b=$((s / KMEM_MB + RANDOM % nb))
		w=online_movable
		((RANDOM % 2)) && w=offline
		r=$(sysfs_err "$SYS_MEM/memory$b/state" "$w")
		echo "$w:$r" >>"$TMP/blocks"
		sleep 0.1
	done
	return 0
}

ctl_state() {
	local w r

	while [ ! -e "$STOP" ]; do
		for w in unplugged online_movable; do
			r=$(sysfs_err "$ST" "$w")
			echo "$w:$r" >>"$TMP/state"
		done
		sleep 0.2
	done
	return 0
}

ctl_daxctl() {
	local op

	while [ ! -e "$STOP" ]; do
		for op in offline-memory online-memory; do
			if daxctl "$op" "$dax" >/dev/null 2>&1; then
				echo "$op:OK" >>"$TMP/daxctl"
			else
				echo "$op:failed" >>"$TMP/daxctl"
			fi
			sleep 0.5
		done
	done
	return 0
}

ctl_rebind() {
	local i

	while [ ! -e "$STOP" ]; do
		for i in 1 2 3 4 5 6; do
			[ -e "$STOP" ] && return 0
			sleep 0.5
		done
		echo "unbind:$(sysfs_err "$KMEM_DRV/unbind" "$dax")" >>"$TMP/rebind"
		sleep 1
		echo "bind:$(sysfs_err "$KMEM_DRV/bind" "$dax")" >>"$TMP/rebind"
	done
	return 0
}

reader() {
	local t0 t1 d max=0 n=0 v

	while [ ! -e "$STOP" ]; do
		t0=${EPOCHREALTIME//[.,]/}
		{ read -r v <"$ST"; } 2>/dev/null && n=$((n + 1))
		t1=${EPOCHREALTIME//[.,]/}
		d=$((t1 - t0))
		[ "$d" -le "$max" ] || max=$d
		sleep 0.1
	done
	echo "$n $max" >"$TMP/reader"
	return 0
}

rm -f "$STOP"
for c in ctl_blocks ctl_state ctl_daxctl ctl_rebind reader; do
	"$c" &
	pids+=($!)
	names+=("$c")
done
sleep "$DURATION"

check "every controller stopped within 120 s of the stop (nothing hung)" stop_all 120

summary() {
	[ -e "$TMP/$1" ] || { echo "nothing"; return; }
	sort "$TMP/$1" | uniq -c | tr -s ' \n' ' '
}

progress() {
	local f bad rc=0

	for f in blocks state daxctl rebind; do
		msg "$f: $(summary "$f")"
	done
	for f in state rebind; do
		grep -q ':OK$' "$TMP/$f" 2>/dev/null || { msg "$f never succeeded"; rc=1; }
	done
	grep -q '^bind:OK$' "$TMP/rebind" 2>/dev/null || { msg "bind never succeeded"; rc=1; }
	bad=$(grep -Ev ':(OK|EBUSY|ENOENT|ENODEV|EINVAL)$' "$TMP/blocks" 2>/dev/null | sort -u |
	      tr '\n' ' ')
	eq "memoryN/state results outside OK, EBUSY, ENOENT, ENODEV, EINVAL" "$bad" "" || rc=1
	return $rc
}
check "state and unbind/bind succeeded; memoryN/state refused only as documented" progress

quick_reads() {
	local n max

	read -r n max <"$TMP/reader" 2>/dev/null || { msg "no reader figures"; return 1; }
	msg "$n reads of state, the slowest took $((max / 1000)) ms"
	[ "$n" -gt 0 ] && [ "$max" -lt "$READ_MAX_US" ]
}
check "no read of state waited for a transition (slowest < $((READ_MAX_US / 1000000)) s)" \
	quick_reads

after_race() {
	kmem_bound "$dax" || kmem_bind "$dax" || return 1
	msg "state after the race: $(dax_state "$dax")"
	kmem_consistent "$dax" "$s" "$e" "$base"
}
check "after the race: the state reading, blocks, MemTotal, /proc/iomem and kmem/ agree" after_race

# quiet_again: with no transition running, the other controllers get
# through: daxctl offlines and onlines the memory, and memoryN/state does.
quiet_again() {
	local b=$SYS_MEM/memory$((s / KMEM_MB))

	if [ "$(dax_state "$dax")" != online_movable ]; then
		expect_write OK "$ST" unplugged && expect_write OK "$ST" online_movable || return 1
	fi
	run daxctl offline-memory "$dax" && run daxctl online-memory "$dax" &&
		eq "offline ${b##*/}" "$(sysfs_err "$b/state" offline)" OK &&
		eq "online_movable ${b##*/}" "$(sysfs_err "$b/state" online_movable)" OK &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}
check "after the race: daxctl offline/online-memory and memoryN/state work again" quiet_again

# unplug: once the race is over, "unplugged" works at the first write; a
# refusal is printed with the device's last failure and the kernel log's
# reason.
unplug() {
	write_once "$ST" unplugged "$dax" && state_is unplugged "$dax" "$s" "$e" "$base"
}
check "unplugged: every block removed" unplug

at_baseline() {
	kmem_unbind "$dax" && memtotal_is "$base" && retained_empty && iomem_is "$IOMEM_BASE"
}
check "unbind: MemTotal and /proc/iomem at the baseline, nothing retained" at_baseline

cleanup
ktap_finished
