#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of kmem_settled (tools/testing/selftests/dax/dax_lib.sh), which
# runs a check between two rounds of kmem's background retry, judged on
# the retry_seq figures of debugfs dax_kmem/retained (odd while a round
# runs). Here the debugfs file is a script: each read returns the next
# figure of a list, as the kernel would have it at that read, so every
# interleaving of a round with the check is a fixed case. Prints one TAP
# line per check.
set -uo pipefail
LIB=$(cd "$(dirname "$0")/../.." && pwd)/tools/testing/selftests/dax/dax_lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The functions under test, taken from the library as they are (it cannot
# be sourced here: it needs the kernel tree's ktap_helpers.sh and sysfs).
# shellcheck source=/dev/null
. <(sed -n '/^retained_seqs() {/,/^}/p; /^seqs_odd() {/,/^}/p;
	/^kmem_settled() {/,/^}/p' "$LIB")
declare -F kmem_settled retained_seqs seqs_odd >/dev/null ||
	{ echo "not ok - kmem_settled, retained_seqs, seqs_odd found in dax_lib.sh"; exit 1; }

msg() {
	echo "$*" >>"$work/msgs"
}

# kmem_retained: the next line of the script (the last one repeats).
kmem_retained() {
	local n

	n=$(cat "$work/reads")
	echo $((n + 1)) >"$work/reads"
	[ "$n" -lt "${#LINES_[@]}" ] || n=$((${#LINES_[@]} - 1))
	[ -z "${LINES_[n]}" ] || echo "${LINES_[n]}"
}

line() {
	echo "188000000-19fffffff node=1 present_bytes=134217728 attempts=3" \
		"retry_seq=$1 errno=-110 pfn=0x188000 reason=migration timeout"
}

# the check run: counts its runs, fails when told to
cmd() {
	echo x >>"$work/runs"
	return "${CMD_RC:-0}"
}

n=0
# case NAME WANT_RC WANT_RUNS WANT_RETRIES SEQ...: SEQ is the retry_seq
# figure at each read ("-": nothing retained).
case_() {
	local name=$1 want_rc=$2 want_runs=$3 want_retries=$4 rc runs retries q

	shift 4
	LINES_=()
	for q in "$@"; do
		if [ "$q" = - ]; then LINES_+=(""); else LINES_+=("$(line "$q")"); fi
	done
	echo 0 >"$work/reads"
	: >"$work/runs"
	: >"$work/msgs"
	kmem_settled cmd >/dev/null
	rc=$?
	runs=$(wc -l <"$work/runs")
	retries=$(grep -c '^retry: ' "$work/msgs")
	n=$((n + 1))
	if [ "$rc $runs $retries" = "$want_rc $want_runs $want_retries" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name: rc $rc runs $runs retries $retries," \
			"want $want_rc $want_runs $want_retries"
		sed 's/^/# /' "$work/msgs"
	fi
}

case_ "nothing retained: the check runs once" 0 1 0 - -
case_ "no round: the check runs once" 0 1 0 8 8
CMD_RC=1 case_ "no round: the check's failure is the result" 1 1 0 8 8
case_ "a round running before: waited for, then the check runs once" 0 1 0 9 9 10 10
case_ "a round starts during the check and runs on: run again" 0 2 1 8 9 10 10
case_ "a round starts and ends during the check: run again" 0 2 1 8 10 10 10
# What a third read would misjudge: the round starts just after a read
# that finds none, runs through the check and ends before one more read.
case_ "a round starts after the wait, ends after the check: run again" 0 2 1 8 9 9 10 10
case_ "rounds during every try: fails after 5" 1 5 5 8 9 10 11 12 13 14 15 16 17 18
echo "1..$n"
