# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The kernel log lines that are a failed test wherever they appear: one
# list, sourced by the guest's runner (run-tests.sh, per test and at boot)
# and by the host (check.sh, over the whole console log).
# shellcheck disable=SC2034 # used by the scripts that source this file
SPLAT='WARNING:|BUG:|Oops|Kernel panic|general protection fault|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|KASAN:|UBSAN:|INFO: task .* blocked|soft lockup|hard LOCKUP|Call Trace:|Kernel memory leak detector disabled|kmemleak: Memory pool empty|kmemleak: Cannot allocate'

