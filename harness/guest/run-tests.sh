#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the dax selftests in the VM and print TAP like run_kselftest.sh does,
# with one difference: the kernel log is read after each test, and a
# WARNING/BUG/Oops/lockdep/KASAN report during a test fails that test.
# $KMEM_TESTS (comma separated) selects tests.
KSFT=/kselftest
SPLAT='WARNING:|BUG:|Oops|Kernel panic|general protection fault|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|KASAN:|UBSAN:|INFO: task .* blocked|soft lockup|hard LOCKUP|Call Trace:'

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

# Boot messages are not any test's: keep them apart, check them too.
dmesg -c >/tmp/dmesg.boot
echo "TAP version 13"
echo "1..$((${#list[@]} + 1))"
n=0
failed=0
for t in "${list[@]}"; do
	n=$((n + 1))
	dir=${t%%:*}
	name=${t#*:}
	echo "# selftests: $dir: $name"
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
	if grep -Eq "$SPLAT" /tmp/dmesg.test; then
		echo "# kernel log during $name:"
		grep -E -B2 -A25 "$SPLAT" /tmp/dmesg.test | head -60 | sed 's/^/# | /'
		echo "not ok $n selftests: $dir: $name # kernel splat"
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
done
n=$((n + 1))
if grep -Eq "$SPLAT" /tmp/dmesg.boot; then
	grep -E -A25 "$SPLAT" /tmp/dmesg.boot | head -40 | sed 's/^/# | /'
	echo "not ok $n boot: kernel log clean"
	failed=$((failed + 1))
else
	echo "ok $n boot: kernel log clean"
fi
[ "$failed" = 0 ]
