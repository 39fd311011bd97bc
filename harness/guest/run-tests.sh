#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the dax selftests in the VM and print TAP like run_kselftest.sh does,
# with these differences: the kernel log is read after each test, and a
# report matching splat.sh during a test fails that test (a report from a
# workqueue is said to be asynchronous work, which an earlier test may have
# started); lockdep must be on when each test starts and still on when it
# ends (it switches itself off after its first report or a kernel taint),
# except after the tests in LOCKDEP_OFF_OK; a final result says whether
# lockdep stayed on. $KMEM_TESTS (comma separated) selects tests.
KSFT=/kselftest
# shellcheck source=splat.sh
. "$(dirname "$0")/splat.sh"
[ -n "$SPLAT" ] || { echo "Bail out! no splat patterns (splat.sh)"; exit 1; }
# Tests that end with lockdep off on purpose: rmmod -f taints the kernel
# (TAINT_FORCED_RMMOD), which turns lock debugging off; such a test must be
# the last one (any test after it fails for running without lockdep).
LOCKDEP_OFF_OK=" kmem_unload_forced.sh "

# lockdep_on: 1 while lock debugging is on, 0 once it switched itself off,
# "none" without lockdep.
lockdep_on() {
	local v

	v=$(awk '/debug_locks:/ { print $2 }' /proc/lockdep_stats 2>/dev/null)
	echo "${v:-none}"
}

timeout_of() {
	local t

	t=$(sed -n 's/^timeout=//p' "$KSFT/$1/settings" 2>/dev/null)
	echo "${t:-45}"
}

mapfile -t list < <(grep -v '^#' "$KSFT/kselftest-list.txt")
[ "${#list[@]}" -gt 0 ] || { echo "Bail out! no selftests installed"; exit 1; }
if [ -n "$KMEM_TESTS" ]; then
	sel=()
	for t in "${list[@]}"; do
		case ",$KMEM_TESTS," in
		*",${t#*:},"*) sel+=("$t") ;;
		esac
	done
	list=("${sel[@]}")
	[ "${#list[@]}" -gt 0 ] || { echo "Bail out! no selftest matches '$KMEM_TESTS'"; exit 1; }
fi

/harness/labels.sh >/dev/null 2>&1 || echo "# label init failed"

# The VM's kernel is built with lockdep: without it every result would say
# so, hiding the cause.
[ "$(lockdep_on)" != none ] ||
	{ echo "Bail out! no /proc/lockdep_stats: the test kernel is built without lockdep"; exit 1; }

# Boot messages are not any test's: keep them apart, check them too.
dmesg -c >/tmp/dmesg.boot
echo "TAP version 13"
echo "1..$((${#list[@]} + 2))"
n=0
failed=0
lockdep_off_by=
for t in "${list[@]}"; do
	n=$((n + 1))
	dir=${t%%:*}
	name=${t#*:}
	echo "# selftests: $dir: $name"
	ld0=$(lockdep_on)
	# Own session and process group, so that a timeout kills the test
	# and everything it started (a daxctl stuck in offline, ...).
	(cd "$KSFT/$dir" && exec setsid "./$name") >/tmp/test.out 2>&1 &
	pid=$!
	(sleep "$(timeout_of "$dir")" && kill -KILL -- -"$pid") 2>/dev/null &
	watchdog=$!
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	sed 's/^/# /' /tmp/test.out
	dmesg -c >/tmp/dmesg.test
	cat /tmp/dmesg.test >>/tmp/dmesg.all
	ld1=$(lockdep_on)
	if grep -Eq "$SPLAT" /tmp/dmesg.test; then
		echo "# kernel log during $name:"
		grep -E -B2 -A25 "$SPLAT" /tmp/dmesg.test | head -60 | sed 's/^/# | /'
		if grep -m1 -B6 'Call Trace:' /tmp/dmesg.test | grep -q 'Workqueue: '; then
			echo "# the report came from a workqueue: asynchronous work, possibly started by an earlier test"
		fi
		echo "not ok $n selftests: $dir: $name # kernel splat"
		failed=$((failed + 1))
	elif [ "$ld0" != 1 ]; then
		echo "# lockdep was ${ld0/0/off} when $name started${lockdep_off_by:+ (switched off during $lockdep_off_by)}"
		echo "not ok $n selftests: $dir: $name # ran without lockdep"
		failed=$((failed + 1))
	elif [ "$ld1" != 1 ] && [ "${LOCKDEP_OFF_OK/ $name /}" = "$LOCKDEP_OFF_OK" ]; then
		echo "# lockdep switched itself off during $name:"
		grep -E -B2 -A10 'lock debugging|lockdep|LOCKDEP|MAX_LOCK' /tmp/dmesg.test | head -20 | sed 's/^/# | /'
		echo "not ok $n selftests: $dir: $name # lockdep switched off"
		failed=$((failed + 1))
	elif [ "$rc" = 137 ]; then
		echo "not ok $n selftests: $dir: $name # TIMEOUT"
		failed=$((failed + 1))
	elif [ "$rc" = 4 ]; then
		echo "ok $n selftests: $dir: $name # SKIP"
	elif [ "$rc" = 0 ]; then
		echo "ok $n selftests: $dir: $name"
	else
		echo "not ok $n selftests: $dir: $name # exit=$rc"
		failed=$((failed + 1))
	fi
	if [ "$ld0" = 1 ] && [ "$ld1" != 1 ] && [ -z "$lockdep_off_by" ]; then
		lockdep_off_by=$name
		echo "# lockdep is off from here on (switched off during $name)"
	fi
done
n=$((n + 1))
if grep -Eq "$SPLAT" /tmp/dmesg.boot; then
	grep -E -A25 "$SPLAT" /tmp/dmesg.boot | head -40 | sed 's/^/# | /'
	echo "not ok $n boot: kernel log clean"
	failed=$((failed + 1))
else
	echo "ok $n boot: kernel log clean"
fi
n=$((n + 1))
if [ -z "$lockdep_off_by" ] && [ "$(lockdep_on)" = 1 ]; then
	echo "ok $n lockdep on throughout"
elif [ -n "$lockdep_off_by" ] && [ "${LOCKDEP_OFF_OK/ $lockdep_off_by /}" != "$LOCKDEP_OFF_OK" ]; then
	echo "ok $n lockdep on throughout, until $lockdep_off_by switched it off on purpose"
else
	echo "not ok $n lockdep on throughout (now: $(lockdep_on)${lockdep_off_by:+, off since $lockdep_off_by})"
	failed=$((failed + 1))
fi
[ "$failed" = 0 ]
