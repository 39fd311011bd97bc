#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every offline kmem starts ends within its budget, from any loop, and
# signals do what the admin guide says. The big region, online_movable,
# kmem.offline_timeout_ms=1000, kmem.unbind_timeout_ms=4000:
#  (a) test_pages_isolated() made to fail through fail_function (patch
#      0008), as a page that is neither free nor movable does: nothing is
#      left to migrate, so only a deadline checked in offline_pages()'
#      outer loop ends it. The unbind returns, every block retained with
#      ETIMEDOUT, "timeout, pages still in use" and pfn unknown; it took the
#      unbind budget, not a timeout per block (that would be more than
#      blocks x offline_timeout_ms);
#  (b) with the injection still on, the background retry runs bounded
#      rounds: a bind re-adopts the memory (cancelling the worker) within
#      the budget, and it is all still there;
#  (c) injection off, a page pinned by a pipe (vmsplice): SIGTERM (what
#      systemd sends first) to an unbinder that handles it, delivered
#      mid-migration, changes nothing: only the pinned blocks are retained,
#      with ETIMEDOUT (not EINTR). The handler must have run: the signal
#      was really pending. (Not SIGINT: a shell's background job ignores
#      it, and a signal ignored on entry cannot be trapped.)
#  (d) SIGKILL to an unbinder mid-migration: the unbind ends at once and
#      hands what is left to the background worker, which removes it all
#      once the pin is gone; then device_dax can take the device again.
# Ends with the region clean.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write page_pin
require_region big
PAGE=$(getconf PAGESIZE)
FF=/sys/kernel/debug/fail_function
PFNS=/tmp/kmem_bounds.$$.pfns
OUT=/tmp/kmem_bounds.$$.out
UNB=/tmp/kmem_bounds.$$.unbind
T_BLOCK=1000
T_UNBIND=4000

[ -d "$FF" ] || { ktap_skip_all "no $FF (CONFIG_FAIL_FUNCTION)"; exit "$KSFT_SKIP"; }

ktap_print_header
ktap_set_plan 11
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

# isolation_fails on|off: make test_pages_isolated() fail with -EBUSY every
# time, quietly (verbose 0: no stack traces in the log), or stop it. retval
# is read as an unsigned 64-bit number: -EBUSY in two's complement.
isolation_fails() {
	if [ "$1" = on ]; then
		echo test_pages_isolated >"$FF/inject" &&
			printf '%#x\n' -16 >"$FF/test_pages_isolated/retval" &&
			echo 0 >"$FF/verbose" && echo 100 >"$FF/probability" &&
			echo 1 >"$FF/interval" && echo -1 >"$FF/times" &&
			echo 0 >"$FF/space" && echo N >"$FF/task-filter"
	else
		echo >"$FF/inject"
	fi
}

pin_pid=
unb_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	isolation_fails off 2>/dev/null
	[ -n "$unb_pid" ] && kill -KILL "$unb_pid" 2>/dev/null
	[ -n "$pin_pid" ] && kill -KILL "$pin_pid" 2>/dev/null && wait "$pin_pid" 2>/dev/null
	rm -f "$PFNS" "$OUT" "$UNB"
	[ -n "$dax" ] && kmem_bound "$dax" && sysfs_err "$KMEM_DRV/unbind" "$dax" >/dev/null
	wait_until 60 retained_none
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

kmem_new_unbound online_movable
if ! kmem_param_set offline_timeout_ms $T_BLOCK || ! kmem_param_set unbind_timeout_ms $T_UNBIND ||
   ! kmem_param_set unplug_retries 2 || ! kmem_param_set retry_max_delay_ms 1000; then
	ktap_exit_fail_msg "cannot set the kmem parameters"
fi

bind_movable_whole() {
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bind with policy online_movable: every block online in ZONE_MOVABLE" bind_movable_whole

# unbind_bg [handled_term]: unbind $dax from kmem in the background;
# unb_pid is the pid of the process that writes (it gets the signals). Its
# first line of output in $UNB is OK or the errno. With handled_term the
# writer is a bash that handles SIGTERM: the signal is pending during the
# write, but not fatal.
unbind_bg() {
	rm -f "$UNB"
	if [ "${1:-}" = handled_term ]; then
		bash -c 'trap "echo got SIGTERM" TERM
			 if echo "$1" >"$2"; then echo OK; else echo FAILED; fi' \
			handled_term "$dax" "$KMEM_DRV/unbind" >"$UNB" 2>&1 &
	else
		"$SYSFS_WRITE" "$KMEM_DRV/unbind" "$dax" >"$UNB" 2>&1 &
	fi
	unb_pid=$!
}

# --- (a) a page that is neither free nor movable, on every block ---

took=0
unbind_busy() {
	local t0 rc

	isolation_fails on || { msg "cannot set up fail_function"; return 1; }
	t0=$SECONDS
	unbind_bg
	# far beyond the budget: without a bound it would never end
	wait_exit "$unb_pid" $((T_UNBIND / 1000 + nb * T_BLOCK / 1000 * 4 + 60))
	rc=$?
	took=$((SECONDS - t0))
	unb_pid=
	msg "unbind with every block busy: $took s, '$(tr '\n' ' ' <"$UNB")'"
	eq "unbinder exit status" "$rc" 0 && eq "unbind" "$(head -n 1 "$UNB")" OK &&
		! kmem_bound "$dax"
}
check "(a) unbind with every block busy returns; the device is unbound" unbind_busy

all_retained() {
	local rc=0

	retained_single || return 1
	retained_whole "$s" "$e" "$node" || rc=1
	eq "present_bytes" "$rt_present" $((e - s)) || rc=1
	errno_is "$rt_errno" ETIMEDOUT 110 || { msg "errno $rt_errno, want ETIMEDOUT"; rc=1; }
	eq "reason" "$rt_reason" "timeout, pages still in use" || rc=1
	failure_pfn_ok "$rt_reason" "$rt_pfn" || rc=1
	return $rc
}
check "(a) all $nb blocks retained: ETIMEDOUT, pages still in use, pfn unknown" all_retained

# The old shape (a timeout per block, rounds while any block goes) needs
# at least blocks x offline_timeout_ms here; the budget is unbind_timeout_ms
# plus one quick attempt per block left.
within_budget() {
	msg "took $took s: budget $((T_UNBIND / 1000)) s," \
		"$nb blocks x $((T_BLOCK / 1000)) s = $((nb * T_BLOCK / 1000)) s"
	[ "$took" -lt $((nb * T_BLOCK / 1000)) ]
}
check "(a) the unbind took the budget, not a timeout per block" within_budget

# --- (b) the background retry under the same injection ---

readopt_busy() {
	local t0 rc

	sleep 2		# let the worker start a round
	t0=$SECONDS
	"$SYSFS_WRITE" "$KMEM_DRV/bind" "$dax" >"$UNB" 2>&1 &
	unb_pid=$!
	wait_exit "$unb_pid" $((T_UNBIND / 1000 * 2 + nb + 60))
	rc=$?
	unb_pid=
	msg "bind while the worker runs: $((SECONDS - t0)) s, '$(tr '\n' ' ' <"$UNB")'"
	eq "binder exit status" "$rc" 0 && eq "bind" "$(head -n 1 "$UNB")" OK &&
		kmem_bound "$dax" && retained_empty
}
check "(b) a bind re-adopts while the worker retries: it waits for a bounded round" readopt_busy

readopted_movable() {
	isolation_fails off && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "(b) re-adopted: every block still online in ZONE_MOVABLE" readopted_movable

# --- (c) and (d): a real signal while a pinned page is being migrated ---

kmem_param_set offline_timeout_ms 6000 && kmem_param_set unbind_timeout_ms 30000 ||
	ktap_exit_fail_msg "cannot set the kmem parameters"

# pinned_going_offline: a block holding a pinned page is being offlined.
pinned_going_offline() {
	local b st

	for b in $pinned; do
		st=
		{ read -r st <"$SYS_MEM/memory$b/state"; } 2>/dev/null
		[ "$st" = going-offline ] && return 0
	done
	return 1
}

# signal_mid_migration SIGNAL [handled_term]: pin, unbind (unbind_bg), send
# SIGNAL once a pinned block is going offline; wait for the unbinder.
signal_mid_migration() {
	local sig=$1 rc

	shift
	start_pin vmsplice 1M || return 1
	pfns_in_device
	msg "pinned pages in blocks: ${pinned:-none}"
	[ -n "$pinned" ] || { msg "no pinned page on $dax"; return 1; }
	unbind_bg "$@"
	if ! wait_until 60 pinned_going_offline; then
		msg "no pinned block went offline"
		return 1
	fi
	kill "-$sig" "$unb_pid"
	wait_exit "$unb_pid" 120
	rc=$?
	unb_pid=
	msg "unbinder after SIG$sig: exit $rc, '$(tr '\n' ' ' <"$UNB")'"
	return 0
}

only_pinned_retained() {
	local b bytes=0 rc=0

	signal_mid_migration TERM handled_term || return 1
	grep -q '^got SIGTERM' "$UNB" || { msg "the handler did not run"; rc=1; }
	grep -q '^OK$' "$UNB" || { msg "the unbind write failed"; rc=1; }
	kmem_bound "$dax" && { msg "$dax still bound"; rc=1; }
	retained_single || return 1
	blocks_census "$s" "$e"
	eq "retained blocks" "$(kmem_present_blocks "$s" "$e")" "$pinned" || rc=1
	for b in $pinned; do
		bytes=$((bytes + $(block_part "$b" "$s" "$e")))
	done
	eq "present_bytes" "$rt_present" "$bytes" || rc=1
	errno_is "$rt_errno" ETIMEDOUT 110 ||
		{ msg "errno $rt_errno, want ETIMEDOUT (EINTR: the signal stopped it)"; rc=1; }
	return $rc
}
check "(c) SIGTERM handled by the unbinder, mid-migration: only pinned blocks retained, ETIMEDOUT" \
	only_pinned_retained

# released_all_gone: the pin released, the worker removes what was
# retained; MemTotal and /proc/iomem back at the baseline.
released_all_gone() {
	stop_pin && wait_until 60 retained_none && kmem_gone "$s" "$e" "$base" &&
		same_text "/proc/iomem" "$IOMEM0" "$(cat /proc/iomem)"
}
check "(c) the pin released: the worker removes the rest; MemTotal, /proc/iomem at the baseline" \
	released_all_gone

killed_hands_over() {
	local rc=0

	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base" || return 1
	signal_mid_migration KILL || return 1
	kmem_bound "$dax" && { msg "$dax still bound"; rc=1; }
	# the rest was not given up on: the worker has it
	retained_single || return 1
	msg "handed to the worker: $rt_present bytes"
	[ "$rt_present" -gt 0 ] || rc=1
	# "signal backoff" (or a reason of the worker's round) names a page
	# only where one is to blame
	failure_pfn_ok "$rt_reason" "$rt_pfn" || rc=1
	return $rc
}
check "(d) SIGKILL mid-migration: the unbind ends, what is left is retained for the worker" \
	killed_hands_over

check "(d) the pin released: the worker removes it all, MemTotal and /proc/iomem at the baseline" \
	released_all_gone

devdax_binds() {
	eq "bind device_dax" "$(sysfs_err "$SYS_DAX/drivers/device_dax/bind" "$dax")" OK
}
check "(d) device_dax takes the device again" devdax_binds

cleanup
ktap_finished
