#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kmem driver's KUnit suite (drivers/dax/kmem_test.c, built in with
# CONFIG_DAX_KMEM_KUNIT_TEST): range clipping and numbering over several
# ranges, block index <-> address, re-adoption's range comparison, the
# state from the block counts, the count-keeping setter, the online policy.
# The suite runs when kmem loads; this reloads kmem (with no device bound)
# and reports each test case of
# /sys/kernel/debug/kunit/dax_kmem/results as one KTAP result, with the
# failing parameters of a parameterised case named. The number of cases
# must be the suite's own plan ("1..N"), and a case KUnit skipped is a
# failure: the test kernel is built to run them all.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds modprobe
RESULTS=/sys/kernel/debug/kunit/dax_kmem/results

ktap_print_header
kmem_reset
modprobe -r kmem 2>/dev/null
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
[ -d /sys/kernel/debug/kunit ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ ! -r "$RESULTS" ]; then
	ktap_skip_all "no KUnit suite dax_kmem (CONFIG_DAX_KMEM_KUNIT_TEST=n)"
	exit "$KSFT_SKIP"
fi
log=$(cat "$RESULTS")

# Test cases are the results one level in (4 spaces); the parameters of a
# parameterised case are one level further in (8 spaces), before it.
mapfile -t cases < <(echo "$log" | sed -n 's/^    \(\(not \)\{0,1\}ok [0-9]* .*\)$/\1/p')
[ "${#cases[@]}" -gt 0 ] || ktap_exit_fail_msg "no test case in $RESULTS"
plan=$(echo "$log" | sed -n 's/^    1\.\.\([0-9]*\)$/\1/p' | head -n 1)
[ "$plan" = "${#cases[@]}" ] ||
	ktap_exit_fail_msg "the suite planned '${plan:-none}' cases, the results have ${#cases[@]}"
ktap_set_plan "$plan"

# The parameters of a parameterised case come before its own result line:
# note the failing and the skipped ones of each case, by case index.
bad_params=()
declare -A skipped_params
i=0
while IFS= read -r l; do
	case $l in
	"        not ok "*) bad_params+=("${l#        }") ;;
	"        ok "*" # SKIP"*) skipped_params[$i]+="${l#        }; " ;;
	"    ok "* | "    not ok "*) i=$((i + 1)) ;;
	esac
done <<<"$log"

i=0
for c in "${cases[@]}"; do
	name=${c#*ok }
	name=${name#* }
	name=${name%% #*}
	if [ "${c#not }" = "$c" ] && [ "${c% # SKIP*}" != "$c" ]; then
		msg "KUnit skipped it:${c#* # SKIP}"
		ktap_test_fail "$name"
	elif [ "${c#not }" = "$c" ] && [ -n "${skipped_params[$i]:-}" ]; then
		msg "KUnit skipped parameters: ${skipped_params[$i]}"
		ktap_test_fail "$name"
	elif [ "${c#not }" = "$c" ]; then
		ktap_test_pass "$name"
	else
		echo "$log" | grep -E -A3 '(EXPECTATION|ASSERTION) FAILED' |
			head -n 16 | while read -r m; do msg "$m"; done
		for p in "${bad_params[@]}"; do
			msg "failing parameter: $p"
		done
		ktap_test_fail "$name"
	fi
	i=$((i + 1))
done

if ! echo "$log" | grep -Eq '^ok [0-9]+ dax_kmem'; then
	msg "the suite itself did not end ok:"
	echo "$log" | grep -E '^(not )?ok ' | while read -r m; do msg "$m"; done
	ktap_exit_fail_msg "dax_kmem suite failed"
fi
ktap_finished
