#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make mutants: apply each deliberate breakage of harness/mutants/ in turn,
# build, and run in the VM the selftests its "Kills:" header names. A
# mutant is killed when one of those tests fails (a failed subtest, a
# splat, a kmemleak result, a timeout, a VM that did not finish); one that
# survives fails the run. The table goes to results/mutants/README.md, each
# mutant's VM output to $LOGS/mutants/. The tests are the ones make check
# runs: trust a kill only on a tree whose make check passes.
#
#   MUTANTS="a b" limits the run to those mutants (table in the logs only).
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

H="$TOP/harness"
# the table of a full run is committed; a partial run's stays in the logs
out_dir="$TOP/results/mutants"
[ -z "${MUTANTS:-}" ] || out_dir="$LOGS/mutants"
logs="$LOGS/mutants"
mkdir -p "$out_dir" "$logs"

names=()
if [ -n "${MUTANTS:-}" ]; then
	read -ra names <<<"$MUTANTS"
else
	for m in "$H"/mutants/*.patch; do
		names+=("$(basename "$m" .patch)")
	done
fi

# kills MUTANT: the tests of its "Kills:" header line.
kills() {
	sed -n '/^--- a\//q; s/^Kills: *//p' "$H/mutants/$1.patch"
}

# why MUTANT: its "Why:" header (what it breaks), on one line, for the table.
why() {
	sed -n '/^--- a\//q; /^Why:/,/^$/p' "$H/mutants/$1.patch" |
		tr -s ' \n' ' ' | sed 's/^Why: //; s/ $//; s/|/\\|/g'
}

# A failed check, at any depth of the VM's TAP ("not ok", "# not ok", ...).
FAILED='^(# *)*not ok '

# stop_at_first_failure PID LOG: wait for vm.sh (PID). Once a check has
# failed, the mutant is killed: the rest of the run (later checks, the
# kmemleak scan, a guest the mutant hung, which would otherwise run into
# the timeout) cannot change that, so the VM is stopped after a grace
# period in which the console still gets the failure's splat. Says so in
# LOG.
stop_at_first_failure() {
	local out="$VDIR/vm/out-check.log"

	while kill -0 "$1" 2>/dev/null; do
		if grep -aqE "$FAILED" "$out" 2>/dev/null; then
			local t=0

			while [ "$t" -lt "${MUTANT_GRACE:-30}" ] &&
			      kill -0 "$1" 2>/dev/null; do
				sleep 1
				t=$((t + 1))
			done
			kill -0 "$1" 2>/dev/null || break
			echo "a check failed: VM stopped after ${MUTANT_GRACE:-30} s" >>"$2"
			pkill -f "qemu-system-x86_64 .*$VDIR/vm/console-check.log"
			break
		fi
		sleep 5
	done
	wait "$1"
}

rows=()
survivors=0
t_all=$(date +%s)
for m in "${names[@]}"; do
	[ -f "$H/mutants/$m.patch" ] || die "no mutant $m (harness/mutants/)"
	tests=$(kills "$m")
	if [ -z "$tests" ] || [ "$tests" = none ]; then
		rows+=("| $m | $(why "$m") | none | SURVIVED: no test is meant to kill it | |")
		survivors=$((survivors + 1))
		continue
	fi
	progress mutant "$m: $tests"
	t0=$(date +%s)
	verdict=
	if ! MUTANT=$m "$H/assemble.sh" >"$logs/$m.build.log" 2>&1 ||
	   ! "$H/build-kernel.sh" >>"$logs/$m.build.log" 2>&1 ||
	   ! "$H/mkinitramfs.sh" >>"$logs/$m.build.log" 2>&1; then
		verdict="ERROR: does not apply or build (see $logs/$m.build.log)"
	elif [ "$tests" != kmem_kernel_loss_panic.sh ] &&
	     [[ " $tests " == *" kmem_kernel_loss_panic.sh "* ]]; then
		verdict="ERROR: kmem_kernel_loss_panic.sh runs in a VM of its own: a Kills: line that names it names nothing else"
	elif [ "$tests" = kmem_kernel_loss_panic.sh ]; then
		# the test that passes by panicking: a VM of its own (vm.sh
		# panic), its results in panic.tap
		rm -rf "$VDIR/vm/panic"
		rm -f "$logs/$m.out.log" "$logs/$m.console.log"
		VM_DIR="$VDIR/vm/panic" VM_TIMEOUT=${MUTANT_VM_TIMEOUT:-900} "$H/vm.sh" panic \
			>>"$logs/$m.build.log" 2>&1
		cp "$VDIR/vm/panic/panic.tap" "$logs/$m.out.log" 2>/dev/null
		cp "$VDIR/vm/panic/console-panic.log" "$logs/$m.console.log" 2>/dev/null
		first=$(grep -m1 '^not ok' "$logs/$m.out.log" 2>/dev/null | sed -E 's/^not ok [0-9]+ //')
		if [ -n "$first" ]; then
			verdict="killed: ${first//|/\\|}"
		elif [ -s "$logs/$m.out.log" ]; then
			verdict="SURVIVED"
		else
			verdict="killed: the panic VM gave no results"
		fi
	else
		# a mutant may hang the guest: bound each run well below make
		# check's VM timeout, and stop it once a check has failed
		rm -f "$VDIR/vm/out-check.log" "$VDIR/vm/console-check.log"
		T=$tests VM_TIMEOUT=${MUTANT_VM_TIMEOUT:-1500} "$H/vm.sh" check \
			>>"$logs/$m.build.log" 2>&1 &
		stop_at_first_failure $! "$logs/$m.build.log"
		cp "$VDIR/vm/out-check.log" "$logs/$m.out.log" 2>/dev/null
		cp "$VDIR/vm/console-check.log" "$logs/$m.console.log" 2>/dev/null
		o="$logs/$m.out.log"
		if grep -aqE "$FAILED" "$o" 2>/dev/null; then
			first=$(tr -d '\r' <"$o" | grep -aE -m1 "$FAILED" |
				sed -E "s/${FAILED}[0-9]* //")
			verdict="killed: ${first//|/\\|}"
		elif ! grep -aq '^KMEM-CHECK-EXIT' "$o" 2>/dev/null; then
			verdict="killed: the VM did not finish"
		else
			verdict="SURVIVED"
		fi
	fi
	case $verdict in
	killed*) ;;
	*) survivors=$((survivors + 1)) ;;
	esac
	rows+=("| $m | $(why "$m") | $tests | $verdict | $(($(date +%s) - t0)) s |")
	progress mutant "$m: $verdict"
done

# Back to the series as it is, so that nothing built next carries a mutant.
"$H/assemble.sh" >"$logs/restore.log" 2>&1 ||
	die "assemble without a mutant failed, see $logs/restore.log"

{
	echo "# Mutants"
	echo
	echo "\`make mutants\` on $(date -u +%Y-%m-%d)," \
	     "tree $(git -C "$TOP" describe --always --dirty 2>/dev/null)."
	echo "Each mutant (harness/mutants/) is a deliberate breakage, said by its"
	echo "\"Why:\" header; its \"Kills:\" tests ran in the VM with it applied."
	echo "The first failing check is quoted."
	echo
	echo "| mutant | what it breaks, and what must catch it | tests run | result | time |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "${#names[@]} mutants, $((${#names[@]} - survivors)) killed, $survivors not;" \
	     "$(($(date +%s) - t_all)) s in all."
} >"$out_dir/README.md"
cat "$out_dir/README.md"
[ "$survivors" = 0 ]
