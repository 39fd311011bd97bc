#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of vm_evidence (harness/check.sh), which prints, next to make
# check's failures, why a check VM failed: the first splat of its console,
# or the last console lines of a run that did not finish, with the test it
# was in and vm.sh's reason. A CI log that keeps only its tail must show
# the cause. Fake VM directories stand for the runs. Then stale_int3
# (harness/vm.sh), the one boot failure vm.sh boots a VM again for, on
# consoles cut from a real one. Prints one TAP line per check.
set -uo pipefail
CHECK=$(cd "$(dirname "$0")/.." && pwd)/check.sh
SPLATS=$(dirname "$CHECK")/guest/splat.sh
VDIR=$(mktemp -d)
trap 'rm -rf "$VDIR"' EXIT

# The function under test, taken from check.sh as it is (check.sh runs
# the whole check when sourced).
# shellcheck source=/dev/null
. <(sed -n '/^vm_evidence() {/,/^}/p' "$CHECK")
declare -F vm_evidence >/dev/null ||
	{ echo "not ok - vm_evidence found in check.sh"; exit 1; }
# shellcheck source=../guest/splat.sh
. "$SPLATS"

n=0
fails=0
# expect NAME WANT: vm_evidence's output is exactly WANT.
expect() {
	local got

	n=$((n + 1))
	got=$(vm_evidence 2>&1)
	if [ "$got" = "$2" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		diff <(echo "$2") <(echo "$got") | sed 's/^/# /'
		fails=$((fails + 1))
	fi
}

# vm I CONSOLE-LINES OUT-LINES [ENDED]: VM I's logs.
vm() {
	mkdir -p "$VDIR/vm/$1"
	printf '%b' "$2" >"$VDIR/vm/$1/console-check.log"
	printf '%b' "$3" >"$VDIR/vm/$1/out-check.log"
	if [ -n "${4:-}" ]; then
		echo "$4" >"$VDIR/vm/$1/ended-early"
	else
		rm -f "$VDIR/vm/$1/ended-early"
	fi
}

# shellcheck disable=SC2034 # read by vm_evidence
shards=2
done1='# selftests: dax: a.sh\nKMEM-CHECK-EXIT 0\n'
vm 1 'boot\npower off\n' "$done1"
vm 2 'boot\n' '# selftests: dax: b.sh\nKMEM-CHECK-EXIT 0\n'
expect "two clean VMs that finished: nothing" ""

long=$(printf 'x%.0s' {1..200})
vm 2 "boot\nkmem-selftest: start c.sh\r\n[ 9.1] BUG: unable to handle page fault\r\n[ 9.2] RIP: f\n$long\n" \
	'# selftests: dax: b.sh\n# selftests: dax: c.sh\n' "VM 2: ended without finishing after 950 s (qemu rc=0)"
expect "a VM that died on an oops: its first splat, the test it was in, vm.sh's reason, lines cut at 160" \
"==== VM 2 console, its first splat (line 3; the last test begun: c.sh):
VM 2: ended without finishing after 950 s (qemu rc=0)
[ 9.1] BUG: unable to handle page fault
[ 9.2] RIP: f
${long:0:160}"

vm 2 "$(printf 'l%s\\n' {1..15})" '# selftests: dax: b.sh\n' "VM 2: hard timeout after 3000s"
expect "a VM that did not finish, no splat: its last 12 console lines" \
"==== VM 2 did not finish (the last test begun: b.sh); its console's last lines:
VM 2: hard timeout after 3000s
$(printf 'l%s\n' {4..15})"

vm 1 'boot\nWARNING: CPU: 0 PID: 1 at x\nmore\n' "$done1"
vm 2 'boot\n' '# selftests: dax: b.sh\nKMEM-CHECK-EXIT 0\n'
expect "a VM that finished with a splat in its console: the splat" \
"==== VM 1 console, its first splat (line 2; the last test begun: a.sh):
WARNING: CPU: 0 PID: 1 at x
more"

rm -f "$VDIR"/vm/1/*
vm 2 'boot\n' ''
expect "a VM with no console log and one that never started a test" \
"==== VM 2 did not finish (the last test begun: none); its console's last lines:
boot"

# shellcheck disable=SC2034 # read by vm_evidence
SPLAT=
expect "no pattern list: nothing (check.sh fails the console check itself)" ""

# stale_int3 (harness/vm.sh): the one boot failure vm.sh boots again for.
# shellcheck source=../guest/splat.sh
. "$SPLATS"
# shellcheck source=/dev/null
. <(sed -n '/^stale_int3() {/,/^}/p' "$(dirname "$CHECK")/vm.sh")
if ! declare -F stale_int3 >/dev/null; then
	echo "not ok $((n + 1)) - stale_int3 found in vm.sh"
	exit 1
fi
# int3_console BYTE [BEFORE]: a console whose first splat is an int3 Oops
# that ran BYTE at RIP-1 (the lines as the run of 2026-12-05 printed them,
# cut), BEFORE lines ahead of it.
int3_console() {
	printf '%b' "${2:-}"
	printf '[   33.888758] sched_clock: Marking stable (33810079215, 77811550)\n'
	printf '[   33.894554] Oops: int3: 0000 [#1] PREEMPT SMP KASAN NOPTI\n'
	printf '[   33.895340] RIP: 0010:sched_clock_cpu+0x67/0x4d0\n'
	printf '[   33.895818] Code: 24 38 f0 e9 c9 9e 4c 01 e0 c7 00 f1 f1 f1 f1 c7 40 04 00 f3 %s <90> e8 43 82\n' "$1"
	printf '[   33.898523] Kernel panic - not syncing: Fatal exception in interrupt\n'
}
# classify NAME WANT CONSOLE OUT: stale_int3 says WANT (yes or no).
classify() {
	local got=no

	n=$((n + 1))
	printf '%s' "$3" >"$VDIR/c.log"
	printf '%b' "$4" >"$VDIR/o.log"
	stale_int3 "$VDIR/c.log" "$VDIR/o.log" && got=yes
	if [ "$got" = "$2" ]; then
		echo "ok $n - stale_int3: $1"
	else
		echo "not ok $n - stale_int3: $1 (said $got)"
		fails=$((fails + 1))
	fi
}
classify "an int3 on a byte memory no longer holds, in boot: reboot" yes "$(int3_console 66)" ''
classify "an int3 that memory holds (cc): a real trap, no reboot" no "$(int3_console cc)" ''
classify "the runner had started: no reboot" no "$(int3_console 66)" 'TAP version 13\n'
classify "another splat came first: no reboot" no \
	"$(int3_console 66 '[ 1.0] WARNING: CPU: 0 PID: 1 at x\n')" ''
classify "an oops other than int3: no reboot" no \
	"$(int3_console 66 | sed 's/Oops: int3:/Oops: general protection fault:/')" ''
classify "no Code: line to read: no reboot" no "$(int3_console 66 | grep -v Code:)" ''

# panic_verdict (harness/vm.sh): the panic VM's last result, on consoles
# of the panic VM's kind, the boot log made long (a report early in a big
# console must be seen: a reader that stops early must not end the look).
# shellcheck source=/dev/null
. <(sed -n '/^PANIC_SETUP=/p; /^panic_verdict() {/,/^}/p' "$(dirname "$CHECK")/vm.sh")
if ! declare -F panic_verdict >/dev/null; then
	echo "not ok $((n + 1)) - panic_verdict found in vm.sh"
	exit 1
fi
P="kmem: dax1.0: kernel memory in block 0x148000000 lost with the device (kmem.kernel_loss=panic)"
SETUP='TAP version 13\n1..5\nok 1 a\nok 2 b\nok 3 c\nok 4 d\n# expect panic: x\n'
# panic_console [BEFORE [AFTER]]: 3000 boot lines, BEFORE, the mark, then
# AFTER (unset: the panic with $P and its stack).
panic_console() {
	local i

	for ((i = 0; i < 3000; i++)); do
		printf '[    1.%06d] boot line %d: nothing to see here, just a long boot log\r\n' "$i" "$i"
	done
	printf '%b' "${1:-}"
	printf '[   90.000001] kmem_panic_test: teardown, expect: %s\r\n' "$P"
	printf '%b' "${2-[   90.5] Kernel panic - not syncing: $P\r\n[   90.5] CPU: 1 UID: 0\r\n[   90.5] Call Trace:\r\n}"
}
# verdict NAME WANT CONSOLE OUT RC: panic_verdict says WANT (pass or fail),
# its last TAP line numbered 5.
verdict() {
	local got=fail

	n=$((n + 1))
	printf '%s' "$3" >"$VDIR/c.log"
	printf '%b' "$4" >"$VDIR/o.log"
	panic_verdict "$VDIR/c.log" "$VDIR/o.log" "$VDIR/p.tap" "$5" && got=pass
	if [ "$got" = "$2" ] && tail -n 1 "$VDIR/p.tap" | grep -qE '^(not )?ok 5 '; then
		echo "ok $n - panic_verdict: $1"
	else
		echo "not ok $n - panic_verdict: $1 (said $got: $(tail -n 1 "$VDIR/p.tap"))"
		fails=$((fails + 1))
	fi
}
verdict "the expected panic after the mark: pass" pass "$(panic_console)" "$SETUP" 0
verdict "a WARNING early in a long boot log: fail" fail \
	"$(panic_console | sed '5s/nothing to see here/WARNING: CPU: 0 PID: 1 at x/')" "$SETUP" 0
verdict "a report between setup and mark: fail" fail \
	"$(panic_console '[   80.0] BUG: KASAN: use-after-free in x\r\n')" "$SETUP" 0
verdict "another panic text: fail" fail \
	"$(panic_console '' '[   90.5] Kernel panic - not syncing: Fatal exception\r\n')" "$SETUP" 0
verdict "a splat after the mark before the panic: fail" fail \
	"$(panic_console '' "[   90.4] WARNING: CPU: 1 at y\r\n[   90.5] Kernel panic - not syncing: $P\r\n")" \
	"$SETUP" 0
verdict "no panic at all, QEMU powered off: fail" fail "$(panic_console '' '')" "$SETUP" 0
verdict "the hard timeout: fail" fail "$(panic_console)" "$SETUP" 124
verdict "a setup result failed: fail" fail "$(panic_console)" "${SETUP/ok 3 c/not ok 3 c}" 0
verdict "a setup result skipped: fail" fail "$(panic_console)" "${SETUP/ok 3 c/ok 3 c # SKIP}" 0
verdict "a setup result missing: fail" fail "$(panic_console)" "${SETUP/ok 4 d\\n/}" 0
n=$((n + 1))
printf '%b' "${SETUP}not ok 5 the provider's teardown panics: returned\nKMEM-PANIC-EXIT 1\n" >"$VDIR/o.log"
if ! panic_verdict "$VDIR/c.log" "$VDIR/o.log" "$VDIR/p.tap" 0 &&
   [ "$(grep -c '^not ok' "$VDIR/p.tap")" = 1 ]; then
	echo "ok $n - panic_verdict: the test came back (KMEM-PANIC-EXIT): fail, its own result kept"
else
	echo "not ok $n - panic_verdict: the test came back (KMEM-PANIC-EXIT): fail, its own result kept"
	fails=$((fails + 1))
fi
[ "$fails" = 0 ]
