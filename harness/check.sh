#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: static checks, build what is stale, run the selftests in the
# VM, and end with one line "check: N passed, N failed, N skipped".
# Exit status is non-zero on any failure.
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

H="$TOP/harness"
res="$LOGS/check-results.tap"
: >"$res"
nstatic=    # results before the VM stage; set when it starts
declare -A took
order=()
stage() { # stage NAME COMMAND...: run a stage, note its duration
	local name=$1 t rc

	shift
	t=$(date +%s)
	"$@"
	rc=$?
	took[$name]=$(($(date +%s) - t))
	order+=("$name")
	return $rc
}
fatal() { # a stage that breaks the chain: count it and summarise
	echo "not ok - $1" >>"$res"
	summarise
	exit 1
}

summarise() {
	local pass fail skip vm

	echo
	echo "==== stage durations: $(for k in "${order[@]}"; do printf '%s %ss, ' "$k" "${took[$k]}"; done | sed 's/, $//')"
	pass=$(grep -cE '^ok ' "$res")
	skip=$(grep -cE '^ok .*# SKIP' "$res")
	fail=$(grep -cE '^not ok ' "$res")
	pass=$((pass - skip))
	if [ "$fail" -gt 0 ]; then
		echo "==== failures:"
		grep -E '^not ok ' "$res" | sed 's/^/  /'
	fi
	echo "check: $pass passed, $fail failed, $skip skipped"
	[ ! -f "${out:-}" ] || grep -a '^# retries: ' "$out" | tr -d '\r' | sed 's/^# /       /'
	if [ -n "$nstatic" ]; then
		vm=$(($(grep -cE '^(not )?ok ' "$res") - nstatic))
		echo "       of them $nstatic static, build and series checks, $vm from the VM stage" \
			"(selftest subtests, the guest runner's and the host's checks of the run)"
	fi
	[ "$fail" = 0 ]
}

stage deps "$H/deps.sh" || fatal "install the packages the project needs"
# make stress (KMEM_STRESS=1): the build and the VM stage only (the static
# and series checks are make check's), the stress tests with 1000 cycles, a
# logged seed for their random choices, and longer timeouts.
vm_only=
[ "$KMEM_VARIANT" = stock ] && vm_only=1
if [ "${KMEM_STRESS:-0}" = 1 ]; then
	vm_only=1
	: "${STRESS_SEED:=$(((RANDOM << 15) | RANDOM))}"
	export KMEM_STRESS_ARGS="kmemtest.cycles=${STRESS_CYCLES:-1000} kmemtest.seed=$STRESS_SEED kmemtest.race=${STRESS_RACE_SECONDS:-600} kmemtest.timeout=${STRESS_TEST_TIMEOUT:-7200}"
	export VM_TIMEOUT=${VM_TIMEOUT:-14400}
	export T=${T:-kmem_cycles.sh kmem_race.sh}
	progress stress "$T: $KMEM_STRESS_ARGS (replay: make stress STRESS_SEED=$STRESS_SEED)"
fi
# tap_stage NAME SCRIPT: a stage whose script prints TAP lines; a script
# that dies part-way is a failure of its own.
tap_stage() {
	local tap="$LOGS/$1.tap"

	stage "$1" bash -c "'$2' > '$tap'" || echo "not ok - $1 checks ran to the end" >>"$res"
	sed 's/^/  /' "$tap"
	grep -E '^(not )?ok ' "$tap" >>"$res"
}
# KMEM_VARIANT=stock (make check-stock) runs the selftests on the stock
# kernel: only the stages that build and boot it; the series' own checks
# say nothing about that kernel.
[ -n "$vm_only" ] || tap_stage harness "$H/tests/assemble-test.sh"
[ -n "$vm_only" ] || tap_stage harness-lib "$H/tests/settled-test.sh"
stage assemble "$H/assemble.sh" || fatal "assemble the tree"
stage config env KMEM_CONFIG_ONLY=1 "$H/build-kernel.sh" || fatal "configure the kernel"
[ -n "$vm_only" ] || tap_stage static "$H/static-checks.sh"
# make series, applied with git am onto the pristine base: build/linux again
[ -n "$vm_only" ] || tap_stage series "$H/series-check.sh"
stage kernel "$H/build-kernel.sh" || fatal "build the kernel"
stage initramfs "$H/mkinitramfs.sh" || fatal "build the initramfs and selftests"
if grep -q 'warning:' "$LOGS/selftests.log"; then
	echo "not ok - selftests build without warnings" >>"$res"
	grep 'warning:' "$LOGS/selftests.log" | head -5
else
	echo "ok - selftests build without warnings" >>"$res"
fi

out="$VDIR/vm/out-check.log"
# No earlier run's logs can be read as this run's: vm.sh removes them too,
# but only once it gets that far.
rm -f "$out" "$VDIR/vm/console-check.log"
nstatic=$(grep -cE '^(not )?ok ' "$res")
stage vm "$H/vm.sh" check
# Fold the VM's TAP into results: each subtest counts; a test that failed
# with no failing subtest (splat, timeout, crash) counts once more. A
# selftest or a subtest that skips is a failure here: the VM is built to
# run them all.
awk '
	{ sub(/\r$/, "") }
	/^# (not )?ok [0-9]+ / {
		line = substr($0, 3)
		sub(/^(not )?ok [0-9]+ /, "", line)
		res = ($2 == "not") ? "not ok" : "ok"
		if (res == "ok" && line ~ /(^| )# SKIP( |$)/) {
			res = "not ok"
			line = line " (skipped in the test VM)"
		}
		print res " - " cur ": " line
		nsub++
		if (res == "not ok") nfail++
		next
	}
	/^# selftests: / { cur = $4; nsub = 0; nfail = 0; next }
	/^(not )?ok [0-9]+ / {
		# a failed test is counted once more unless its failing subtests
		# already say why (a plain exit status); a splat, a timeout or
		# lockdep is a reason of its own
		if ($1 == "not" && (nfail == 0 || $0 !~ / # exit=[0-9]+$/)) { sub(/^not ok [0-9]+ /, ""); print "not ok - " $0 }
		else if ($1 == "ok" && / # SKIP( |$)/) { sub(/^ok [0-9]+ /, ""); print "not ok - " $0 " (skipped in the test VM)" }
		else if ($1 == "ok" && nsub == 0) { sub(/^ok [0-9]+ /, ""); print "ok - " $0 }
		nsub = 0
		nfail = 0
	}' "$out" >>"$res" 2>/dev/null
exitline=$(grep -a '^KMEM-CHECK-EXIT' "$out" 2>/dev/null | tr -d '\r')
if [ -z "$exitline" ]; then
	echo "not ok - VM run finished (see $VDIR/vm/console-check.log)" >>"$res"
elif ! grep -q '^# selftests: ' "$out"; then
	echo "not ok - VM ran selftests ($(grep -a '^Bail out!' "$out" | tr -d '\r'))" >>"$res"
elif [ "${exitline##* }" != 0 ] && ! grep -q '^not ok' "$res"; then
	echo "not ok - VM test runner exit status ($exitline)" >>"$res"
fi
# The host's own look at the whole console log, boot to power-off, with the
# guest's pattern list.
SPLAT=
# shellcheck source=guest/splat.sh
. "$H/guest/splat.sh" 2>/dev/null
if [ -z "$SPLAT" ]; then
	echo "not ok - console log free of kernel splats (no pattern list: $H/guest/splat.sh)" >>"$res"
elif [ ! -s "$VDIR/vm/console-check.log" ]; then
	echo "not ok - console log free of kernel splats (no console log)" >>"$res"
elif grep -aE "$SPLAT" "$VDIR/vm/console-check.log" >"$LOGS/console-splats.txt"; then
	echo "not ok - console log free of kernel splats" >>"$res"
else
	echo "ok - console log free of kernel splats" >>"$res"
fi
summarise
