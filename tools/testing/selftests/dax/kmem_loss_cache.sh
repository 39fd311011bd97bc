#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Memory whose device is going away, as mlocked memory and the page cache
# see it. loss_victim puts three 1 MiB buffers on the device's node:
# mlocked anonymous memory, the clean page cache of a mapped file and the
# dirty page cache of another (its file holds older data), on ext4
# without a journal on an fsdax namespace of the big region, with
# vm.dirty_writeback_centisecs=0 so that nothing writes the dirty pages
# back meanwhile; it handles SIGBUS, and its child maps the mlocked pages
# without locking them (mlock is not inherited). A second one (loss_victim -k) only
# mlocks 1 MiB there and leaves SIGBUS's default action, with SIGBUS
# blocked until it is asked to exit. Both are late-kill processes
# (vm.memory_failure_early_kill=0). The device: the small region, online
# movable.
#  (a) the provider tears the device down while its memory still reads
#      (the nd-bus unbind of its nd_dax device, as in kmem_loss.sh):
#      everything is migrated, no page is taken (kernel log), the memory
#      goes, and the victim finds its data: the mlocked and the clean
#      pages read as written (the clean ones still in the page cache:
#      migrated, not dropped), fsync(2) of the dirty file returns 0, and
#      read(2) and the mapping give the new data; neither victim is sent
#      a signal;
#  (b) the memory fails (fail_dax_backing makes the teardown report a
#      failure), the memmap in DRAM: nothing is migrated, every page of
#      the three buffers is taken (the kernel log's count is theirs), the
#      memory goes at once (nothing else holds the pages), and the victims
#      see the documented outcome: each mlocked user is sent SIGBUS
#      BUS_MCEERR_AO at once, at each of its mlocked pages and nowhere
#      else (kernel log), the child that shares them unlocked is not (the
#      -k one dies of it when it unblocks SIGBUS;
#      the other handles it and finds SIGBUS BUS_MCEERR_AR on every
#      mlocked page it then touches),
#      the clean file's pages are dropped (not in the page cache) and
#      read again from the file as written,
#      fsync(2) of the dirty file fails with EIO once and then returns 0,
#      read(2) gives the data the file held before the lost writes, and
#      its mapping gives SIGBUS BUS_MCEERR_AR on every page;
# after each, MemTotal, /proc/iomem and HardwareCorrupted are at the
# baseline and nothing is retained; ext4 logs no error and unmounts.

. "$(dirname "$0")/dax_lib.sh"

require_root
require_cmds ndctl modprobe mkfs.ext4 mount umount
require_progs sysfs_write loss_victim
require_region big
big=$region
require_region small
PAGE=$(getconf PAGESIZE)
SIZE=1M
BUF_PAGES=$(((1 << 20) / PAGE))
# the exit status of a process that SIGBUS ended
KILLED_BY_SIGBUS=$((128 + $(kill -l BUS)))
PFNS=/tmp/kmem_loss_cache.$$.pfns
OUT=/tmp/kmem_loss_cache.$$.out
KPFNS=/tmp/kmem_loss_cache.$$.k.pfns
KOUT=/tmp/kmem_loss_cache.$$.k.out
MNT=/tmp/kmem_loss_cache.$$.mnt
WB=/proc/sys/vm/dirty_writeback_centisecs
MF_EARLY=/proc/sys/vm/memory_failure_early_kill
wb0=$(cat "$WB")
mf_early0=$(cat "$MF_EARLY")
# a SIGBUS the victim does not catch: no core dump of the device's pages
ulimit -c 0

ktap_print_header
ktap_set_plan 16
kmem_reset
modprobe kmem || ktap_exit_fail_msg "cannot load kmem"
kmem_params_save

victim_pid=
locked_pid=
vpid=
kpid=
cpid=
fs_ns=
dax=
cleaned=
cleanup() {
	[ -n "$cleaned" ] && return
	cleaned=1
	for pid in $victim_pid $locked_pid; do
		kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	rm -f "$PFNS" "$OUT" "$KPFNS" "$KOUT"
	[ -e "$BACKING_FAIL/probability" ] && echo 0 >"$BACKING_FAIL/probability"
	echo "$wb0" >"$WB"
	echo "$mf_early0" >"$MF_EARLY"
	grep -q " $MNT " /proc/mounts && umount "$MNT"
	rmdir "$MNT" 2>/dev/null
	kmem_cleanup_end "$dax"
}
trap cleanup EXIT

echo 0 >"$MF_EARLY" || ktap_exit_fail_msg "cannot set $MF_EARLY"
echo 0 >"$WB" || ktap_exit_fail_msg "cannot set $WB"
# what the stock kernel lacks fails its checks, it does not stop the test
[ -d "$BACKING_FAIL" ] || msg "no $BACKING_FAIL: the failed-memory case (b) will fail"
kmsg_mark "cache-$$"

# fs_setup: ext4 without a journal on a 64 MiB fsdax namespace of $big,
# mounted without DAX at $MNT (its files use the page cache).
fs_setup() {
	local json dev

	json=$(create_ns "$big" fsdax 64M)
	fs_ns=$(ns_of "$json")
	dev=$(echo "$json" | json_field blockdev)
	[ -n "$dev" ] || { msg "no fsdax namespace on $big: $json"; return 1; }
	mkdir -p "$MNT"
	run mkfs.ext4 -q -F -b 4096 -O ^has_journal "/dev/$dev" &&
		run mount -o dax=never "/dev/$dev" "$MNT" || return 1
	msg "$fs_ns: /dev/$dev, ext4 at $MNT"
}
check "ext4 without a journal on an fsdax namespace of $big, mounted without DAX" fs_setup

# new_dev [MEMMAP]: a devdax namespace filling $region, memmap MEMMAP (if
# given), bound online_movable; sets ns, dax, s, e, node and the baseline.
new_dev() {
	if [ -n "$ns" ]; then
		run ndctl destroy-namespace -f "$ns" || return 1
	fi
	devdax_ns || return 1
	read -r s e < <(kmem_span "$dax")
	node=$(dax_attr "$dax" target_node)
	dax_unbind_any "$dax" || return 1
	base=$(meminfo_kb MemTotal)
	hwc0=$(meminfo_kb HardwareCorrupted)
	msg "$ns, $dax: $(printf '%#x-%#x' "$s" $((e - 1))), node $node"
	if [ -n "${1:-}" ]; then
		expect_write OK "$SYS_DAX/devices/$dax/memmap" "$1" || return 1
	fi
	kmem_bind_movable "$dax" "$s" "$e" &&
		state_is online_movable "$dax" "$s" "$e" "$base"
}

# is_ready NAME OUT PID: PID said "ready" in OUT within 60 s; else it is
# waited for (5 s, then killed) and its last words are logged.
is_ready() {
	local rc

	wait_line "$2" '^ready$' 60 "$3" && return 0
	wait_exit "$3" 5
	rc=$?
	msg "$1 ($rc): $(tail -n 2 "$2" | tr '\n' ' ')"
	return 1
}

# start_victim: loss_victim and loss_victim -k on the device's node; every
# page of their four buffers is in the device.
start_victim() {
	rm -f "$PFNS" "$KPFNS"
	"$DAX_DIR/loss_victim" -n "$node" -p "$PFNS" "$MNT" "$SIZE" >"$OUT" 2>&1 &
	victim_pid=$!
	"$DAX_DIR/loss_victim" -k -n "$node" -p "$KPFNS" "$SIZE" >"$KOUT" 2>&1 &
	locked_pid=$!
	vpid=$victim_pid kpid=$locked_pid
	is_ready loss_victim "$OUT" "$victim_pid" || { victim_pid=; return 1; }
	is_ready "loss_victim -k" "$KOUT" "$locked_pid" || { locked_pid=; return 1; }
	cpid=$(sed -n 's/^child //p' "$OUT")
	msg "loss_victim: $(grep -E '^(placed|child) ' "$OUT" | tr '\n' ' ')"
	msg "loss_victim -k: $(grep '^placed ' "$KOUT" | tr '\n' ' ')"
	cat "$KPFNS" >>"$PFNS"
	pfns_in_device
	eq "pages with a pfn" "$pfns_total" $((4 * BUF_PAGES)) &&
		eq "pages in $dax" "$pfns_in" "$pfns_total"
}

# sigbus_pfns PID MARK: the pfns of the kernel log's "Sending SIGBUS to
# loss_victim:PID" lines (one a page and mapping told) since MARK, sorted.
sigbus_pfns() {
	kmsg_since "$2" |
		sed -n "s/.* \(0x[0-9a-f]*\): Sending SIGBUS to loss_victim:$1 .*/\1/p" | sort
}

# locked_status WANT: SIGUSR1 to loss_victim -k, if it still runs; its
# exit status is WANT (3: it lived to see SIGUSR1, 135: SIGBUS ended it).
locked_status() {
	local rc

	[ -n "$locked_pid" ] || { msg "loss_victim -k was not started"; return 1; }
	kill -USR1 "$locked_pid" 2>/dev/null
	wait_exit "$locked_pid" 60
	rc=$?
	locked_pid=
	eq "loss_victim -k exit status" "$rc" "$1"
}

# stop_victim: SIGUSR1; the victim checks its buffers and exits 0.
stop_victim() {
	local rc

	[ -n "$victim_pid" ] || { msg "loss_victim is not running"; return 1; }
	kill -USR1 "$victim_pid"
	wait_exit "$victim_pid" 60
	rc=$?
	victim_pid=
	msg "loss_victim: $(grep -E '^(told|mlocked|clean|dirty) ' "$OUT" | tr '\n' ';')"
	eq "loss_victim exit status" "$rc" 0 && grep -q '^done$' "$OUT"
}

# seen WHAT KEY=VALUE...: the victim's line starting with WHAT has each
# KEY at VALUE.
seen() {
	local what=$1 line kvp rc=0

	line=$(grep -m1 "^$what " "$OUT")
	shift
	for kvp in "$@"; do
		eq "$what ${kvp%%=*}" "$(kv "$line" "${kvp%%=*}")" "${kvp#*=}" || rc=1
	done
	return $rc
}

# released: nothing retained, nothing of the device in memory, MemTotal,
# /proc/iomem and HardwareCorrupted at the baseline.
released() {
	retained_empty && kmem_gone "$s" "$e" "$base" &&
		eq "System RAM (kmem) in /proc/iomem" "$(iomem_lines 'System RAM (kmem)')" "" &&
		eq "HardwareCorrupted kB" "$(meminfo_kb HardwareCorrupted)" "$hwc0"
}

# --- (a) the provider's teardown: everything migrated, nothing lost ---

# the victim starts even if the device's state is wrong (on the stock
# kernel: no state file), so that the teardown shows what happens to it
bound_victim() {
	local rc=0

	new_dev || rc=1
	[ -n "$dax" ] && kmem_bound "$dax" || return 1
	start_victim || rc=1
	return $rc
}
ns=
check "bound online_movable; mlocked (twice), clean and dirty file pages on $region's device" \
	bound_victim
kmsg_mark "teardown-$$"
check "teardown: kmem told once" teardown "teardown-$$"
teardown_released() {
	eq "pages taken (kernel log)" "$(revoked_logged "teardown-$$")" 0 && released
}
check "teardown: nothing taken, the memory gone, all at the baseline" teardown_released
untold() {
	local rc=0

	locked_status 3 || rc=1
	stop_victim && seen told ao=0 mlocked=0 other=0 || rc=1
	eq "SIGBUS lines for the victims (kernel log)" \
		"$(for p in $vpid $kpid $cpid; do sigbus_pfns "$p" "teardown-$$"; done)" "" || rc=1
	return $rc
}
check "teardown: no mlocked user is sent a signal; loss_victim -k lives" untold
intact() {
	seen mlocked intact="$BUF_PAGES" sigbus_ar=0 bad=0 &&
		seen clean resident="$BUF_PAGES" intact="$BUF_PAGES" sigbus_ar=0 bad=0
}
check "teardown: the mlocked and the clean pages read as written, the clean ones still cached" \
	intact
kept_dirty() {
	seen dirty fsync=0 fsync2=0 read_new="$BUF_PAGES" read_old=0 read_bad=0 &&
		seen "dirty mapped" new="$BUF_PAGES" old=0 sigbus_ar=0 bad=0
}
check "teardown: the dirty file: fsync 0, read(2) and its mapping give the new data" \
	kept_dirty

# --- (b) the memory fails: nothing migrated, every page taken ---

dram_victim() {
	new_dev dram && start_victim
}
check "new namespace, memmap in DRAM, bound; the victim's pages on the device" \
	dram_victim
kmsg_mark "failed-$$"
failed() {
	local rc=0 news="the provider reports a failure of the device's memory"

	backing_fails && teardown "failed-$$" "$news" || rc=1
	[ -e "$BACKING_FAIL/probability" ] && echo 0 >"$BACKING_FAIL/probability"
	return $rc
}
check "failed memory: the teardown tells kmem of the failure" failed
check "failed memory: every page of the four buffers taken (kernel log)" \
	eq "pages taken" "$(revoked_logged "failed-$$" failed)" $((4 * BUF_PAGES))
check "failed memory: the memory gone at once, all at the baseline" released
# SIGBUS BUS_MCEERR_AO: a signal sent while one is pending is merged into
# it, so the victim counts at least one, not one a page; the kernel log
# has a line for each page: each victim is told of every page of its
# mlocked buffer and of nothing else
told_of() {
	local sent

	sent=$(sigbus_pfns "$1" "failed-$$")
	eq "SIGBUS lines for $2 (kernel log)" "$(echo "$sent" | grep -c .)" "$BUF_PAGES" &&
		[ "$sent" = "$3" ] ||
		{ msg "the pages $2 was told of are not its mlocked buffer's"; return 1; }
}
told_locked() {
	local rc=0 line

	locked_status "$KILLED_BY_SIGBUS" || rc=1
	stop_victim || rc=1
	line=$(grep -m1 '^told ' "$OUT")
	[ "$(kv "$line" ao)" -ge 1 ] 2>/dev/null || { msg "told: $line: want ao >= 1"; rc=1; }
	eq "told mlocked" "$(kv "$line" mlocked)" "$(kv "$line" ao)" || rc=1
	eq "told other" "$(kv "$line" other)" 0 || rc=1
	told_of "$vpid" loss_victim "$(head -n "$BUF_PAGES" "$PFNS" | sort)" || rc=1
	told_of "$kpid" "loss_victim -k" "$(sort "$KPFNS")" || rc=1
	eq "SIGBUS lines for loss_victim's child, which shares the pages unlocked" \
		"$(sigbus_pfns "$cpid" "failed-$$" | grep -c .)" 0 || rc=1
	return $rc
}
check "failed memory: the mlocked users told at once (SIGBUS AO, their pages), -k dies, child not" \
	told_locked
check "failed memory: SIGBUS BUS_MCEERR_AR on every mlocked page touched; the victim lives" \
	seen mlocked intact=0 sigbus_ar="$BUF_PAGES" bad=0
check "failed memory: the clean file's pages dropped, read again from the file as written" \
	seen clean resident=0 intact="$BUF_PAGES" sigbus_ar=0 bad=0
lost_dirty() {
	seen dirty fsync=EIO fsync2=0 read_new=0 read_old="$BUF_PAGES" read_bad=0 &&
		seen "dirty mapped" new=0 old=0 sigbus_ar="$BUF_PAGES" bad=0
}
check "failed memory: fsync EIO once, then 0; read(2) the older data; the mapping SIGBUS" \
	lost_dirty

fs_done() {
	local log l

	log=$(kmsg_since "cache-$$")
	[ -n "$log" ] || { msg "mark cache-$$ no longer in the kernel log"; return 1; }
	l=$(echo "$log" | grep -m1 'EXT4-fs error')
	[ -z "$l" ] || { msg "kernel log: $l"; return 1; }
	run umount "$MNT" && run ndctl destroy-namespace -f "$fs_ns"
}
check "ext4 logged no error, unmounts; its namespace destroyed" fs_done
ktap_finished
