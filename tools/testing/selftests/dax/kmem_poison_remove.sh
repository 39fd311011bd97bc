#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A process keeps the mapping of a poisoned page across the removal of the
# memory that held it. page_poison -w maps a page on node 1, poisons it
# (MADV_HWPOISON), takes the SIGBUS and stays: its page table keeps the
# hwpoison entry, which names the page's pfn. kmem's unbind offlines the
# blocks (offline_pages() skips the poisoned page) and removes them, memmap
# included. Then the process's /proc/PID/pagemap and smaps are read, which
# walk that entry: they must not read the struct page of a pfn that has
# none (patch 0024; the base oopses in pagemap_pmd_range). The pagemap
# entry stays "swapped" (bit 62), not present (63), not file (61).
# An oops fails the check that met it (taint D) and the runner's log check.
#
# Then the same with the page spliced into a pipe first (page_poison -s):
# the pipe keeps a reference on the poisoned page, so its block must not
# be offlined (patch 0026): the unbind retains that block and names the
# page (EBUSY, "unmovable page"); once the process drains the pipe (and
# reads what was written), the background retry removes the block and
# HardwareCorrupted goes back to its baseline. The base removes the block
# at once, and draining the pipe then oopses in pipe_read() on the removed
# memory (mutant offline-skips-held-poison).

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs page_poison
require_region small
PAGE=$(getconf PAGESIZE)
OUT=/tmp/kmem_poison_remove.$$.out

ktap_print_header
ktap_set_plan 11
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

# kernel_died: the kernel has oopsed since boot (taint D, bit 7). A walker
# that faulted on the removed memmap died holding the page-table lock, and
# a second walk of that table would spin on it for good: the checks after
# one stop at once instead.
kernel_died() {
	[ $(($(cat /proc/sys/kernel/tainted) & 128)) -ne 0 ] &&
		msg "the kernel oopsed (taint D): the checks that follow do nothing"
}

pid=
cleanup() {
	rm -f "$OUT"
	# After an oops the process's exit would spin on the dead walker's
	# page-table lock with preemption off, and the unbind's per-CPU drains
	# would wait for that CPU for good: leave both, the run has failed.
	kernel_died && return
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	wait_until 30 retained_none
	kmem_params_restore
	kmem_reset
}
trap cleanup EXIT

hw0=$(meminfo_kb HardwareCorrupted)
kmem_new_unbound online_movable
check "bind online_movable" kmem_bind "$dax"

addr=
poisoned() {
	local line

	"$DAX_DIR/page_poison" -n 1 -w >"$OUT" &
	pid=$!
	wait_line "$OUT" '^pfn=' 60 "$pid" || { msg "page_poison said nothing"; return 1; }
	line=$(head -n 1 "$OUT")
	msg "page_poison: $line"
	addr=$(kv "$line" addr)
	eq "page_poison's node" "$(kv "$line" node)" 1 &&
		eq "SIGBUS si_code on the read" "$(kv "$line" read_sigbus)" 4 &&
		kill -0 "$pid"
}
check "a live process's page on node 1 poisoned: SIGBUS (BUS_MCEERR_AR), it stays" poisoned

removed() {
	kmem_unbind "$dax" && kmem_gone "$s" "$e" "$base" &&
		eq "HardwareCorrupted kB (the poison went with the memory)" \
		   "$(meminfo_kb HardwareCorrupted)" "$hw0"
}
check "unbind: every block removed, the poisoned page with them" removed

# pagemap_entry: the process's pagemap entry of the poisoned page, in hex.
pagemap_entry() {
	dd if="/proc/$pid/pagemap" bs=8 skip=$((addr / PAGE)) count=1 2>/dev/null |
		od -An -tx8 | tr -d ' '
}

pagemap_ok() {
	local ent

	[ -n "$addr" ] || { msg "no address from page_poison"; return 1; }
	kernel_died && return 1
	ent=$(pagemap_entry)
	kernel_died && return 1
	msg "pagemap entry of the poisoned page: ${ent:-(none)}"
	[ -n "$ent" ] || return 1
	ent=$((0x$ent))
	eq "present (bit 63)" $(((ent >> 63) & 1)) 0 &&
		eq "swapped (bit 62)" $(((ent >> 62) & 1)) 1 &&
		eq "file (bit 61)" $(((ent >> 61) & 1)) 0
}
check "pagemap of the process after the removal: the entry is swapped, not present" pagemap_ok

# rss_at ADDR: the Rss (kB) smaps gives the process's mapping that holds
# ADDR (a number), or nothing when no mapping holds it.
rss_at() {
	local line range rss in=

	while read -r line; do
		case $line in
		[0-9a-f]*-[0-9a-f]*\ *)
			range=${line%% *}
			in=
			[ $((0x${range%-*})) -le "$1" ] && [ "$1" -lt $((0x${range#*-})) ] && in=1
			;;
		Rss:*)
			[ -n "$in" ] && { read -r _ rss _ <<<"$line"; echo "$rss"; return; }
			;;
		esac
	done <"/proc/$pid/smaps"
}

# The mapping is the poisoned page alone: smaps counts no page behind its
# hwpoison entry (the base counted the struct page the entry named).
smaps_ok() {
	local n rss

	kernel_died && return 1
	n=$(grep -c '^Rss:' "/proc/$pid/smaps") || return 1
	kernel_died && return 1
	rss=$(rss_at $((addr)))
	msg "smaps of the process: $n mappings; the poisoned page's: Rss ${rss:-(none)} kB"
	[ "$n" -gt 0 ] && eq "Rss kB of the poisoned page's mapping" "$rss" 0
}
check "smaps of the process after the removal reads, Rss 0 kB where the page was" smaps_ok

exits() {
	local rc=0

	kernel_died && return 1
	kill -TERM "$pid" || return 1
	wait "$pid" || rc=$?
	pid=
	eq "page_poison's exit status (SIGTERM)" "$rc" 143
}
check "the process ends on SIGTERM, its page table torn down" exits
bind_again() {
	kernel_died && return 1
	kmem_bind "$dax" && state_is online_movable "$dax" "$s" "$e" "$base"
}
check "bind again: the range comes back, online_movable" bind_again

# --- a poisoned page still in a pipe ---

ppfn=
piped() {
	local line

	kmem_param_set unplug_retries 1 && kmem_param_set retry_max_delay_ms 2000 || return 1
	"$DAX_DIR/page_poison" -n 1 -s -w >"$OUT" &
	pid=$!
	wait_line "$OUT" '^pfn=' 60 "$pid" || { msg "page_poison said nothing"; return 1; }
	line=$(head -n 1 "$OUT")
	msg "page_poison -s: $line"
	ppfn=$(kv "$line" pfn)
	# the poison took: madvise() returned 0, or its SIGBUS came first
	{ [ "$(kv "$line" madvise)" = 0 ] ||
		eq "SIGBUS si_code in madvise()" "$(kv "$line" madvise_sigbus)" 4; } &&
		eq "page_poison's node" "$(kv "$line" node)" 1 &&
		eq "SIGBUS si_code on the read" "$(kv "$line" read_sigbus)" 4 &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" $((hw0 + PAGE / 1024))
}
check "a page in a pipe poisoned: SIGBUS (BUS_MCEERR_AR) on the read, counted" piped

held_by_pipe() {
	kernel_died && return 1
	kmem_unbind "$dax" && retained_single || return 1
	eq "retained errno" "$rt_errno" -16 &&
		eq "retained pfn" "$rt_pfn" "$ppfn" &&
		eq "retained reason" "$rt_reason" "unmovable page" &&
		eq "retained bytes (the pipe's page's block)" "$rt_present" \
			"$(block_part $((ppfn * PAGE / $(memblock_bytes))) "$s" "$e")"
}
check "unbind: the block of the page the pipe holds is retained, the page named" held_by_pipe

drained() {
	local line

	kernel_died && return 1
	kill -USR1 "$pid" || return 1
	wait_line "$OUT" '^drained=' 30 "$pid" || { msg "page_poison did not drain"; return 1; }
	line=$(grep '^drained=' "$OUT")
	msg "page_poison: $line"
	eq "bytes drained" "$(kv "$line" drained)" "$PAGE" &&
		eq "the pipe gave what was written" "$(kv "$line" same)" 1 || return 1
	kernel_died && return 1
	wait_until 30 retained_none || { msg "still retained: $(kmem_retained)"; return 1; }
	kmem_gone "$s" "$e" "$base" &&
		eq "HardwareCorrupted kB (the poison went with the memory)" \
		   "$(meminfo_kb HardwareCorrupted)" "$hw0"
}
check "the pipe drained: the retry removes the block, the poison with it" drained

check "the process ends on SIGTERM" exits
kmem_params_restore
ktap_finished
