#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sub-block System RAM (kmem.subblock=1): every 2 MiB of a dax device
# becomes System RAM, not only its whole memory blocks.
#
# Part 1, a 1904 MiB devdax namespace in the big region: the memory blocks
# at the device's ends are partial (memoryN/present_bytes), MemTotal grows
# by exactly the 2 MiB aligned range, /proc/iomem holds exactly that range.
# The partial first block and the partial last block go offline and online
# alone through memoryN/state (MemTotal and node 1's ZONE_MOVABLE span
# follow), the whole device to 'unplugged' and back through daxX.Y/state.
# With the whole blocks offline, a process's memory sits on the partial
# blocks only, and the pfn walkers run over them: compaction, THP, migratepages
# away and back, a read of every pfn of the partial blocks through
# /proc/kpageflags (the absent part must read as NOPAGE, the present part
# must not), soft_offline_page on a page the process uses,
# hard_offline_page (memory_failure()) on a free page and MADV_HWPOISON on
# a process's page. The unbind migrates the memory intact and returns
# MemTotal, /proc/iomem and HardwareCorrupted to the baseline.
#
# Part 2, four 32 MiB namespaces in one 128 MiB section, the first fsdax
# (ext4 mounted -o dax), the others devdax (nothing of them is System RAM
# with whole blocks): one devdax namespace becomes System RAM while the
# other three stay mapped and readable, all four in use at once with the
# data verified; a second one in the same memory block is refused (one
# sub-block range per block) and changes nothing; after the first goes
# back to devdax (its memmap guard freed), the second gets the block.
#
# Part 3, a devdax neighbour in the System RAM's 4 MiB buddy block (small
# region aligned to 2 MiB, a 30 MiB namespace next to a 32 MiB one): the
# memmap guards keep a buddy block to one kind of memory, so whichever of
# the two comes second is refused with EBUSY before anything is mapped (no
# warning), the kernel log names its range, and nothing changes.
#
# Part 4, a 32 MiB namespace A and a 256 MiB one B right after it, in A's
# memory block: with A's System RAM in B's partial first block, B's bind
# leaves that block out (the log says so) and B gets the rest of its range,
# as whole-block clipping would have given it; with A unbound, B bound
# again gets every 2 MiB of its range.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl mkfs.ext4
require_progs sysfs_write numa_fill dax_rw page_poison
require_region small
small=$region
require_region big
MIB=$((1 << 20))
PAGE=$(getconf PAGESIZE)
FILL_OUT=/tmp/kmem_subblock.$$.fill
NDCTL_ERR=/tmp/kmem_subblock.$$.ndctl
FSDAX_MNT=/tmp/kmem_subblock.$$.mnt
DAX_RW=$DAX_DIR/dax_rw
SPLAT_WARN='WARNING:|Call Trace:'

ktap_print_header
ktap_set_plan 49
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

fill_pid=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	[ -n "$fill_pid" ] && kill -KILL "$fill_pid" 2>/dev/null && wait "$fill_pid" 2>/dev/null
	grep -q " $FSDAX_MNT " /proc/mounts && umount "$FSDAX_MNT"
	rmdir "$FSDAX_MNT" 2>/dev/null
	rm -f "$FILL_OUT" "$NDCTL_ERR"
	[ -n "${thp0:-}" ] && echo "$thp0" >"$THP"
	[ -n "${defrag0:-}" ] && echo "$defrag0" >"$THP_DEFRAG"
	kmem_reset
	kmem_params_restore
	[ -n "${align0:-}" ] && echo "$align0" >"$SYS_ND/$small/align"
}
trap cleanup EXIT

# block_bytes_ok S E: every memory block [S, E) touches exists and its
# present_bytes is the part of [S, E) inside it.
block_bytes_ok() {
	local b bs want got rc=0

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		bs=$((b * KMEM_MB))
		want=$((($2 < bs + KMEM_MB ? $2 : bs + KMEM_MB) - ($1 > bs ? $1 : bs)))
		got=$(read_word "$SYS_MEM/memory$b/present_bytes")
		eq "memory$b/present_bytes" "$got" "$want" || rc=1
	done
	return $rc
}

# iomem_exact DAX S E: the System RAM (kmem) resources under DAX cover
# exactly [S, E), with no gap and nothing outside it.
iomem_exact() {
	local st en parent next=$2 rc=0

	while read -r st en parent; do
		[ "$parent" = "$1" ] || continue
		if [ "$st" != "$next" ]; then
			msg "System RAM (kmem) of $1 at $(printf '%#x' "$st")," \
				"want $(printf '%#x' "$next")"
			rc=1
		fi
		next=$en
	done < <(iomem_kmem_all | while read -r st en parent; do
			echo $((16#$st)) $((16#$en + 1)) "$parent"
		done | sort -n)
	eq "end of $1's System RAM (kmem)" "$(printf '%#x' "$next")" "$(printf '%#x' "$3")" || rc=1
	return $rc
}

# blocks_in S E STATE [ZONE]: every memory block [S, E) touches is STATE
# (and its valid_zones ZONE) and on node 1.
blocks_in() {
	local b st z rc=0

	for ((b = $1 / KMEM_MB; b <= ($2 - 1) / KMEM_MB; b++)); do
		st=$(read_word "$SYS_MEM/memory$b/state")
		eq "memory$b state" "$st" "$3" || rc=1
		if [ -n "${4:-}" ]; then
			z=$(read_word "$SYS_MEM/memory$b/valid_zones")
			eq "memory$b valid_zones" "$z" "$4" || rc=1
		fi
		[ -e "$SYS_NODE/node1/memory$b" ] ||
			{ msg "memory$b is not under node1"; rc=1; }
	done
	return $rc
}

# ---- part 1: a big device with partial blocks at its ends ---------------
check "kmem.subblock=1 accepted" kmem_param_set subblock 1
# 1904 MiB (a multiple of the region's 16 MiB alignment) from the big
# region's start: the device starts after its memmap reservation and ends
# 112 MiB into a block, a partial block at each end.
NEW_DEVDAX_SIZE=$((1904 * MIB))
kmem_new_unbound online_movable
NEW_DEVDAX_SIZE=
read -r s2 e2 < <(kmem_range_2m "$dax")
read -r ws we < <(kmem_range "$dax")
whole=$((we - ws))
msg "$dax: 2 MiB aligned $(printf '%#x-%#x' "$s2" $((e2 - 1))), $(((e2 - s2) / MIB)) MiB;" \
	"whole blocks $((whole / MIB)) MiB"
head=$(((s2 % KMEM_MB) ? KMEM_MB - s2 % KMEM_MB : 0))
tail=$((e2 % KMEM_MB))
msg "partial head block: $((head / MIB)) MiB, partial tail block: $((tail / MIB)) MiB"

has_partial() {
	[ "$head" -gt 0 ] && [ "$tail" -gt 0 ] ||
		{ msg "$dax does not have a partial block at each end"; return 1; }
}
check "the device has a partial memory block at each end (layout)" has_partial

check "bind to kmem" kmem_bind "$dax"
check "MemTotal grew by the 2 MiB aligned range, exactly" memtotal_grew_by $(((e2 - s2) / 1024))
check "kmem/present_bytes is the 2 MiB aligned range" \
	eq "present_bytes" "$(kmem_attr "$dax" present_bytes)" $((e2 - s2))
check "kmem/online_movable_bytes is the 2 MiB aligned range" \
	eq "online_movable_bytes" "$(kmem_attr "$dax" online_movable_bytes)" $((e2 - s2))
check "memoryN/present_bytes: the device's part of every block" block_bytes_ok "$s2" "$e2"
check "every block online in ZONE_MOVABLE on node 1" blocks_in "$s2" "$e2" online Movable
check "/proc/iomem: System RAM (kmem) is exactly the 2 MiB aligned range" \
	iomem_exact "$dax" "$s2" "$e2"

boot_block_whole() {
	eq "memory0/present_bytes" "$(read_word "$SYS_MEM/memory0/present_bytes")" "$KMEM_MB"
}
check "a boot memory block's present_bytes is the block size" boot_block_whole

# zone_start NODE ZONE, zone_end NODE ZONE: the zone's start_pfn in
# /proc/zoneinfo, and start_pfn + spanned (its first pfn after the span).
zone_start() {
	awk -v n="$1," -v z="$2" '$1 == "Node" { f = $2 == n && $4 == z; next }
		f && $1 == "start_pfn:" { print $2; exit }' /proc/zoneinfo
}

zone_end() {
	awk -v n="$1," -v z="$2" '$1 == "Node" { f = $2 == n && $4 == z; next }
		f && $1 == "spanned" { sp = $2 }
		f && $1 == "start_pfn:" { print $2 + sp; exit }' /proc/zoneinfo
}

# partial_block_cycle head|tail: the partial block at the device's start
# (end) alone through memoryN/state: MemTotal follows by its present bytes;
# node 1's ZONE_MOVABLE starts (ends) at the block boundary next to it
# while it is offline, and at the device's start (end) once it is back.
# First, the zone's edge is the device's: node 1's memory beyond the device
# (the spare region's, left online for good by kmem_unload.sh) would hide
# the change.
partial_block_cycle() {
	local b bytes edge offline_pfn online_pfn all rc=0

	if [ "$1" = head ]; then
		b=$((s2 / KMEM_MB)) bytes=$head edge=zone_start
		offline_pfn=$(((b + 1) * KMEM_MB / PAGE)) online_pfn=$((s2 / PAGE))
	else
		b=$(((e2 - 1) / KMEM_MB)) bytes=$tail edge=zone_end
		offline_pfn=$((b * KMEM_MB / PAGE)) online_pfn=$((e2 / PAGE))
	fi
	[ "$bytes" -gt 0 ] || { msg "no partial $1 block"; return 1; }
	eq "node 1 Movable $edge before" "$($edge 1 Movable)" "$online_pfn" ||
		{ msg "node 1 Movable reaches beyond the device (memory left over?)"; return 1; }
	all=$(meminfo_kb MemTotal)
	block_set "$SYS_MEM/memory$b" offline || return 1
	eq "memory$b state" "$(read_word "$SYS_MEM/memory$b/state")" offline || rc=1
	memtotal_is $((all - bytes / 1024)) || rc=1
	eq "node 1 Movable $edge, memory$b offline" "$($edge 1 Movable)" "$offline_pfn" || rc=1
	block_set "$SYS_MEM/memory$b" online_movable || return 1
	memtotal_is "$all" || rc=1
	eq "node 1 Movable $edge, memory$b online" "$($edge 1 Movable)" "$online_pfn" || rc=1
	blocks_in "$s2" "$e2" online Movable || rc=1
	return $rc
}
check "the partial first block offline and online through memoryN/state; zone span follows" \
	partial_block_cycle head
check "the partial last block offline and online through memoryN/state; zone span follows" \
	partial_block_cycle tail

# daxX.Y/state acts on every block, the partial ones included: 'unplugged'
# offlines and removes them all ('offline' is only a reading), an online
# word adds and onlines them again.
dax_state_cycle() {
	local f=$SYS_DAX/devices/$dax/state rc=0

	expect_write OK "$f" unplugged || return 1
	eq "$dax state" "$(dax_state "$dax")" unplugged || rc=1
	eq "blocks" "$(kmem_blocks_of "$dax" | tr '\n' ' ')" "" || rc=1
	memtotal_grew_by 0 || rc=1
	expect_write OK "$f" online_movable || return 1
	eq "$dax state" "$(dax_state "$dax")" online_movable || rc=1
	block_bytes_ok "$s2" "$e2" || rc=1
	blocks_in "$s2" "$e2" online Movable || rc=1
	memtotal_grew_by $(((e2 - s2) / 1024)) || rc=1
	iomem_exact "$dax" "$s2" "$e2" || rc=1
	return $rc
}
check "daxX.Y/state unplugged, then online_movable: every block, the partial ones included" \
	dax_state_cycle

# Only the partial blocks stay online: the memory a process gets on node 1
# is theirs.
whole_offline() {
	local b

	for ((b = (s2 + KMEM_MB - 1) / KMEM_MB; b < e2 / KMEM_MB; b++)); do
		block_set "$SYS_MEM/memory$b" offline || return 1
	done
	memtotal_grew_by $(((head + tail) / 1024))
}
check "whole blocks offline, the partial ones online: MemTotal = base + partial bytes" whole_offline

# The fill runs with THP disabled: its pages are base pages, so the page
# soft_offline_page takes below is a 4 KiB one in every run.
THP=/sys/kernel/mm/transparent_hugepage/enabled
thp0=

# fill_start OUT MIB: numa_fill with MIB MiB bound to node 1 (a random
# seed), its output in OUT; waits for its ready line and sets started_pid.
# On failure it says why, kills the fill and returns 1.
started_pid=
fill_start() {
	"$DAX_DIR/numa_fill" -n 1 -s $((RANDOM + 1)) "$2" >"$1" 2>&1 &
	started_pid=$!
	wait_line "$1" '^ready ' 600 "$started_pid" && return 0
	msg "numa_fill: $(tail -n 2 "$1" | tr '\n' ' ')"
	kill -KILL "$started_pid" 2>/dev/null
	wait "$started_pid" 2>/dev/null
	started_pid=
	return 1
}

# fill_done OUT PID: the fill PID (output in OUT) checks its memory and
# exits; sets done_line to its done line, fails if it does not exit in
# time. Not in a subshell: the fill must be this shell's child to be
# waited for.
done_line=
fill_done() {
	local rc=0

	kill -USR1 "$2" 2>/dev/null
	wait_exit "$2" 600 || rc=1
	done_line=$(grep '^done ' "$1")
	return $rc
}

fill_partial() {
	local want line

	thp0=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP")
	expect_write OK "$THP" never || return 1

	want=$(((head + tail) / MIB / 2))
	fill_start "$FILL_OUT" "$want" || return 1
	fill_pid=$started_pid
	line=$(grep '^ready ' "$FILL_OUT")
	msg "numa_fill $want MiB: $line"
	eq "pages on node 1" "$(kv "$line" node1)" "$(kv "$line" pages)"
}
check "a process holds memory on the partial blocks" fill_partial

# ---- pfn walkers over the partial blocks --------------------------------
KPF_LRU=5 KPF_BUDDY=10 KPF_ANON=12 KPF_HWPOISON=19 KPF_NOPAGE=20 KPF_THP=22

# kpf_scan PFN N: "PFN WORD" for N pfns from PFN, WORD the pfn's
# /proc/kpageflags word in 16 hex digits.
kpf_scan() {
	kpf_words /proc/kpageflags "$1" "$2" | awk -v p="$1" '{ print p + NR - 1, $1 }'
}

# AWK_BIT: awk function bit(WORD, B), 1 when bit B of WORD is set.
AWK_BIT='function bit(w, b,  v) {
	v = index("0123456789abcdef", substr(w, 16 - int(b / 4), 1)) - 1
	return int(v / substr("1248", b % 4 + 1, 1)) % 2
}'

# kpf_block_ok S E: every pfn of the memory blocks [S, E) touches reads
# through /proc/kpageflags, NOPAGE exactly outside [S, E).
kpf_block_ok() {
	local bs=$(($1 / KMEM_MB * KMEM_MB)) be=$((($2 + KMEM_MB - 1) / KMEM_MB * KMEM_MB))
	local out

	out=$(kpf_scan $((bs / PAGE)) $(((be - bs) / PAGE)) |
	      awk -v s=$(($1 / PAGE)) -v e=$(($2 / PAGE)) "$AWK_BIT"'
		{ n++; np = bit($2, '"$KPF_NOPAGE"'); in_r = $1 >= s && $1 < e
		  if (in_r && np) bad_in++; if (!in_r && !np) bad_out++ }
		END { print n + 0, bad_in + 0, bad_out + 0 }')
	msg "kpageflags $(printf '%#x-%#x' "$bs" $((be - 1))):" \
		"pfns read, present NOPAGE, absent not NOPAGE: $out"
	eq "pfns read, present NOPAGE, absent not NOPAGE" "$out" "$(((be - bs) / PAGE)) 0 0"
}

# kpf_find S E BIT...: the first pfn in [S, E) whose kpageflags word has
# every BIT set (every !BIT clear) and HWPOISON clear; nothing when there
# is none.
kpf_find() {
	local s=$1 e=$2

	shift 2
	kpf_scan $((s / PAGE)) $(((e - s) / PAGE)) |
		awk -v bits="$*" "$AWK_BIT"'
		{ n = split(bits, b, " "); ok = !bit($2, '"$KPF_HWPOISON"')
		  for (i = 1; i <= n; i++)
			if (substr(b[i], 1, 1) == "!") ok = ok && !bit($2, substr(b[i], 2))
			else ok = ok && bit($2, b[i])
		  if (ok) { print $1; exit } }'
}

# kpf_has PFN BIT: bit BIT of PFN's kpageflags word is set (and the word
# was read).
kpf_has() {
	kpf_scan "$1" 1 | awk "$AWK_BIT"'{ r = bit($2, '"$2"') } END { exit !r }'
}

# partial_parts: "S E" of the present part of each partial block
partial_parts() {
	[ "$head" -gt 0 ] && echo "$s2" $((s2 + head))
	[ "$tail" -gt 0 ] && echo $((e2 - tail)) "$e2"
}

kpf_partial_ok() {
	local ps pe rc=0

	while read -r ps pe; do
		kpf_block_ok "$ps" "$pe" || rc=1
	done < <(partial_parts)
	return $rc
}

# bound_pages_of PID NODE: the pages on NODE of PID's mappings bound to
# node 1 (numa_fill's memory: /proc/PID/numa_maps, policy bind:1).
bound_pages_of() {
	awk -v k="N$2=" '$2 != "bind:1" { next }
		{ for (i = 1; i <= NF; i++)
			if (index($i, k) == 1) n += substr($i, length(k) + 1) }
		END { print n + 0 }' "/proc/$1/numa_maps"
}

# vmstat_counter NAME: a counter of /proc/vmstat
vmstat_counter() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

# Compaction scans the pages it could migrate (compact_migrate_scanned
# grows): it ran over the zones, node 1's partial blocks included.
compact_ok() {
	local scanned=$(($(vmstat_counter compact_migrate_scanned)))

	expect_write OK /proc/sys/vm/compact_memory 1 &&
		expect_write OK "$SYS_NODE/node1/compact" 1 || return 1
	msg "compact_migrate_scanned: $scanned -> $(vmstat_counter compact_migrate_scanned)"
	[ "$(vmstat_counter compact_migrate_scanned)" -gt "$scanned" ]
}

# numa_fill's pages, all of them, off node 1 and back: the mapping bound to
# node 1 has every page on node 0, then every page on node 1 again.
migrate_away_and_back() {
	local want=$(($(kv "$(grep '^ready ' "$FILL_OUT")" pages)))

	[ "$want" -gt 0 ] || { msg "numa_fill's ready line has no page count"; return 1; }
	run migratepages "$fill_pid" 1 0 || return 1
	eq "numa_fill pages on node 1 after migratepages 1 0" \
		"$(bound_pages_of "$fill_pid" 1)" 0 || return 1
	eq "numa_fill pages on node 0 after migratepages 1 0" \
		"$(bound_pages_of "$fill_pid" 0)" "$want" || return 1
	run migratepages "$fill_pid" 0 1 || return 1
	eq "numa_fill pages on node 1 after migratepages 0 1" \
		"$(bound_pages_of "$fill_pid" 1)" "$want" &&
		eq "numa_fill pages on node 0 after migratepages 0 1" \
			"$(bound_pages_of "$fill_pid" 0)" 0
}

# poison_one FILE BIT...: write the address of the first page of the
# partial parts with every BIT (and no HWPOISON) to FILE; the page is
# HWPOISON afterwards and HardwareCorrupted grew by one page.
poison_one() {
	local file=$1 ps pe pfn="" hw

	shift
	while read -r ps pe; do
		pfn=$(kpf_find "$ps" "$pe" "$@")
		[ -n "$pfn" ] && break
	done < <(partial_parts)
	[ -n "$pfn" ] || { msg "no page with kpageflags bits $* in the partial parts"; return 1; }
	msg "${file##*/}: pfn $(printf '%#x' "$pfn")"
	hw=$(meminfo_kb HardwareCorrupted)
	expect_write OK "$file" "$(printf '%#x' $((pfn * PAGE)))" || return 1
	kpf_has "$pfn" "$KPF_HWPOISON" || { msg "pfn $pfn is not HWPOISON"; return 1; }
	eq "HardwareCorrupted" "$(meminfo_kb HardwareCorrupted)" $((hw + PAGE / 1024))
}

# THP on the partial blocks: with THP 'always' (and defrag 'always', so a
# fault compacts for its huge page), a second process's 8 MiB on node 1 gets
# huge pages there: its own AnonHugePages (smaps_rollup) is not 0, a pfn
# with kpageflags THP is in a partial part, and it reads back intact.
THP_DEFRAG=/sys/kernel/mm/transparent_hugepage/defrag
defrag0=
thp_on_partial() {
	local out=$FILL_OUT.thp pid line ps pe pfn="" huge rc=0

	defrag0=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP_DEFRAG")
	expect_write OK "$THP_DEFRAG" always || return 1
	expect_write OK "$THP" always || return 1
	if fill_start "$out" 8; then
		pid=$started_pid
		while read -r ps pe; do
			pfn=$(kpf_find "$ps" "$pe" "$KPF_ANON" "$KPF_THP")
			[ -n "$pfn" ] && break
		done < <(partial_parts)
		huge=$(awk '$1 == "AnonHugePages:" { print $2 }' "/proc/$pid/smaps_rollup")
		msg "THP fill: $(grep '^ready ' "$out"); AnonHugePages ${huge:-?} kB;" \
			"a THP page at pfn $(printf '%#x' "${pfn:-0}")"
		[ "${huge:-0}" -gt 0 ] || { msg "the THP fill has no huge page"; rc=1; }
		[ -n "$pfn" ] || { msg "no anonymous THP page in the partial parts"; rc=1; }
		fill_done "$out" "$pid" || rc=1
		line=$done_line
		eq "THP fill words changed" "$(kv "$line" bad)" 0 || rc=1
		eq "THP fill pages on node 1" "$(kv "$line" node1)" "$(kv "$line" pages)" || rc=1
	else
		rc=1
	fi
	rm -f "$out"
	expect_write OK "$THP" never || rc=1
	expect_write OK "$THP_DEFRAG" "$defrag0" || rc=1
	defrag0=
	return $rc
}

# MADV_HWPOISON on a page of a process on node 1 (only the partial blocks
# are online): the pfn the kernel poisoned (its "Injecting memory failure
# for pfn" line: the page may have moved since page_poison read its pfn) is
# in a partial part and HWPOISON, HardwareCorrupted grew by one page and
# the process got SIGBUS (BUS_MCEERR_AR) reading it.
madv_hwpoison() {
	local out pfn kpfn ps pe in_part="" hw mark=madv-$$-$RANDOM rc=0

	hw=$(meminfo_kb HardwareCorrupted)
	kmsg_mark "$mark"
	out=$("$DAX_DIR/page_poison" -n 1) || rc=1
	kpfn=$(kmsg_since "$mark" |
	       sed -n 's/.*Injecting memory failure for pfn \(0x[0-9a-f]*\) .*/\1/p' | head -n 1)
	msg "page_poison: $out; the kernel poisoned pfn ${kpfn:-(no log line)}"
	[ -n "$kpfn" ] || return 1
	pfn=$((kpfn))
	[ "$pfn" = "$(kv "$out" pfn)" ] ||
		msg "the page moved between page_poison's pagemap read and the poison"
	while read -r ps pe; do
		[ $((pfn * PAGE)) -ge "$ps" ] && [ $((pfn * PAGE)) -lt "$pe" ] && in_part=1
	done < <(partial_parts)
	[ -n "$in_part" ] || { msg "pfn $pfn is not in a partial part"; rc=1; }
	kpf_has "$pfn" "$KPF_HWPOISON" || { msg "pfn $pfn is not HWPOISON"; rc=1; }
	eq "HardwareCorrupted" "$(meminfo_kb HardwareCorrupted)" $((hw + PAGE / 1024)) || rc=1
	return $rc
}

hw0=$(meminfo_kb HardwareCorrupted)
check "compaction with memory on the partial blocks" compact_ok
check "THP: huge pages of a process on the partial blocks, contents intact" thp_on_partial
check "migratepages: the process's memory off node 1 and back onto the partial blocks" \
	migrate_away_and_back
check "/proc/kpageflags over the partial blocks: NOPAGE exactly outside the device" kpf_partial_ok
check "soft_offline_page on a page the process uses in a partial block" \
	poison_one "$SYS_MEM/soft_offline_page" "$KPF_ANON" "$KPF_LRU" "!$KPF_THP"
check "hard_offline_page (memory_failure) on a free page in a partial block" \
	poison_one "$SYS_MEM/hard_offline_page" "$KPF_BUDDY"
check "MADV_HWPOISON on a process's page in a partial block: SIGBUS on access" madv_hwpoison

unbind_migrates() {
	local line rc=0

	kmem_unbind "$dax" || rc=1
	fill_done "$FILL_OUT" "$fill_pid" || rc=1
	line=$done_line
	fill_pid=
	msg "numa_fill: $line"
	eq "words changed" "$(kv "$line" bad)" 0 || rc=1
	eq "pages left on node 1" "$(kv "$line" node1)" 0 || rc=1
	expect_write OK "$THP" "$thp0" || rc=1
	thp0=
	return $rc
}
check "unbind migrates the partial blocks' memory, contents intact" unbind_migrates
check "after unbind: MemTotal at the baseline" memtotal_is "$base"
check "after unbind: /proc/iomem at the baseline" iomem_is "$IOMEM0"
check "after unbind: no memory block of the range left" \
	eq "blocks" "$(kmem_blocks_of "$dax" | tr '\n' ' ')" ""
check "after unbind: HardwareCorrupted at the baseline, the poison went with the memory" \
	eq "HardwareCorrupted" "$(meminfo_kb HardwareCorrupted)" "$hw0"

# ---- part 2: four namespaces in one section -----------------------------
kmem_reset
region=$small
declare -a NS DAXES
# mapped_ok I...: through a mapping of namespace I (a file of the fsdax
# file system for namespace 0, the devdax device for the others), the
# pattern written last time (SEEDS[I]) is still there, and a new one reads
# back. A namespace whose device was System RAM since has no pattern to
# keep (to_ram drops its seed).
declare -a SEEDS
mapped_ok() {
	local i d path size seed rc=0

	for i in "$@"; do
		if [ "$i" = 0 ]; then
			path=$FSDAX_MNT/f size=$((8 * MIB))
		else
			d=${DAXES[i]}
			path=/dev/$d size=$(dax_attr "$d" size)
		fi
		if [ -n "${SEEDS[i]:-}" ]; then
			run "$DAX_RW" -c "$path" "$size" "${SEEDS[i]}" ||
				{ msg "namespace $i lost its data"; rc=1; }
		fi
		seed=0x$((RANDOM + 1))
		run "$DAX_RW" "$path" "$size" "$seed" || rc=1
		SEEDS[i]=$seed
	done
	return $rc
}

# four_in_one_section: namespace 0 fsdax (ext4 mounted -o dax on
# $FSDAX_MNT), 1 to 3 devdax, 32 MiB each, all in one memory block.
four_in_one_section() {
	local i j start size mode first="" dev

	NS=() DAXES=()
	for i in 0 1 2 3; do
		mode=devdax
		[ "$i" = 0 ] && mode=fsdax
		j=$(NS_ERR=$NDCTL_ERR create_ns "$region" "$mode" $((32 * MIB)) -a 2M)
		[ -n "$j" ] || { msg "namespace $i ($mode) not created:" \
				     "$(tr '\n' ' ' <"$NDCTL_ERR")"; return 1; }
		NS[i]=$(ns_of "$j")
		DAXES[i]=$(dax_of_ns "$j")
		[ "$i" = 0 ] && dev=/dev/$(echo "$j" | json_field blockdev)
		start=$(($(cat "$SYS_ND/${NS[i]}/resource")))
		size=$(cat "$SYS_ND/${NS[i]}/size")
		: "${first:=$((start / KMEM_MB))}"
		if [ $((start / KMEM_MB)) != "$first" ] ||
		   [ $(((start + size - 1) / KMEM_MB)) != "$first" ]; then
			msg "${NS[i]} is not in memory block $first"
			return 1
		fi
	done
	msg "namespaces ${NS[*]} ($dev, ${DAXES[*]:1}) in memory block $first"
	mkdir -p "$FSDAX_MNT"
	run mkfs.ext4 -q -F -b 4096 "$dev" || return 1
	run mount -o dax=always "$dev" "$FSDAX_MNT" || return 1
	grep -q " $FSDAX_MNT .*dax=always" /proc/mounts ||
		{ msg "$dev is not mounted with dax"; return 1; }
	run dd if=/dev/zero of="$FSDAX_MNT/f" bs=1M count=8 || return 1
	SEEDS=()
	mapped_ok 0 2 3
}
check "four 32 MiB namespaces in one memory block: fsdax (ext4 -o dax), 3 devdax; data in 0, 2, 3" \
	four_in_one_section

# to_ram I: namespace I's device bound to kmem with online_movable; its
# 2 MiB aligned range is System RAM
to_ram() {
	local d=${DAXES[$1]} s e

	read -r s e < <(kmem_range_2m "$d")
	base=$(meminfo_kb MemTotal)
	SEEDS[$1]=
	expect_write OK "$SYS_DAX/devices/$d/online_policy" online_movable || return 1
	kmem_bind "$d" || return 1
	memtotal_grew_by $(((e - s) / 1024)) &&
		eq "$d present_bytes" "$(kmem_attr "$d" present_bytes)" $((e - s)) &&
		iomem_exact "$d" "$s" "$e"
}
check "namespace 1 becomes System RAM, exactly its 2 MiB aligned range" to_ram 1
check "namespaces 0 (fsdax), 2, 3 (devdax): their data intact, mappings read back" mapped_ok 0 2 3

# All four in use at once: a process's 16 MiB on node 1 (namespace 1's
# System RAM is all node 1 has) while the fsdax file and the devdax
# devices keep their data and are written and read back; the process's
# memory is intact.
all_at_once() {
	local out=$FILL_OUT.p2 pid line rc=0

	fill_start "$out" 16 || { rm -f "$out"; return 1; }
	pid=$started_pid
	line=$(grep '^ready ' "$out")
	msg "numa_fill: $line"
	eq "pages on node 1" "$(kv "$line" node1)" "$(kv "$line" pages)" || rc=1
	mapped_ok 0 2 3 || rc=1
	fill_done "$out" "$pid" || rc=1
	line=$done_line
	rm -f "$out"
	eq "words changed" "$(kv "$line" bad)" 0 || rc=1
	return $rc
}
check "all at once: memory on namespace 1's System RAM, fsdax and devdax read back, intact" \
	all_at_once

# The block is namespace 1's: binding namespace 2 fails with EEXIST, the
# kernel log names the block and namespace 1's System RAM in it (exactly,
# as /proc/iomem has it under namespace 1's device), and nothing changes.
second_refused() {
	local d=${DAXES[2]} iomem blk s e owner mark=subblock-$$-$RANDOM rc=0

	dax_unbind_any "$d" || return 1
	iomem=$(cat /proc/iomem)
	base=$(meminfo_kb MemTotal)
	blk=$(($(dax_attr "$d" resource) / KMEM_MB))
	expect_write OK "$SYS_DAX/devices/$d/online_policy" online_movable || return 1
	kmsg_mark "$mark"
	kmem_bind "$d" && rc=1
	eq "bind $d to kmem" "$kmem_bind_err" EEXIST || rc=1
	eq "$d driver" "$(dax_drv_of "$d")" none || rc=1
	kmsg_since "$mark" | grep -q "memory block memory$blk exists, for " ||
		{ msg "no kernel log line names memory$blk"; rc=1; }
	read -r s e < <(kmem_range_2m "${DAXES[1]}")
	# %pa: 0x and 16 hex digits
	owner=$(printf 'memory%d holds System RAM 0x%016x-0x%016x already (driver managed' \
		"$blk" "$s" $((e - 1)))
	kmsg_since "$mark" | grep -qF "$owner" ||
		{ msg "no kernel log line says: $owner"; rc=1; }
	memtotal_is "$base" || rc=1
	iomem_is "$iomem" || rc=1
	return $rc
}
check "namespace 2 in the same block: bind fails with EEXIST, nothing changes" second_refused

devdax_again() {
	expect_write OK "$SYS_DAX/drivers/device_dax/bind" "${DAXES[$1]}" && mapped_ok "$1"
}

back_to_devdax() {
	kmem_unbind "${DAXES[$1]}" && devdax_again "$1"
}
check "namespace 2 back on device_dax: its data intact, mapping reads back" devdax_again 2
check "namespace 1 back to devdax (its guard freed), mapping reads back" back_to_devdax 1
check "then namespace 2 gets the block" to_ram 2
check "namespaces 0 (fsdax), 1, 3 (devdax): their data intact, mappings read back" mapped_ok 0 1 3

# memory_failure() of a page of namespace 3's devdax device, in the block of
# namespace 2's System RAM: the poison is not the block's (its hwpoison
# count would refuse the block's online, and its removal would subtract a
# poison that stays). That page's poison stays counted in HardwareCorrupted
# until a reboot (ZONE_DEVICE poison is never subtracted); no later test
# reads HardwareCorrupted against a boot-time value.
neighbour_poisoned() {
	local d=${DAXES[3]} b hw err

	b=$(($(dax_attr "${DAXES[2]}" resource) / KMEM_MB))
	hw=$(meminfo_kb HardwareCorrupted)
	err=$(sysfs_err "$SYS_MEM/hard_offline_page" "$(dax_attr "$d" resource)")
	msg "hard_offline_page on $d's first page: $err"
	eq "HardwareCorrupted" "$(meminfo_kb HardwareCorrupted)" $((hw + PAGE / 1024)) &&
		block_set "$SYS_MEM/memory$b" offline &&
		block_set "$SYS_MEM/memory$b" online_movable
}
check "memory_failure() on a devdax neighbour's page: namespace 2's block offlines and onlines" \
	neighbour_poisoned
ram_gone_poison_stays() {
	local hw

	hw=$(meminfo_kb HardwareCorrupted)
	kmem_unbind "${DAXES[2]}" && eq "HardwareCorrupted" "$(meminfo_kb HardwareCorrupted)" "$hw"
}
check "namespace 2 unbound from kmem: HardwareCorrupted unchanged" ram_gone_poison_stays

check "namespace 0's fsdax file system unmounts" run umount "$FSDAX_MNT"

# ---- part 3: a devdax neighbour in the System RAM's buddy block ---------
kmem_reset
align0=$(cat "$SYS_ND/$small/align")
declare -a P3NS P3DAX
# guard_layout: namespace A (30 MiB) and B (32 MiB) right after it, in the
# small region aligned to 2 MiB: A's System RAM would end half way into a
# 4 MiB buddy block whose other half is B's.
guard_layout() {
	local i j sz as ae bs

	expect_write OK "$SYS_ND/$small/align" $((2 * MIB)) || return 1
	P3NS=() P3DAX=()
	for i in 0 1; do
		sz=$((i ? 32 * MIB : 30 * MIB))
		# -f: ndctl refuses a dax namespace that does not start on
		# 16 MiB unless forced, and B starts at 30 MiB.
		j=$(NS_ERR=$NDCTL_ERR create_ns "$small" devdax "$sz" -a 2M -f)
		[ -n "$j" ] || { msg "namespace of $((sz / MIB)) MiB not created:" \
				     "$(tr '\n' ' ' <"$NDCTL_ERR")"; return 1; }
		P3NS[i]=$(ns_of "$j")
		P3DAX[i]=$(dax_of_ns "$j")
	done
	read -r as ae < <(kmem_range_2m "${P3DAX[0]}")
	bs=$(($(cat "$SYS_ND/${P3NS[1]}/resource")))
	msg "A ${P3DAX[0]}: System RAM would be $(printf '%#x-%#x' "$as" $((ae - 1)));" \
		"B ${P3DAX[1]}: namespace from $(printf '%#x' "$bs")"
	eq "B's start" "$(printf '%#x' "$bs")" "$(printf '%#x' "$ae")" || return 1
	[ $((ae % (4 * MIB))) -ne 0 ] ||
		{ msg "A's System RAM does not end half way into a 4 MiB block"; return 1; }
}
check "layout: a 30 MiB namespace, then a 32 MiB one, in a 2 MiB aligned region" guard_layout

p3_mapped_ok() {
	local d=${P3DAX[$1]}

	run "$DAX_RW" "/dev/$d" "$(dax_attr "$d" size)" 0x$RANDOM
}

# refused_ebusy WHAT DEV CMD...: CMD, which binds DEV to a driver and
# prints the errno name of the bind, prints EBUSY; DEV stays unbound, the
# kernel log names the range that "would share" a buddy block and carries
# no warning; MemTotal and /proc/iomem are unchanged.
refused_ebusy() {
	local what=$1 dev=$2 iomem mark=guard-$$-$RANDOM rc=0 log warn

	shift 2
	iomem=$(cat /proc/iomem)
	base=$(meminfo_kb MemTotal)
	kmsg_mark "$mark"
	eq "$what" "$("$@")" EBUSY || rc=1
	eq "$dev driver" "$(dax_drv_of "$dev")" none || rc=1
	log=$(kmsg_since "$mark")
	echo "$log" | grep -q "would share a 4096 KiB buddy block" ||
		{ msg "no kernel log line names the range"; rc=1; }
	warn=$(echo "$log" | grep -E "$SPLAT_WARN" | head -n 1)
	[ -z "$warn" ] || { msg "a warning in the kernel log: $warn"; rc=1; }
	memtotal_is "$base" || rc=1
	iomem_is "$iomem" || rc=1
	return $rc
}

# kmem_bind_errno DEV: bind DEV to kmem (new_id first when kmem does not
# match it yet, as kmem_bind does); print the errno name, OK on success.
kmem_bind_errno() {
	kmem_bind "$1" >/dev/null
	echo "$kmem_bind_err"
}


# B (ZONE_DEVICE) first: A's System RAM is refused.
ram_after_devdax() {
	local d=${P3DAX[0]}

	dax_unbind_any "$d" || return 1
	expect_write OK "$SYS_DAX/devices/$d/online_policy" online_movable || return 1
	refused_ebusy "bind $d to kmem" "$d" kmem_bind_errno "$d"
}
check "B devdax first: binding A to kmem fails with EBUSY, nothing changes" ram_after_devdax
check "... and B's mapping reads back" p3_mapped_ok 1

# A's System RAM first: B's ZONE_DEVICE memory is refused.
devdax_after_ram() {
	local a=${P3DAX[0]} b=${P3DAX[1]} s e

	dax_unbind_any "$b" || return 1
	read -r s e < <(kmem_range_2m "$a")
	base=$(meminfo_kb MemTotal)
	kmem_bind "$a" && memtotal_grew_by $(((e - s) / 1024)) || return 1
	refused_ebusy "bind $b to device_dax" "$b" sysfs_err "$SYS_DAX/drivers/device_dax/bind" "$b"
}
check "A System RAM first: binding B to device_dax fails with EBUSY, nothing changes" \
	devdax_after_ram

both_devdax_again() {
	kmem_unbind "${P3DAX[0]}" &&
		expect_write OK "$SYS_DAX/drivers/device_dax/bind" "${P3DAX[1]}" &&
		expect_write OK "$SYS_DAX/drivers/device_dax/bind" "${P3DAX[0]}" &&
		p3_mapped_ok 0 && p3_mapped_ok 1
}
check "A back from kmem: both bind to device_dax, mappings read back" both_devdax_again

kmem_reset
align_back() {
	expect_write OK "$SYS_ND/$small/align" "$align0" &&
		eq "$small/align" "$(cat "$SYS_ND/$small/align")" "$align0"
}
check "the small region's alignment back to $align0" align_back
align0=

# ---- part 4: a partial first block that another device's RAM holds ------
declare -a P4DAX
p4base=
trim_layout() {
	local i j sz as ae bs be

	P4DAX=()
	p4base=$(meminfo_kb MemTotal)
	for i in 0 1; do
		sz=$((i ? 256 * MIB : 32 * MIB))
		j=$(NS_ERR=$NDCTL_ERR create_ns "$small" devdax "$sz" -a 2M)
		[ -n "$j" ] || { msg "namespace of $((sz / MIB)) MiB not created:" \
				     "$(tr '\n' ' ' <"$NDCTL_ERR")"; return 1; }
		P4DAX[i]=$(dax_of_ns "$j")
		expect_write OK "$SYS_DAX/devices/${P4DAX[i]}/online_policy" online_movable ||
			return 1
	done
	read -r as ae < <(kmem_range_2m "${P4DAX[0]}")
	read -r bs be < <(kmem_range_2m "${P4DAX[1]}")
	msg "A ${P4DAX[0]}: $(printf '%#x-%#x' "$as" $((ae - 1)));" \
		"B ${P4DAX[1]}: $(printf '%#x-%#x' "$bs" $((be - 1)))"
	eq "B's first block" $((bs / KMEM_MB)) $(((ae - 1) / KMEM_MB)) || return 1
	[ $((bs % KMEM_MB)) -ne 0 ] || { msg "B starts on a block boundary"; return 1; }
	[ $(((bs / KMEM_MB + 2) * KMEM_MB)) -le "$be" ] ||
		{ msg "B has no whole block after its first"; return 1; }
}
check "layout: a 32 MiB namespace A, then a 256 MiB one B starting in A's memory block" \
	trim_layout

# A becomes System RAM, then B binds without its first block: B's System
# RAM starts at the next block, the log names what was left out, A's
# System RAM is untouched.
trim_bind() {
	local a=${P4DAX[0]} b=${P4DAX[1]} as ae bs be ws l mark=trim-$$-$RANDOM rc=0

	read -r as ae < <(kmem_range_2m "$a")
	read -r bs be < <(kmem_range_2m "$b")
	ws=$(((bs / KMEM_MB + 1) * KMEM_MB))
	dax_unbind_any "$a" && dax_unbind_any "$b" && kmem_bind "$a" || return 1
	base=$(meminfo_kb MemTotal)
	kmsg_mark "$mark"
	kmem_bind "$b" || return 1
	eq "$b present_bytes" "$(kmem_attr "$b" present_bytes)" $((be - ws)) || rc=1
	memtotal_grew_by $(((be - ws) / 1024)) || rc=1
	iomem_exact "$b" "$ws" "$be" || rc=1
	iomem_exact "$a" "$as" "$ae" || rc=1
	l=$(printf '%s: %#x-%#x: its memory block holds other System RAM, left out' \
		"$b" "$bs" $((ws - 1)))
	kmsg_since "$mark" | grep -qF "$l" || { msg "no kernel log line says: $l"; rc=1; }
	return $rc
}
check "B binds without its first block, which holds A's System RAM; the log says so" trim_bind

# A unbound: B bound again has its whole 2 MiB aligned range.
untrimmed() {
	local a=${P4DAX[0]} b=${P4DAX[1]} bs be

	read -r bs be < <(kmem_range_2m "$b")
	kmem_unbind "$b" && kmem_unbind "$a" || return 1
	base=$(meminfo_kb MemTotal)
	kmem_bind "$b" || return 1
	eq "$b present_bytes" "$(kmem_attr "$b" present_bytes)" $((be - bs)) &&
		memtotal_grew_by $(((be - bs) / 1024)) && iomem_exact "$b" "$bs" "$be"
}
check "A unbound: B bound again has every 2 MiB of its range" untrimmed

p4_gone() {
	kmem_unbind "${P4DAX[1]}" && memtotal_is "$p4base" &&
		eq "System RAM (kmem)" "$(iomem_kmem_all)" ""
}
check "B unbound: MemTotal at the baseline, no System RAM (kmem) left" p4_gone
kmem_reset
ktap_finished
