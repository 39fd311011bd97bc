# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The kernel log lines that are a failed test wherever they appear: one
# list, sourced by the guest's runner (run-tests.sh, per test and at boot)
# and by the host (check.sh, over the whole console log).
# shellcheck disable=SC2034 # used by the scripts that source this file
SPLAT='WARNING:|BUG:|Oops|Kernel panic|general protection fault|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|KASAN:|UBSAN:|INFO: task .* blocked|soft lockup|hard LOCKUP|Call Trace:|Kernel memory leak detector disabled|kmemleak: Memory pool empty|kmemleak: Cannot allocate'

# Allocation failures a test injects on purpose (kmem_inject.sh, through
# failslab and fail_page_alloc) are reported by the allocator itself:
# warn_alloc() prints a header, the stack trace and the memory state, as it
# must for a real failure. Between the kernel log lines SPLAT_ALLOC_START
# and SPLAT_ALLOC_END, such a report, from its header to the end of its
# trace (</TASK>), is not a splat: splat_filter copies a log from stdin to
# stdout without them and says on stderr how many it dropped. Anything else
# in the window, a WARNING, a BUG, KASAN, still fails.
SPLAT_ALLOC_START='dax_selftest: injecting allocation failures'
SPLAT_ALLOC_END='dax_selftest: no more injected allocation failures'
SPLAT_ALLOC_REPORT='page allocation failure: order|vmalloc error: size|vmemmap alloc failure: order'
splat_filter() {
	awk -v start="$SPLAT_ALLOC_START" -v end="$SPLAT_ALLOC_END" -v rep="$SPLAT_ALLOC_REPORT" '
		index($0, start) { win = 1 }
		index($0, end) { win = 0 }
		win && $0 ~ rep { drop = 1; n++ }
		drop { if ($0 ~ /<\/TASK>/) drop = 0; next }
		{ print }
		END { if (n) printf "%d report(s) of injected allocation failures left out\n", n > "/dev/stderr" }'
}
