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

# vm_evidence: for each check VM whose console has a splat, or whose run
# did not finish, and for a failed panic VM, the lines that say why,
# printed next to the failures: a
# CI log that keeps only its tail must still show the cause (vm.sh prints
# the console's tail too, but in the middle of the run's output).
vm_evidence() {
	local i c o n test

	[ -n "${shards:-}" ] && [ -n "${SPLAT:-}" ] || return 0
	for ((i = 1; i <= shards; i++)); do
		c="$VDIR/vm/$i/console-check.log"
		o="$VDIR/vm/$i/out-check.log"
		[ -s "$c" ] || continue
		test=$(grep -a '^# selftests: ' "$o" 2>/dev/null | tail -n 1 | tr -d '\r')
		test=${test##* }
		n=$(grep -anE -m 1 "$SPLAT" "$c" | cut -d: -f1)
		if [ -n "$n" ]; then
			echo "==== VM $i console, its first splat (line $n; the last test begun: ${test:-none}):"
			cat "$VDIR/vm/$i/ended-early" 2>/dev/null
			sed -n "$n,$((n + 11))p" "$c"
		elif ! grep -aq '^KMEM-CHECK-EXIT' "$o" 2>/dev/null; then
			echo "==== VM $i did not finish (the last test begun: ${test:-none}); its console's last lines:"
			cat "$VDIR/vm/$i/ended-early" 2>/dev/null
			tail -n 12 "$c"
		fi | tr -d '\r' | cut -c 1-160
	done
	# the panic VM (vm.sh panic_verdict says why in its last result)
	c="$VDIR/vm/panic/console-panic.log"
	if grep -q '^not ok' "$VDIR/vm/panic/panic.tap" 2>/dev/null && [ -s "$c" ]; then
		echo "==== the panic VM failed; its console's last lines:"
		tail -n 12 "$c" | tr -d '\r' | cut -c 1-160
	fi
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
		vm_evidence
		echo "==== failures:"
		grep -E '^not ok ' "$res" | sed 's/^/  /'
	fi
	echo "check: $pass passed, $fail failed, $skip skipped"
	[ ! -f "${out:-}" ] || grep -a '^# retries: ' "$out" | tr -d '\r' | sed 's/^# /       /'
	# vm.sh's reboots (stale_int3): each VM's reason, with its first console
	cat "$VDIR"/vm/[0-9]*/reboots 2>/dev/null | sed 's/^/       /'
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
[ -n "$vm_only" ] || tap_stage harness-evidence "$H/tests/evidence-test.sh"
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
console="$VDIR/vm/console-check.log"
# No earlier run's logs can be read as this run's: vm.sh removes its own
# too, but only once it gets that far.
rm -rf "$out" "$console" "$VDIR"/vm/[0-9]* "$VDIR/vm/panic"
nstatic=$(grep -cE '^(not )?ok ' "$res")

# The VM stage: $VM_SHARDS check VMs (default 2: a TCG guest running one
# test keeps about one host core busy) boot the same kernel and initramfs at
# once, each with NVDIMMs of its own in $VDIR/vm/N/, and run a share of the
# selftests ($T, or all of them). The shares are dealt longest first onto
# the least loaded VM by harness/vm-test-seconds (a test's duration in a
# whole run; 120 s for a test it does not list). In each VM the tests run
# in kselftest-list.txt order, so kmem_unload_forced.sh, which switches
# lockdep off, stays the last of its VM; each VM's runner checks its own
# boot log, kmemleak and lockdep. $out and $console hold the VMs' logs one
# after the other.
mapfile -t tests < <(grep -v '^#' "$VDIR/kselftest/kselftest-list.txt" | sed 's/^[^:]*://')
[ -z "${T:-}" ] || read -ra tests <<<"$T"
# kmem_kernel_loss_panic.sh passes by panicking the kernel: it is in no
# kselftest-list.txt and gets a VM of its own (vm.sh panic) when the first
# check VM is done, in every whole run and in a T= run that names it.
PANIC_TEST=kmem_kernel_loss_panic.sh
panic_vm=1
if [ -n "${T:-}" ]; then
	panic_vm=
	rest=()
	for t in "${tests[@]}"; do
		if [ "$t" = "$PANIC_TEST" ]; then
			panic_vm=1
		else
			rest+=("$t")
		fi
	done
	tests=("${rest[@]}")
fi
shards=${VM_SHARDS:-2}
case $shards in
"" | *[!0-9]* | 0) fatal "VM_SHARDS=$shards: want a number of 1 or more" ;;
esac
[ "${#tests[@]}" -ge "$shards" ] || shards=${#tests[@]}
declare -a share load
for ((i = 1; i <= shards; i++)); do
	share[i]=
	load[i]=0
done
while read -r secs t; do
	best=1
	for ((i = 2; i <= shards; i++)); do
		[ "${load[i]}" -lt "${load[best]}" ] && best=$i
	done
	share[best]="${share[best]} $t"
	load[best]=$((load[best] + secs))
done < <(for t in "${tests[@]}"; do
		awk -v t="$t" '$1 == t { s = $2 } END { print (s == "" ? 120 : s), t }' \
			"$H/vm-test-seconds"
	done | sort -k1,1nr -k2,2)

# The panic VM (kmem_kernel_loss_panic.sh; its results are vm.sh's
# $VDIR/vm/panic/panic.tap) starts when the first check VM is done, or at
# once when there is none: a third guest beside two would only slow them
# all on 2 cores, and after both it would add its whole run to the stage.
# Its timeout (900 s) is cut to what is left of the check VMs' own from
# the stage's start ($vm_t0), so that the stage never takes longer than
# that: a run at its limit must still end with its evidence inside CI's
# time. With less than a minute left it is not started, and says so.
run_panic_vm() {
	local left pt=900 pdir="$VDIR/vm/panic"

	mkdir -p "$pdir"
	left=$((${VM_TIMEOUT:-$CHECK_VM_TIMEOUT} - (SECONDS - vm_t0)))
	[ "$left" -lt "$pt" ] && pt=$left
	if [ "$pt" -lt 60 ]; then
		progress vm "panic VM: not started, ${left}s left of the VM stage"
		echo "not ok 1 not started: ${left}s left of the VM stage" >"$pdir/panic.tap"
		return 1
	fi
	progress vm "panic VM: $PANIC_TEST (timeout ${pt}s)"
	VM_DIR="$pdir" VM_TAG="panic VM" VM_TIMEOUT=$pt "$H/vm.sh" panic
}
run_vms() {
	local i pids=() rc=0 first='' panic_pid=''

	vm_t0=$SECONDS

	for ((i = 1; i <= shards; i++)); do
		progress vm "VM $i of $shards, about ${load[i]} s:${share[i]}"
		mkdir -p "$VDIR/vm/$i"
		T="${share[i]# }" VM_DIR="$VDIR/vm/$i" VM_TAG="VM $i" "$H/vm.sh" check &
		pids+=($!)
	done
	if [ -n "$panic_vm" ]; then
		if [ "${#pids[@]}" -gt 0 ]; then
			wait -n -p first "${pids[@]}" || rc=1
		fi
		run_panic_vm &
		panic_pid=$!
	fi
	for i in "${pids[@]}"; do
		[ "$i" = "$first" ] || wait "$i" || rc=1
	done
	# the panic VM's verdict is its panic.tap, folded below
	[ -z "$panic_pid" ] || wait "$panic_pid"
	for ((i = 1; i <= shards; i++)); do
		echo "==== VM $i of $shards:${share[i]}" | tee -a "$console" >>"$out"
		cat "$VDIR/vm/$i/out-check.log" >>"$out" 2>/dev/null
		cat "$VDIR/vm/$i/console-check.log" >>"$console" 2>/dev/null
	done
	return $rc
}
[ "${#tests[@]}" = 0 ] && [ -z "$panic_vm" ] || stage vm run_vms

# fold_vm N: fold VM N's TAP into results: each subtest counts; a test
# that failed with no failing subtest (splat, timeout, crash) counts once
# more. A selftest or a subtest that skips is a failure here: the VM is
# built to run them all. The runner's own results (boot log, kmemleak,
# lockdep) say which VM they are of.
fold_vm() {
	local o="$VDIR/vm/$1/out-check.log" exitline

	awk -v vm="VM $1" '
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
		if ($0 !~ / selftests: /) $0 = $0 " (" vm ")"
		if ($1 == "not" && (nfail == 0 || $0 !~ / # exit=[0-9]+$/)) { sub(/^not ok [0-9]+ /, ""); print "not ok - " $0 }
		else if ($1 == "ok" && / # SKIP( |$)/) { sub(/^ok [0-9]+ /, ""); print "not ok - " $0 " (skipped in the test VM)" }
		else if ($1 == "ok" && nsub == 0) { sub(/^ok [0-9]+ /, ""); print "ok - " $0 }
		nsub = 0
		nfail = 0
	}' "$o" >>"$res" 2>/dev/null
	exitline=$(grep -a '^KMEM-CHECK-EXIT' "$o" 2>/dev/null | tr -d '\r')
	if [ -z "$exitline" ]; then
		echo "not ok - VM $1 run finished (see $VDIR/vm/$1/console-check.log)" >>"$res"
	elif ! grep -q '^# selftests: ' "$o"; then
		echo "not ok - VM $1 ran selftests ($(grep -a '^Bail out!' "$o" | tr -d '\r'))" >>"$res"
	elif [ "${exitline##* }" != 0 ] && ! grep -q '^not ok' "$res"; then
		echo "not ok - VM $1 test runner exit status ($exitline)" >>"$res"
	fi
}
for ((i = 1; i <= shards; i++)); do
	fold_vm "$i"
done
# Every selftest asked for ran in some VM.
for t in "${tests[@]}"; do
	grep -aq "^# selftests: [^ ]* $t\$" "$out" ||
		echo "not ok - $t ran in a VM (its VM did not get to it)" >>"$res"
done
# The panic VM's results: the setup's and the panic's.
if [ -n "$panic_vm" ]; then
	if [ -s "$VDIR/vm/panic/panic.tap" ]; then
		sed -E "s/^(not )?ok [0-9]+ /\1ok - $PANIC_TEST: /; s/\$/ (panic VM)/" \
			"$VDIR/vm/panic/panic.tap" >>"$res"
	else
		echo "not ok - $PANIC_TEST ran (see $VDIR/vm/panic/console-panic.log)" >>"$res"
	fi
fi
# The host's own look at the whole console logs, boot to power-off, with
# the guest's pattern list.
SPLAT=
# shellcheck source=guest/splat.sh
. "$H/guest/splat.sh" 2>/dev/null
if [ "${#tests[@]}" = 0 ]; then
	: # no check VM ran; the panic VM's console is vm.sh's to judge
elif [ -z "$SPLAT" ]; then
	echo "not ok - console log free of kernel splats (no pattern list: $H/guest/splat.sh)" >>"$res"
elif [ ! -s "$console" ]; then
	echo "not ok - console log free of kernel splats (no console log)" >>"$res"
elif grep -aE "$SPLAT" "$console" >"$LOGS/console-splats.txt"; then
	echo "not ok - console log free of kernel splats" >>"$res"
else
	echo "ok - console log free of kernel splats" >>"$res"
fi
summarise
