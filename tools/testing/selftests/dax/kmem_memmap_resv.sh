#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The memmap in the pfn reservation. A devdax namespace in map=dev mode
# sets aside about 1/64 of itself for a memmap; with daxX.Y/memmap
# "reservation" (the default for such a device) kmem puts the memmap of
# every whole block it adds there, instead of DRAM. On the big region:
#  (a) the choice: "reservation" is the default of a map=dev device and
#      "dram" the default of a map=mem one, which cannot have
#      "reservation" (EOPNOTSUPP); a word that is none of the three is
#      EINVAL; no change while bound to kmem (EBUSY); each error leaves
#      the value as it was;
#  (b) DRAM: node 0's free pages (buddy and per-cpu lists, after
#      drop_caches) before and after a bind adds the device's memory
#      offline (online_policy "offline"), the median of seven rounds,
#      with memmap "dram" and then "reservation" on the same device and
#      kmem.subblock=N (whole blocks, all of them in the reservation):
#      at most 0.5 MiB per GiB added with the reservation, and the dram
#      rounds cost at least 90 % of the memmap (2 MiB per 128 MiB) more.
#      Each figure is read once node 0 holds still (the frees of the
#      processes the bind forked come in), with udev's event queue
#      stopped (see settled_free);
#  (c) capacity: online_movable adds every whole block whole (MemTotal
#      grows by all of them: nothing given up to a memmap), and with
#      kmem.subblock=Y all of the device (partial blocks take their
#      memmap from DRAM);
#  (d) data: numa_fill holds a checked pattern on the device's node; an
#      unbind migrates it off, intact, and removes everything;
#  (e) HugeTLB vmemmap optimization on (vm.hugetlb_optimize_vmemmap=1),
#      whole blocks: 2 MiB huge pages on the device's node, whose memmap
#      is in the reservation, are allocated and freed without a fault, no
#      vmemmap page is freed (nr_memmap_pages unchanged), and the memory
#      then goes; with memmap "dram" the pages are optimized (their
#      vmemmap pages freed) and freed again whole: no bad page state;
#  (f) lifetime: with memory retained (a vmsplice pin), the provider
#      (dax_pmem) unbinds: the claim on the reservation stays in
#      /proc/iomem and dax_pmem cannot bind again (the space is busy);
#      once the pin goes the retry removes the memory, the claim goes
#      with it and dax_pmem binds again;
#  (g) back to devdax: device_dax binds again, its memory (and its memmap
#      in the reservation) works: a pattern written through it reads
#      back, also after disabling and enabling the namespace (the info
#      block is intact);
#  (h) re-adoption: memory bound with memmap "dram" is retained (a
#      vmsplice pin); with "reservation" chosen meanwhile, a bind re-adopts
#      it and adds the other blocks back with their memmap in the
#      reservation (node 0 pays less than half of their memmap); once the
#      pin goes, an unbind removes everything;
#  (i) daxctl: reconfigure-device -m system-ram puts every whole block's
#      memmap in the reservation, and -f -m devdax takes the device back
#      to device_dax, where a pattern written reads back;
#  (j) region disable with memory retained: the claim outlives the region
#      until the pin goes; then the region comes back, and its device
#      works in device-dax mode.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe
require_progs sysfs_write numa_fill page_pin dax_rw
require_region big

PAGE=$(getconf PAGESIZE)
PFNS=/tmp/kmem_memmap_resv.$$.pfns
OUT=/tmp/kmem_memmap_resv.$$.out
FILL_OUT=/tmp/kmem_memmap_resv.$$.fill
HVO=/proc/sys/vm/hugetlb_optimize_vmemmap
ROUNDS=7

ktap_print_header
ktap_set_plan 17
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save
hvo0=$(cat "$HVO" 2>/dev/null)

pin_pid=
fill_pid=
udev_stopped=
cleanup() {
	[ -n "$udev_stopped" ] && udevadm control --start-exec-queue
	[ -n "${NAP_FD:-}" ] && exec {NAP_FD}<&-
	[ -n "$pin_pid" ] && kill -KILL "$pin_pid" 2>/dev/null && wait "$pin_pid" 2>/dev/null
	[ -n "$fill_pid" ] && kill -KILL "$fill_pid" 2>/dev/null && wait "$fill_pid" 2>/dev/null
	rm -f "$PFNS" "$OUT" "$FILL_OUT"
	[ -n "$nd" ] && [ ! -e "$SYS_ND_DAX_PMEM/$nd" ] &&
		sysfs_err "$SYS_ND_DAX_PMEM/bind" "$nd" >/dev/null
	{ echo 0 >"$SYS_NODE/node${node:-1}/hugepages/hugepages-2048kB/nr_hugepages"; } 2>/dev/null
	[ -n "$hvo0" ] && { echo "$hvo0" >"$HVO"; } 2>/dev/null
	kmem_cleanup_end
}
trap cleanup EXIT
SYS_ND_DAX_PMEM=/sys/bus/nd/drivers/dax_pmem
nd=

# node_free_kb NODE: sets FREE_KB to the free memory of NODE in kB: the
# buddy allocator's free pages and those on the per-cpu lists of all its
# zones (/proc/zoneinfo). Plain bash, no fork: a process started and gone
# costs node 0 its task and page tables until an RCU grace period later.
node_free_kb() {
	local k v rest on=0 f=0

	while read -r k v rest; do
		case $k in
		Node) if [ "$v" = "$1," ]; then on=1; else on=0; fi ;;
		pages) [ $on = 1 ] && [ "$v" = free ] && f=$((f + rest)) ;;
		count:) [ $on = 1 ] && f=$((f + v)) ;;
		esac
	done </proc/zoneinfo
	FREE_KB=$((f * PAGE / 1024))
}

# A FIFO open for reading and writing and never written: a read from it
# with a timeout sleeps without a fork.
NAP_FIFO=/tmp/kmem_memmap_resv.$$.nap
mkfifo "$NAP_FIFO" || ktap_exit_fail_msg "cannot make $NAP_FIFO"
exec {NAP_FD}<>"$NAP_FIFO"
rm -f "$NAP_FIFO"
nap() {
	read -r -t "$1" -u "$NAP_FD" _
	true
}

# settled_free: sets FREE_KB to node 0's free kB once it holds still:
# caches dropped, then read every 0.3 s until two reads agree within
# 64 kB (the RCU-deferred frees of the processes just gone, at most 20
# reads). Each read folds the per-cpu counter deltas first (vm.stat_refresh):
# without that, zoneinfo's free pages are off by up to the vmstat
# threshold per cpu, hundreds of kB here. Sets SETTLE_READS to the reads
# it took.
settled_free() {
	local prev=-1

	echo 3 >/proc/sys/vm/drop_caches
	for ((SETTLE_READS = 1; SETTLE_READS <= 20; SETTLE_READS++)); do
		nap 0.3
		echo 1 >/proc/sys/vm/stat_refresh
		node_free_kb 0
		[ $prev -ge 0 ] && [ $((FREE_KB - prev)) -le 64 ] &&
			[ $((prev - FREE_KB)) -le 64 ] && return 0
		prev=$FREE_KB
	done
	SETTLE_READS=20
	msg "node 0 free did not hold still in 20 reads: last $FREE_KB kB"
}

# udev_workers: sets WORKERS to the number of udev's worker processes
# (comm "(udev-worker)"), without a fork.
udev_workers() {
	local f comm

	WORKERS=0
	for f in /proc/[0-9]*/comm; do
		{ read -r comm <"$f"; } 2>/dev/null || continue
		[ "$comm" = "(udev-worker)" ] && WORKERS=$((WORKERS + 1))
	done
}

# udev_quiet: udev's event queue stopped (events are kept, no worker is
# started: a worker forked during a round would be counted as the bind's
# cost) and its idle workers gone, at most 10 s.
udev_quiet() {
	local i

	udevadm settle --timeout=30
	udevadm control --stop-exec-queue || return 1
	udev_stopped=1
	for ((i = 0; i < 100; i++)); do
		udev_workers
		[ "$WORKERS" = 0 ] && return 0
		nap 0.1
	done
	msg "udev workers still there after 10 s: $WORKERS"
}

udev_resume() {
	udevadm control --start-exec-queue
	udev_stopped=
	udevadm settle --timeout=30
}

# vmstat_value NAME: the counter NAME of /proc/vmstat.
vmstat_value() {
	awk -v n="$1" '$1 == n { print $2 }' /proc/vmstat
}

# median N...: the middle of the numbers (the upper one of an even count).
median() {
	printf '%s\n' "$@" | sort -n | sed -n "$((($# / 2) + 1))p"
}

# add_cost: the kB of node 0 that adding the device's memory offline takes,
# the median of $ROUNDS rounds of a bind with online_policy "offline" and
# an unbind (daxX.Y/state cannot be written "offline"), each figure read
# by settled_free with udev quiet. The device starts and ends unbound.
# Sets cost_kb and cost_all (every round).
add_cost() {
	local i a b costs=() reads=() rc=0

	expect_write OK "$POL" offline || return 1
	sync
	udev_quiet || return 1
	for ((i = 0; i < ROUNDS; i++)); do
		settled_free
		a=$FREE_KB
		reads+=("$SETTLE_READS")
		kmem_bind "$dax" || { rc=1; break; }
		settled_free
		b=$FREE_KB
		reads[i]+=/$SETTLE_READS
		costs+=($((a - b)))
		blocks_all "$ws" "$we" offline && kmem_unbind "$dax" || { rc=1; break; }
	done
	udev_resume
	[ $rc = 0 ] || return 1
	msg "reads until node 0 held still (before/after): ${reads[*]}"
	cost_all=${costs[*]}
	cost_kb=$(median "${costs[@]}")
	expect_write OK "$POL" unplugged
}

kmem_param_set subblock N || ktap_exit_fail_msg "cannot set kmem.subblock=N"
kmem_new_unbound unplugged
ST=$SYS_DAX/devices/$dax/state
MM=$SYS_DAX/devices/$dax/memmap
read -r ws we < <(kmem_range "$dax")
nw=$(kmem_nblocks "$ws" "$we")
msg "whole blocks of $dax: $nw, $(printf '%#x-%#x' "$ws" $((we - 1)))"

# --- (a) the choice ---

default_resv() {
	eq "$dax memmap" "$(read_word "$MM")" reservation &&
		eq "$dax memmap_on_memory" "$(read_word "$SYS_DAX/devices/$dax/memmap_on_memory")" 0
}
check "map=dev device: memmap reads reservation, memmap_on_memory 0" default_resv

bad_words() {
	local rc=0

	expect_write EINVAL "$MM" bogus || rc=1
	expect_write EINVAL "$MM" reserv || rc=1
	eq "memmap after the bad words" "$(read_word "$MM")" reservation || rc=1
	expect_write OK "$MM" dram && eq memmap "$(read_word "$MM")" dram || rc=1
	expect_write OK "$SYS_DAX/devices/$dax/memmap_on_memory" 1 &&
		eq memmap "$(read_word "$MM")" memory || rc=1
	# 0 goes back to the default from "memory"
	expect_write OK "$SYS_DAX/devices/$dax/memmap_on_memory" 0 &&
		eq memmap "$(read_word "$MM")" reservation || rc=1
	return $rc
}
check "memmap: bad words EINVAL; dram, memory, memmap_on_memory 0 -> reservation" bad_words

busy_bound() {
	local rc=0

	kmem_bind "$dax" || return 1
	expect_write EBUSY "$MM" dram || rc=1
	expect_write OK "$MM" reservation || rc=1
	eq "memmap while bound" "$(read_word "$MM")" reservation || rc=1
	kmem_unbind "$dax" || rc=1
	return $rc
}
check "bound to kmem: another word is EBUSY, the same one is accepted" busy_bound

map_mem_dram() {
	local sr j mdax rc=0

	sr=$(region_by_size spare) || { msg "no spare region"; return 1; }
	j=$(create_ns "$sr" devdax 64M -a 2M -M mem)
	mdax=$(dax_of_ns "$j")
	[ -n "$mdax" ] || { msg "cannot create a map=mem namespace on $sr"; return 1; }
	eq "$mdax (map=mem) memmap" "$(read_word "$SYS_DAX/devices/$mdax/memmap")" dram || rc=1
	expect_write EOPNOTSUPP "$SYS_DAX/devices/$mdax/memmap" reservation || rc=1
	eq "$mdax memmap after the refusal" \
		"$(read_word "$SYS_DAX/devices/$mdax/memmap")" dram || rc=1
	run ndctl destroy-namespace -f "$(ns_of "$j")" || rc=1
	return $rc
}
check "map=mem device: memmap reads dram, reservation is EOPNOTSUPP" map_mem_dram

# --- (b) DRAM per GiB ---

KMSG_TAG=memmap-resv-$$
dram_cost() {
	expect_write OK "$MM" dram && add_cost || return 1
	dram_kb=$cost_kb
	msg "memmap dram: node 0 kB per add of $nw blocks: $cost_all (median $dram_kb)"
}
check "memmap dram: $ROUNDS rounds of adding the memory offline" dram_cost

resv_cost() {
	local want

	expect_write OK "$MM" reservation || return 1
	kmsg_mark "$KMSG_TAG"
	add_cost || return 1
	resv_kb=$cost_kb
	msg "memmap reservation: node 0 kB per add of $nw blocks: $cost_all (median $resv_kb)"
	want="$dax: memmap of $nw of $nw whole blocks in the reservation"
	[ "$(kmsg_since "$KMSG_TAG" | grep -c "$want")" = "$ROUNDS" ] ||
		{ msg "not $ROUNDS \"$want\" in the kernel log"; return 1; }
}
check "memmap reservation: every whole block placed, $ROUNDS rounds of adding" resv_cost

dram_per_gib() {
	local gib_mb=$(((we - ws) >> 20)) memmap_kb=$((nw * KMEM_MB / 64 / 1024))
	local rc=0

	msg "per GiB: dram $((dram_kb * 1024 / gib_mb)) kB," \
		"reservation $((resv_kb * 1024 / gib_mb)) kB; memmap $memmap_kb kB"
	# resv_kb / (gib_mb / 1024) <= 512 kB
	[ $((resv_kb * 1024)) -le $((512 * gib_mb)) ] ||
		{ msg "reservation: more than 0.5 MiB of node 0 per GiB"; rc=1; }
	[ $(((dram_kb - resv_kb) * 10)) -ge $((memmap_kb * 9)) ] ||
		{ msg "dram costs less than 90 % of the memmap more"; rc=1; }
	return $rc
}
check "node 0 per GiB added: reservation <= 0.5 MiB, dram >= memmap more" dram_per_gib

# --- (c) capacity ---

whole_capacity() {
	kmem_bind "$dax" && expect_write OK "$ST" online_movable &&
		memtotal_grew_by $(((we - ws) / 1024)) &&
		blocks_all "$ws" "$we" online Movable
}
check "online_movable: MemTotal grew by every whole block, whole" whole_capacity

all_capacity() {
	local ss se

	expect_write OK "$ST" unplugged && kmem_unbind "$dax" || return 1
	kmem_param_set subblock Y || return 1
	kmem_bind "$dax" || return 1
	read -r ss se < <(kmem_span "$dax")
	msg "kmem.subblock=Y: $(printf '%#x-%#x' "$ss" $((se - 1))), $(((se - ss) >> 20)) MiB"
	expect_write OK "$ST" online_movable &&
		memtotal_grew_by $(((se - ss) / 1024)) &&
		eq "bytes present" "$(kmem_present_bytes "$ss" "$se")" $((se - ss))
}
check "kmem.subblock=Y: MemTotal grew by all of the device" all_capacity

# --- (d) data across an unbind ---

fill_unbind() {
	local line

	"$DAX_DIR/numa_fill" -n "$node" 256 >"$FILL_OUT" 2>&1 &
	fill_pid=$!
	wait_line "$FILL_OUT" '^ready ' 60 "$fill_pid" ||
		{ msg "numa_fill: $(tail -n 2 "$FILL_OUT")"; return 1; }
	msg "$(grep '^ready ' "$FILL_OUT")"
	kmem_unbind "$dax" || return 1
	kill -USR1 "$fill_pid"
	wait "$fill_pid"
	line=$(grep '^done ' "$FILL_OUT")
	fill_pid=
	msg "$line"
	eq "words changed" "$(kv "$line" bad)" 0 &&
		kmem_gone "$ss" "$se" "$base" && retained_empty
}
ss=0 se=0
read -r ss se < <(kmem_span "$dax")
check "256 MiB filled on node $node: intact after the unbind, everything removed" fill_unbind

# --- (e) HugeTLB vmemmap optimization ---

hvo_mm0=0 hvo_mm1=0 hvo_mm2=0 hvo_got=0
# One round, with kmem bound and its memory online: 64 huge pages allocated
# on node $node and freed again, nr_memmap_pages read before (hvo_mm0),
# with the pages (hvo_mm1) and after (hvo_mm2). Fails when no page came,
# when freeing them reported "Bad page state" (a head's copy left in a
# tail's place), or when the unplug that follows leaves anything behind.
hvo_round() {
	local nr=$SYS_NODE/node$node/hugepages/hugepages-2048kB/nr_hugepages
	local got bad rc=0

	kmsg_mark "$KMSG_TAG-hvo-$1"
	hvo_mm0=$(vmstat_value nr_memmap_pages)
	echo 64 >"$nr"
	got=$(cat "$nr")
	hvo_mm1=$(vmstat_value nr_memmap_pages)
	# free them whatever the outcome: the unplug below must not meet them
	echo 0 >"$nr"
	hvo_mm2=$(vmstat_value nr_memmap_pages)
	bad=$(kmsg_since "$KMSG_TAG-hvo-$1" | grep -c 'Bad page state')
	msg "memmap $1, $HVO=1: $got of 64 huge pages;" \
		"nr_memmap_pages $hvo_mm0 -> $hvo_mm1 -> $hvo_mm2"
	hvo_got=$got
	[ "$got" -gt 0 ] || rc=1
	eq "Bad page state reports" "$bad" 0 || rc=1
	eq "huge pages left" "$(cat "$nr")" 0 &&
		expect_write OK "$ST" unplugged && kmem_gone "$ws" "$we" "$base" || rc=1
	return $rc
}

hvo_pages() {
	local rc=0

	[ -w "$HVO" ] || { msg "no $HVO"; return 1; }
	echo 1 >"$HVO" || return 1
	# whole blocks only: every huge page has its memmap in the reservation
	kmem_param_set subblock N || return 1
	kmem_bind "$dax" && expect_write OK "$ST" online_movable || return 1
	hvo_round reservation || rc=1
	# an optimized huge page gives back 7 of its 8 vmemmap pages
	eq "nr_memmap_pages (no vmemmap freed)" "$hvo_mm1" "$hvo_mm0" || rc=1
	return $rc
}
check "HugeTLB vmemmap optimization: huge pages on the device come and go" hvo_pages

# The same with memmap "dram": here the optimization does take place (7 of
# each huge page's 8 vmemmap pages freed), and freeing the pages must give
# every struct page back restored: nr_memmap_pages back where it was.
hvo_dram() {
	local rc=0

	echo 1 >"$HVO" || return 1
	# the memmap choice is fixed while kmem has the device
	kmem_unbind "$dax" && expect_write OK "$MM" dram && kmem_bind "$dax" &&
		expect_write OK "$ST" online_movable || return 1
	hvo_round dram || rc=1
	[ "$hvo_mm1" -le $((hvo_mm0 - hvo_got * 7)) ] ||
		{ msg "want at least $((hvo_got * 7)) vmemmap pages freed"; rc=1; }
	eq "nr_memmap_pages after freeing them" "$hvo_mm2" "$hvo_mm0" || rc=1
	# back as (f) wants it: bound, the memmap in the reservation
	kmem_unbind "$dax" && expect_write OK "$MM" reservation && kmem_bind "$dax" || rc=1
	return $rc
}
check "memmap dram, HugeTLB vmemmap optimization: optimized pages freed whole" hvo_dram
{ echo "$hvo0" >"$HVO"; } 2>/dev/null

# --- (h) re-adoption: added blocks follow the new choice ---

# the memory of the device is retained after a bind with memmap "dram";
# "reservation" is chosen, and a bind with online_policy "offline"
# re-adopts it: node 0's free memory before and after that bind says
# where the memmap of the blocks it adds went.
readopt_resv() {
	local a b present added cost memmap_kb rc=0

	kmem_param_set offline_timeout_ms 1000 && kmem_param_set unplug_retries 1 &&
		kmem_param_set retry_max_delay_ms 2000 || return 1
	kmem_unbind "$dax" && expect_write OK "$MM" dram && kmem_bind "$dax" &&
		expect_write OK "$ST" online_movable || return 1
	start_pin vmsplice 1M || return 1
	kmem_unbind "$dax" && retained_single || return 1
	present=$rt_present
	added=$(((we - ws - present) / KMEM_MB))
	[ "$added" -gt 0 ] || { msg "nothing to add back: $present bytes retained"; return 1; }
	expect_write OK "$MM" reservation && expect_write OK "$POL" offline || return 1
	kmsg_mark "$KMSG_TAG-readopt"
	sync
	udev_quiet || return 1
	settled_free
	a=$FREE_KB
	kmem_bind "$dax" || { udev_resume; return 1; }
	settled_free
	b=$FREE_KB
	udev_resume
	cost=$((a - b))
	memmap_kb=$((added * KMEM_MB / 64 / 1024))
	msg "re-adopted with $present bytes present; $added blocks added:" \
		"node 0 paid $cost kB, their DRAM memmap would be $memmap_kb kB"
	kmsg_since "$KMSG_TAG-readopt" | grep -q "$dax: re-adopted $present bytes" ||
		{ msg "no re-adoption of $present bytes in the kernel log"; rc=1; }
	retained_none || { msg "still listed as retained after the bind"; rc=1; }
	[ $((cost * 2)) -lt "$memmap_kb" ] ||
		{ msg "the added blocks' memmap is not in the reservation"; rc=1; }
	eq "bytes present" "$(kmem_present_bytes "$ws" "$we")" $((we - ws)) || rc=1
	stop_pin || rc=1
	kmem_unbind "$dax" && kmem_gone "$ws" "$we" "$base" && retained_empty || rc=1
	# back as (f) wants it: bound, the memmap in the reservation
	expect_write OK "$POL" unplugged && kmem_bind "$dax" || rc=1
	return $rc
}
check "re-adoption: blocks added back take their memmap from the reservation" readopt_resv

# --- (f) the claim outlives the provider while memory is retained ---

# the claim: the busy resource named after the namespace at its start
claim_lines() {
	iomem_lines "$ns"
}

resv_lifetime() {
	local rc=0

	kmem_param_set offline_timeout_ms 1000 && kmem_param_set unplug_retries 1 &&
		kmem_param_set retry_max_delay_ms 2000 || return 1
	expect_write OK "$ST" online_movable || return 1
	start_pin vmsplice 1M || return 1
	kmem_unbind "$dax" && retained_single || return 1
	nd=$(nd_dax_of "$ns")
	msg "unbinding $nd from dax_pmem with memory of $dax retained"
	expect_write OK "$SYS_ND_DAX_PMEM/unbind" "$nd" || return 1
	[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; rc=1; }
	[ -n "$(claim_lines)" ] || { msg "no $ns claim in /proc/iomem while retained"; rc=1; }
	# dax_pmem's probe cannot claim the namespace's start
	expect_write EBUSY "$SYS_ND_DAX_PMEM/bind" "$nd" || rc=1
	kill -KILL "$pin_pid" && wait "$pin_pid" 2>/dev/null
	pin_pid=
	wait_until 30 retained_none || { msg "still retained"; return 1; }
	eq "$ns claims in /proc/iomem" "$(claim_lines)" "" || rc=1
	expect_write OK "$SYS_ND_DAX_PMEM/bind" "$nd" || return 1
	nd=
	wait_until 10 test -e "$SYS_DAX/devices/$dax" || { msg "$dax did not come back"; return 1; }
	return $rc
}
ns=$(ndctl list -N -r "$region" | json_field dev)
# the device dax_pmem creates again binds to device_dax, not to kmem
sysfs_err "$KMEM_DRV/remove_id" "$dax" >/dev/null
check "retained memory keeps the reservation claimed past dax_pmem; released with it" \
	resv_lifetime

# --- (g) back to devdax ---

devdax_back() {
	local sz dev=/dev/$dax

	sz=$((64 << 20))
	[ "$(dax_drv_of "$dax")" = device_dax ] ||
		{ dax_unbind_any "$dax" &&
			expect_write OK "$SYS_DAX/drivers/device_dax/bind" "$dax"; } ||
		return 1
	run "$DAX_DIR/dax_rw" "$dev" "$sz" 77 || return 1
	run ndctl disable-namespace "$ns" && run ndctl enable-namespace "$ns" || return 1
	wait_until 10 test -e "$dev" || { msg "$dev did not come back"; return 1; }
	[ "$(dax_drv_of "$dax")" = device_dax ] ||
		expect_write OK "$SYS_DAX/drivers/device_dax/bind" "$dax" || return 1
	run "$DAX_DIR/dax_rw" -c "$dev" "$sz" 77
}
check "device_dax again: a pattern written reads back, also after the namespace re-enables" \
	devdax_back

# --- (i) daxctl there and back ---

daxctl_round() {
	local dev=/dev/$dax want="$dax: memmap of $nw of $nw whole blocks in the reservation"

	kmsg_mark "$KMSG_TAG-daxctl"
	run daxctl reconfigure-device -m system-ram "$dax" || return 1
	kmsg_since "$KMSG_TAG-daxctl" | grep -q "$want" ||
		{ msg "no \"$want\" in the kernel log"; return 1; }
	memtotal_grew_by $(((we - ws) / 1024)) && blocks_all "$ws" "$we" online Movable &&
		run daxctl reconfigure-device -f -m devdax "$dax" &&
		kmem_gone "$ws" "$we" "$base" || return 1
	eq "$dax driver" "$(dax_drv_of "$dax")" device_dax &&
		run "$DAX_DIR/dax_rw" "$dev" $((64 << 20)) 91 &&
		run "$DAX_DIR/dax_rw" -c "$dev" $((64 << 20)) 91
}
check "daxctl: system-ram places the memmap in the reservation; devdax -f works again" \
	daxctl_round

# --- (j) the region goes while memory is retained ---

region_retained() {
	local rc=0

	run daxctl reconfigure-device -m system-ram "$dax" || return 1
	# daxctl's new_id would bind the device the region brings back to kmem
	sysfs_err "$KMEM_DRV/remove_id" "$dax" >/dev/null
	start_pin vmsplice 1M || return 1
	run ndctl disable-region "$region" || return 1
	if [ -e "$SYS_DAX/devices/$dax" ]; then
		# ndctl 76 skips a region with online system-ram ("disabled 0
		# regions"): take the region from its driver as ndctl would
		msg "ndctl left $region enabled: unbinding it from nd_region"
		expect_write OK /sys/bus/nd/drivers/nd_region/unbind "$region" || return 1
	fi
	retained_single || return 1
	[ ! -e "$SYS_DAX/devices/$dax" ] || { msg "$dax still exists"; rc=1; }
	[ -n "$(claim_lines)" ] || { msg "no $ns claim in /proc/iomem while retained"; rc=1; }
	stop_pin || rc=1
	wait_until 30 retained_none || { msg "still retained"; return 1; }
	eq "$ns claims in /proc/iomem" "$(claim_lines)" "" || rc=1
	kmem_gone "$ws" "$we" "$base" || rc=1
	run ndctl enable-region "$region" || return 1
	wait_until 10 test -e "/dev/$dax" || { msg "/dev/$dax did not come back"; return 1; }
	eq "$dax driver" "$(dax_drv_of "$dax")" device_dax &&
		run "$DAX_DIR/dax_rw" "/dev/$dax" $((64 << 20)) 93 &&
		run "$DAX_DIR/dax_rw" -c "/dev/$dax" $((64 << 20)) 93 || rc=1
	return $rc
}
check "region disabled with memory retained: claimed until the pin goes, then back" \
	region_retained
ktap_finished
