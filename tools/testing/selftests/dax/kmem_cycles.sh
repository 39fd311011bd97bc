#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Leak hunt: KMEM_CYCLES (default 40, 10 per way out; make stress runs
# 1000) cycles of bind (policy online_movable: every block online), then
# out again, on the small region, rotating over the ways out:
# "unplugged" written to daxX.Y/state then the unbind, the raw driver
# unbind with the memory online, daxctl reconfigure-device --mode=devdax
# -f, and modprobe -r kmem (namespace
# destroy and region disable with memory online are kmem_unbind.sh's).
# After every cycle the device is unbound and MemTotal and /proc/iomem must
# equal the baseline exactly. A KTAP message gives the number of cycles and
# the bytes leaked, which must be 0. The cycles stop early (and the test fails) when
# the next one would not finish within the test's timeout
# ($KMEM_TEST_TIMEOUT for make stress, else the one in settings), less a
# minute for setup and cleanup. 80 cycles took about 300 s on the
# project's machine (120 ran out of time after 112 in 838 s on a day it
# was twice as slow); 40 keep make check's VM stage within CI's time on
# such a day, and make stress runs the long hunt.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl daxctl modprobe
require_progs sysfs_write
require_region small
CYCLES=${KMEM_CYCLES:-40}
TIMEOUT=${KMEM_TEST_TIMEOUT:-$(sed -n 's/^timeout=//p' "$DAX_DIR/settings" 2>/dev/null)}
BUDGET=$((${TIMEOUT:-300} - 60))
PATHS=(state unbind daxctl rmmod)
MAX_MSGS=5

ktap_print_header
ktap_set_plan 6
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"

cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	modprobe kmem 2>/dev/null
	kmem_reset
}
trap cleanup EXIT

new_devdax
ST=$SYS_DAX/devices/$dax/state
size_kb=$(((e - s) / 1024))
dax_unbind_any "$dax" || ktap_exit_fail_msg "cannot unbind $dax from $(dax_drv_of "$dax")"
expect_write OK "$SYS_DAX/devices/$dax/online_policy" online_movable ||
	ktap_exit_fail_msg "cannot set the online_policy of $dax"

# mem_total: set MT to MemTotal in kB, without forking.
mem_total() {
	meminfo_to MT MemTotal
}

# iomem_now: set IOMEM to the text of /proc/iomem, without forking.
iomem_now() {
	local -a lines
	local IFS=$'\n'

	mapfile -t lines </proc/iomem
	IOMEM="${lines[*]}"
}

mem_total
base=$MT
iomem_now
IOMEM_BASE=$IOMEM
msg "$dax on $region: $((size_kb >> 10)) MiB; $CYCLES cycles, ${BUDGET} s budget"

declare -A ran
bind_fail=0 remove_fail=0 memtotal_bad=0 iomem_bad=0 cycles=0 stopped=
max_delta_kb=0

# note COUNTER TEXT: count a failure, say what it was for the first few.
note() {
	local -n counter=$1

	counter=$((counter + 1))
	[ "$counter" -le "$MAX_MSGS" ] && msg "cycle $cycle ($path): $2"
	return 0
}

# bring_back: the device unbound and kmem loaded again after a failed
# step. 1 when memory of the range is still present: no point going on.
bring_back() {
	kmem_loaded || modprobe kmem
	if kmem_bound "$dax"; then
		sysfs_err "$ST" unplugged >/dev/null
		sysfs_err "$KMEM_DRV/unbind" "$dax" >/dev/null
	fi
	dax_unbind_any "$dax" >/dev/null
	blocks_census "$s" "$e"
	[ "$bc_present" = 0 ] && return 0
	msg "cycle $cycle: $bc_present blocks stay, stopping"
	return 1
}

# remove: take the memory out the way $path says; 1 when a step failed.
remove() {
	local r

	case $path in
	state)
		r=$(sysfs_err "$ST" unplugged)
		[ "$r" = OK ] || { note remove_fail "unplugged: $r"; return 1; }
		r=$(sysfs_err "$KMEM_DRV/unbind" "$dax")
		[ "$r" = OK ] || { note remove_fail "unbind: $r"; return 1; }
		;;
	unbind)
		r=$(sysfs_err "$KMEM_DRV/unbind" "$dax")
		[ "$r" = OK ] || { note remove_fail "unbind: $r"; return 1; }
		;;
	daxctl)
		if ! r=$(daxctl reconfigure-device -m devdax -f "$dax" 2>&1 >/dev/null); then
			note remove_fail "daxctl: $(echo "$r" | tail -n 1)"
			return 1
		fi
		[ "$(dax_drv_of "$dax")" = device_dax ] ||
			{ note remove_fail "daxctl: bound to $(dax_drv_of "$dax")"; return 1; }
		r=$(sysfs_err "$SYS_DAX/drivers/device_dax/unbind" "$dax")
		[ "$r" = OK ] || { note remove_fail "device_dax unbind: $r"; return 1; }
		;;
	rmmod)
		if ! modprobe -r kmem 2>/dev/null || kmem_loaded; then
			note remove_fail "modprobe -r kmem failed"
			return 1
		fi
		modprobe kmem || { note remove_fail "modprobe kmem failed"; return 1; }
		;;
	esac
}

one_cycle() {
	local r why ok=1

	path=${PATHS[cycle % ${#PATHS[@]}]}
	ran[$path]=$((${ran[$path]:-0} + 1))

	if kmem_bind "$dax"; then
		mem_total
		r=$(read_word "$ST")
		if [ "$r" != online_movable ] || [ "$MT" != $((base + size_kb)) ]; then
			why="after the bind: state $r, MemTotal +$((MT - base)) kB,"
			note bind_fail "$why want +$size_kb"
		fi
		remove || ok=
	else
		note bind_fail "bind: $kmem_bind_err"
		ok=
	fi
	if kmem_bound "$dax" || [ "$(dax_drv_of "$dax")" != none ]; then
		note remove_fail "still bound to $(dax_drv_of "$dax")"
		ok=
	fi

	mem_total
	[ $((MT - base)) -le "$max_delta_kb" ] || max_delta_kb=$((MT - base))
	[ "$MT" = "$base" ] || note memtotal_bad "MemTotal $((MT - base)) kB off the baseline"
	iomem_now
	if [ "$IOMEM" != "$IOMEM_BASE" ]; then
		note iomem_bad "/proc/iomem differs: $(diff <(echo "$IOMEM_BASE") <(echo "$IOMEM") |
			grep '^[<>]' | head -n 3 | tr '\n' '|')"
	fi
	[ -n "$ok" ] || bring_back
}

start=$SECONDS
for ((cycle = 0; cycle < CYCLES; cycle++)); do
	elapsed=$((SECONDS - start))
	if [ "$cycle" -gt 0 ] && [ $((elapsed + elapsed / cycle + 1)) -gt "$BUDGET" ]; then
		stopped="out of time after $cycle cycles in $elapsed s"
		break
	fi
	one_cycle || { stopped="memory stuck after cycle $cycle"; cycles=$((cycle + 1)); break; }
	cycles=$((cycle + 1))
	[ $((cycles % 10)) = 0 ] && msg "$cycles cycles, $((SECONDS - start)) s"
done

blocks_census "$s" "$e"
mem_total
leaked=$bc_present_bytes
[ $(((MT - base) * 1024)) -le "$leaked" ] || leaked=$(((MT - base) * 1024))
msg "cycles=$cycles leaked_bytes=$leaked in $((SECONDS - start)) s" \
	"(state ${ran[state]:-0}, unbind ${ran[unbind]:-0}, daxctl ${ran[daxctl]:-0}," \
	"rmmod ${ran[rmmod]:-0}); largest MemTotal excess after a cycle: $max_delta_kb kB"
[ -z "$stopped" ] || msg "stopped: $stopped"

all_cycles_ran() {
	[ -z "$stopped" ] && [ "$cycles" = "$CYCLES" ]
}
check "$CYCLES cycles ran${stopped:+ ($stopped)}" all_cycles_ran

# cycles_none_bad COUNT: cycles ran, and COUNT of them went wrong: none.
cycles_none_bad() {
	[ "$cycles" -gt 0 ] && [ "$1" = 0 ]
}
check "every bind brought all the memory online_movable ($bind_fail failed)" \
	cycles_none_bad "$bind_fail"
check "every removal step succeeded ($remove_fail failed)" \
	cycles_none_bad "$remove_fail"
check "MemTotal equal to the baseline after every cycle ($memtotal_bad differed)" \
	cycles_none_bad "$memtotal_bad"
check "/proc/iomem equal to the baseline after every cycle ($iomem_bad differed)" \
	cycles_none_bad "$iomem_bad"

nothing_leaked() {
	[ "$leaked" = 0 ] && retained_empty
}
check "no memory leaked: $leaked bytes" nothing_leaked

cleanup
ktap_finished
