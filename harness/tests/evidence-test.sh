#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of vm_evidence (harness/check.sh), which prints, next to make
# check's failures, why a check VM failed: the first splat of its console,
# or the last console lines of a run that did not finish, with the test it
# was in and vm.sh's reason. A CI log that keeps only its tail must show
# the cause. Fake VM directories stand for the runs. Prints one TAP line
# per check.
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
[ "$fails" = 0 ]
