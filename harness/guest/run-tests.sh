#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the dax selftests in the VM and print TAP like run_kselftest.sh does,
# with these differences: the kernel log is read after each test, and a
# report matching splat.sh during a test fails that test (a report from a
# workqueue is said to be asynchronous work, which an earlier test may have
# started); lockdep must be on when each test starts and still on when it
# ends (it switches itself off after its first report or a kernel taint),
# except after the tests in LOCKDEP_OFF_OK; a final result says whether
# lockdep stayed on. kmemleak: what boot left is cleared before the first
# test; a scan after each test in KMEMLEAK_AFTER and one after the suite
# (before the first LOCKDEP_OFF_OK test, which may leak on purpose) are
# results of their own, failed by any unreferenced object whose allocation
# backtrace passes through hotplug, dax or kmem code (KMEMLEAK_OURS);
# other objects are listed, not failed. $KMEM_TESTS (comma separated)
# selects tests.
KSFT=/kselftest
# shellcheck source=splat.sh
. "$(dirname "$0")/splat.sh"
[ -n "$SPLAT" ] || { echo "Bail out! no splat patterns (splat.sh)"; exit 1; }
# Tests that end with lockdep off on purpose: rmmod -f taints the kernel
# (TAINT_FORCED_RMMOD), which turns lock debugging off; such a test must be
# the last one (any test after it fails for running without lockdep).
LOCKDEP_OFF_OK=" kmem_unload_forced.sh "
# The cycle test: hundreds of hot-adds and removes, scanned on its own.
KMEMLEAK_AFTER=" kmem_cycles.sh "
KMEMLEAK=/sys/kernel/debug/kmemleak
# An allocation backtrace through any of these is the series' (or the
# hotplug and dax code it drives): its leak fails the run. kmemleak prints
# one "    function+off/size [module]" line per frame; the records below
# join an object's lines with a literal \n.
KMEMLEAK_OURS='\[(kmem|device_dax|dax_pmem|dax_hmem|dax_cxl)\]|\\n +(devm_)?(dax_|dev_dax|alloc_dax|kill_dax|nvdimm_|nd_region|nd_namespace|nd_dax|nd_pfn|nd_btt|nd_device|__nd_|pmem_)|\\n +_*(add_memory|remove_memory|try_remove_memory|offline_and_remove_memory|online_pages|offline_pages|online_memory_block|memory_block_|create_memory_block|add_memory_block|remove_memory_block|memory_group|register_memory|__add_pages|add_pages|arch_add_memory|arch_remove_memory|sparse_add_section|section_activate|vmemmap_|memory_notify|walk_.*_range|insert_resource|request_resource|__request_region|release_mem_region|__release_region|__register_one_node|register_one_node|setup_zone_pageset)'

# lockdep_on: 1 while lock debugging is on, 0 once it switched itself off,
# "none" without lockdep.
lockdep_on() {
	local v

	v=$(awk '/debug_locks:/ { print $2 }' /proc/lockdep_stats 2>/dev/null)
	echo "${v:-none}"
}

# kmemleak_scan: scan twice (an object must stay unreferenced for a whole
# scan and be at least 5 s old to be reported) and leave the report, one
# object per paragraph, in /tmp/kmemleak.txt. Fails when kmemleak is off.
kmemleak_scan() {
	sleep 6
	echo scan >"$KMEMLEAK" 2>/dev/null && echo scan >"$KMEMLEAK" 2>/dev/null &&
		cat "$KMEMLEAK" >/tmp/kmemleak.txt 2>/dev/null
}

# kmemleak_result N WHEN: result N, objects reported since the last clear
# (then cleared, so the next result counts only what is new).
kmemleak_result() {
	local ours others

	if ! kmemleak_scan; then
		echo "not ok $1 kmemleak $2 # kmemleak is off: $(dmesg | grep -m1 -i kmemleak)"
		return 1
	fi
	# One record per object: "unreferenced object" starts it.
	awk '/^unreferenced object/ { if (r != "") print r; r = "" }
	     { r = r $0 "\\n" } END { if (r != "") print r }' /tmp/kmemleak.txt >/tmp/kmemleak.rec
	ours=$(grep -cE "$KMEMLEAK_OURS" /tmp/kmemleak.rec)
	others=$(($(wc -l </tmp/kmemleak.rec) - ours))
	echo "# kmemleak $2: $ours object(s) from hotplug/dax/kmem paths, $others other(s)"
	if [ "$others" -gt 0 ]; then
		echo "# the others (first backtrace lines; not failed: not allocated on our paths):"
		grep -vE "$KMEMLEAK_OURS" /tmp/kmemleak.rec | head -5 |
			sed 's/\\n/\n/g' | grep -E '^  comm|^    ' | head -30 | sed 's/^/# | /'
	fi
	echo clear >"$KMEMLEAK"
	if [ "$ours" -gt 0 ]; then
		grep -E "$KMEMLEAK_OURS" /tmp/kmemleak.rec | head -5 |
			sed 's/\\n/\n/g' | head -60 | sed 's/^/# | /'
		echo "not ok $1 kmemleak $2"
		return 1
	fi
	echo "ok $1 kmemleak $2"
}

# injection_armed: the fault-injection points a test left armed, one a
# line (nothing when none); injection_disarm: disarm them all. A test
# killed at its timeout never runs its cleanup: the next must not inherit
# its injected failures.
DBG=/sys/kernel/debug
injection_armed() {
	local f

	for f in failslab fail_page_alloc fail_dax_kmem; do
		[ "$(cat "$DBG/$f/probability" 2>/dev/null || echo 0)" = 0 ] || echo "$f"
	done
	[ -z "$(cat "$DBG/fail_function/inject" 2>/dev/null)" ] || echo fail_function
	for f in "$DBG"/notifier-error-inject/*/actions/*/error; do
		[ -e "$f" ] || continue
		[ "$(cat "$f")" = 0 ] || echo "${f#"$DBG"/notifier-error-inject/}"
	done
}

injection_disarm() {
	local f

	for f in failslab fail_page_alloc fail_dax_kmem; do
		echo 0 >"$DBG/$f/probability" 2>/dev/null
	done
	echo >"$DBG/fail_function/inject" 2>/dev/null
	for f in "$DBG"/notifier-error-inject/*/actions/*/error; do
		[ -e "$f" ] && echo 0 >"$f"
	done
	return 0
}

# timeout_of DIR: a test's timeout in seconds: $KMEM_TEST_TIMEOUT (make
# stress) or the directory's settings file (kselftest's default of 45 s).
timeout_of() {
	local t

	t=$(sed -n 's/^timeout=//p' "$KSFT/$1/settings" 2>/dev/null)
	echo "${KMEM_TEST_TIMEOUT:-${t:-45}}"
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
# $KMEM_REPEAT: the selection N times over, in order (hunting a flake).
case ${KMEM_REPEAT:-1} in
"" | *[!0-9]* | 0) echo "Bail out! kmemtest.repeat=$KMEM_REPEAT: want a number of 1 or more"; exit 1 ;;
esac
if [ "${KMEM_REPEAT:-1}" -gt 1 ]; then
	sel=()
	for ((i = 0; i < KMEM_REPEAT; i++)); do
		sel+=("${list[@]}")
	done
	list=("${sel[@]}")
fi

/harness/labels.sh >/dev/null 2>&1 || echo "# label init failed"

# The VM's kernel is built with lockdep: without it every result would say
# so, hiding the cause.
[ "$(lockdep_on)" != none ] ||
	{ echo "Bail out! no /proc/lockdep_stats: the test kernel is built without lockdep"; exit 1; }

# Every failed online or offline says why in the kernel log, a foreign
# memoryN/state write's too (mm/memory_hotplug.c keeps the reason in a
# pr_debug()): a test that sees an unexpected error prints it.
echo 'file mm/memory_hotplug.c format failed +p' >/proc/dynamic_debug/control 2>/dev/null ||
	{ echo "Bail out! cannot enable mm/memory_hotplug.c's debug messages (CONFIG_DYNAMIC_DEBUG)"; exit 1; }

# kmemleak is built in: what boot left behind is not any test's.
[ -w "$KMEMLEAK" ] || { echo "Bail out! no $KMEMLEAK: the test kernel is built without kmemleak"; exit 1; }
if kmemleak_scan; then
	echo "# kmemleak: $(grep -c '^unreferenced object' /tmp/kmemleak.txt) object(s) left by boot, cleared"
	echo clear >"$KMEMLEAK"
fi

# One kmemleak result after each selected test of KMEMLEAK_AFTER, and one
# after the suite (before the first LOCKDEP_OFF_OK test, if selected).
scans=1
for t in "${list[@]}"; do
	[ "${KMEMLEAK_AFTER/ ${t#*:} /}" = "$KMEMLEAK_AFTER" ] || scans=$((scans + 1))
done

# Boot messages are not any test's: keep them apart, check them too.
dmesg -c >/tmp/dmesg.boot
echo "TAP version 13"
echo "1..$((${#list[@]} + 2 + scans))"
n=0
failed=0
retries=0
lockdep_off_by=
suite_scanned=
for t in "${list[@]}"; do
	n=$((n + 1))
	dir=${t%%:*}
	name=${t#*:}
	if [ -z "$suite_scanned" ] && [ "${LOCKDEP_OFF_OK/ $name /}" != "$LOCKDEP_OFF_OK" ]; then
		kmemleak_result "$n" "after the suite" || failed=$((failed + 1))
		suite_scanned=1
		n=$((n + 1))
	fi
	echo "# selftests: $dir: $name"
	# The console's timestamps place each test, even in a run cut short.
	echo "kmem-selftest: start $name" >/dev/kmsg 2>/dev/null
	t0=$(date +%s)
	ld0=$(lockdep_on)
	# Own session and process group, so that a timeout kills the test
	# and everything it started (a daxctl stuck in offline, ...).
	rm -f /tmp/profile.txt
	(cd "$KSFT/$dir" && export KMEM_PROFILE=/tmp/profile.txt &&
		exec setsid "./$name") >/tmp/test.out 2>&1 &
	pid=$!
	(sleep "$(timeout_of "$dir")" && kill -KILL -- -"$pid") 2>/dev/null &
	watchdog=$!
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	sed 's/^/# /' /tmp/test.out
	echo "# $name: $(($(date +%s) - t0)) s"
	# where the time went: its slowest checks (dax_lib.sh check())
	sort -rn /tmp/profile.txt 2>/dev/null | head -n 6 | cut -c 1-120 |
		sed "s/^/# slowest of $name: /"
	# a test says each documented retry it made in a "retry:" message
	r=$(grep -c '^# retry: ' /tmp/test.out)
	[ "$r" = 0 ] || echo "# $name: $r retr$([ "$r" = 1 ] && echo y || echo ies)"
	retries=$((retries + r))
	armed=$(injection_armed | tr '\n' ' ')
	injection_disarm
	# a test killed at its timeout may have left udev's queue stopped
	udevadm control --start-exec-queue 2>/dev/null
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
	elif [ -n "$armed" ] && [ "$rc" != 137 ]; then
		echo "not ok $n selftests: $dir: $name # left fault injection armed: $armed"
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
	if [ "${KMEMLEAK_AFTER/ $name /}" != "$KMEMLEAK_AFTER" ]; then
		n=$((n + 1))
		kmemleak_result "$n" "after $name" || failed=$((failed + 1))
	fi
done
if [ -z "$suite_scanned" ]; then
	n=$((n + 1))
	kmemleak_result "$n" "after the suite" || failed=$((failed + 1))
fi
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
echo "# retries: $retries (documented retries the tests made, each said above)"
[ "$failed" = 0 ]
