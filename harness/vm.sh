#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test VM: three NVDIMMs (2 GiB, 512 MiB and 384 MiB, label areas of
# 128 KiB) on a memory-only NUMA node 1, 2 GiB of DRAM on node 0 (check
# mode: and 512 MiB of Soft Reserved memory for dax_hmem). The
# bench VM has one 18 GiB NVDIMM instead, and 6 GiB of DRAM (enough to take
# the pages migrated off a 4 GiB device that is 90% in use).
#
#   vm.sh demo|check|shell|bench|panic
#
# panic boots the demo VM's machine (the three NVDIMMs, 2 GiB of DRAM) for
# kmem_kernel_loss_panic.sh alone, a test that passes by panicking the
# kernel: see panic_verdict below.
#
# Every run has a hard timeout ($VM_TIMEOUT seconds) and keeps the full
# console log under $VDIR/vm/ ($VM_DIR when set: make check boots several
# check VMs at once, each in a directory of its own, its output lines
# tagged "[$VM_TAG]"). TCG by default; KMEM_KVM=1 opts into KVM (it has
# hung at "Booting from ROM" on nested machines).
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

mode=${1:?usage: vm.sh demo|check|shell|bench|panic}
vm=${VM_DIR:-$VDIR/vm}
mkdir -p "$vm"
kernel="$OBJ/arch/x86/boot/bzImage"
initrd="$VDIR/initramfs.cpio"
[ -f "$kernel" ] && [ -f "$initrd" ] || die "no kernel or initramfs: run 'make initramfs'"
console="$vm/console-$mode.log"
out="$vm/out-$mode.log"
case $mode in
shell) : "${VM_TIMEOUT:=14400}" ;;
demo | panic) : "${VM_TIMEOUT:=900}" ;;
bench) : "${VM_TIMEOUT:=5400}" ;;
*) : "${VM_TIMEOUT:=$CHECK_VM_TIMEOUT}" ;;
esac
# big, small and spare regions (tools/testing/selftests/dax/dax_lib.sh)
dimms="2048 512 384"
ram=2G
extra=
if [ "$mode" = bench ]; then
	dimms=18432
	ram=6G
elif [ "$mode" = check ]; then
	# 512 MiB of node 0 made Soft Reserved at 2 GiB (e820 type
	# 0xefffffff): dax_hmem makes it a dynamic dax region, where
	# hmem_ranges.sh builds a device of several ranges. The firmware keeps
	# the last 132 KiB below the end of low RAM: 640 MiB more than the
	# usual 2 GiB, so that the 512 MiB end below that, and the kernel
	# gets 2 GiB and almost 128 MiB of RAM.
	ram=2688M
	# region_idle: the region starts with an empty device, not one that
	# kmem takes whenever it loads (hmem's default), so that no other test
	# sees it.
	extra="memmap=512M%0x80000000-1+0xefffffff dax_hmem.region_idle=1"
fi

# Fresh, sparse NVDIMM backing files: every run starts from blank labels.
# QEMU takes the label area from the end of the backing file: add it, so
# that each DIMM's persistent memory is a whole number of sections and the
# second DIMM starts on a section boundary.
label=$((128 << 10))
nvdimm_args=()
i=0
for mib in $dimms; do
	img="$vm/nvdimm$i.img"
	size=$(((mib << 20) + label))
	rm -f "$img"
	truncate -s "$size" "$img"
	nvdimm_args+=(-object "memory-backend-file,id=nvmem$i,share=on,mem-path=$img,size=$size"
		      -device "nvdimm,id=nvdimm$i,memdev=nvmem$i,label-size=128K,node=1")
	i=$((i + 1))
done

# la57=off: with 5-level paging, an interrupt that arrives while early boot
# re-reads the CPU's features (cpu_detect) has seen KASAN take the direct
# map for a wild address and loop on reports (1 boot in about 15 here).
accel=(-accel tcg -cpu max,la57=off)
[ "${KMEM_KVM:-0}" = 1 ] && accel=(-enable-kvm -cpu host)

# memmap_on_memory only takes effect for dax devices that ask for it
# (daxX.Y/memmap_on_memory); kmem_memmap.sh does
cmdline="console=ttyS0 log_buf_len=8M panic=-1 kasan_multi_shot memory_hotplug.memmap_on_memory=1 kmemtest.mode=$mode${extra:+ $extra}"
[ -n "${T:-}" ] && cmdline="$cmdline kmemtest.tests=$(echo "$T" | tr ' ' ',')"
# KMEM_SUBBLOCK=Y|N: kmem.subblock at every load of kmem (modprobe takes
# module parameters from the kernel command line), in place of its default
case ${KMEM_SUBBLOCK:-} in
"") ;;
Y | N) cmdline="$cmdline kmem.subblock=$KMEM_SUBBLOCK" ;;
*) die "KMEM_SUBBLOCK=$KMEM_SUBBLOCK: Y or N" ;;
esac
# make stress: the same check VM, its tests given more cycles, a seed for
# their random choices and a per-test timeout (kmemtest.* in guest/init)
[ -n "${KMEM_STRESS_ARGS:-}" ] && cmdline="$cmdline $KMEM_STRESS_ARGS"
[ "$mode" = bench ] && cmdline="$cmdline kmemtest.reps=${KMEM_BENCH_REPS:-3}${KMEM_BENCH_SIZES:+ kmemtest.sizes=$(echo "$KMEM_BENCH_SIZES" | tr ' ' ',')}${KMEM_BENCH_ONLY:+ kmemtest.only=$KMEM_BENCH_ONLY}"

qemu=(qemu-system-x86_64 -machine pc,nvdimm=on "${accel[@]}" -smp 2
      -m "$ram,slots=6,maxmem=64G"
      -object "memory-backend-ram,id=ram0,size=$ram"
      -numa node,nodeid=0,cpus=0-1,memdev=ram0 -numa node,nodeid=1
      "${nvdimm_args[@]}"
      -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
      -display none -no-reboot -vga none)

if [ "$mode" = shell ]; then
	progress vm "interactive shell (Ctrl-a x quits QEMU), timeout ${VM_TIMEOUT}s"
	progress vm "console log: $console"
	exec timeout -k 10 "$VM_TIMEOUT" "${qemu[@]}" \
		-chardev "stdio,id=con0,mux=on,signal=off,logfile=$console" \
		-serial chardev:con0 -mon chardev=con0 -serial null
fi

# stale_int3 CONSOLE OUT: true when the guest died in boot, before its
# runner said a word on the results port, on an int3 that guest memory does
# not hold. An int3 trap leaves RIP one byte after the int3, so the byte
# before "<..>" in the Oops's Code: line is the one the CPU ran; when it is
# not cc, the kernel had already put the final instruction back (a static
# key's text_poke_bp() ends with a sync on every CPU) and QEMU's TCG ran a
# stale translation of that byte. Seen once under QEMU 7.2 (Debian 12):
# "sched_clock: Marking stable", then an int3 on "66 90" in
# sched_clock_cpu() 6 ms later, during the next initcall. No project code
# has run by then (no module is loaded, the runner has not started).
stale_int3() {
	local first code

	[ ! -s "$2" ] || return 1
	first=$(grep -aE -m 1 "$SPLAT" "$1") || return 1
	case $first in *"Oops: int3:"*) ;; *) return 1 ;; esac
	code=$(grep -a -A 12 -m 1 'Oops: int3:' "$1" | grep -a -m 1 ' Code: ')
	[[ $code =~ \ ([0-9a-f]{2})\ \<[0-9a-f]{2}\> ]] || return 1
	[ "${BASH_REMATCH[1]}" != cc ]
}

# boot: one run of the guest; sets rc, hung, end and t0.
boot() {
	local qpid rpid tpid

	rm -f "$console" "$out" "$vm/ended-early"
	: >"$out"
	# check: the guest's ttyS2 reaches QEMU's monitor through
	# qmp-relay.py, for the tests that hot-add and remove DIMMs
	# (mhp_rollback.sh); three DIMM slots are free for them (slots=6,
	# three NVDIMMs).
	relay_args=()
	relay_log="$vm/relay-$mode.log"
	if [ "$mode" = check ]; then
		rm -f "$vm/guest-hp.sock" "$vm/qmp.sock" "$relay_log"
		relay_args=(-chardev "socket,id=hp,path=$vm/guest-hp.sock,server=on,wait=off"
			    -serial chardev:hp -qmp "unix:$vm/qmp.sock,server=on,wait=off")
	fi
	t0=$(date +%s)
	progress vm "${VM_TAG:+$VM_TAG: }booting ($mode, timeout ${VM_TIMEOUT}s, console: $console)"
	timeout -k 10 "$VM_TIMEOUT" "${qemu[@]}" -serial "file:$console" -serial "file:$out" \
		"${relay_args[@]}" </dev/null >"$vm/qemu-$mode.log" 2>&1 &
	qpid=$!
	rpid=
	if [ "$mode" = check ]; then
		python3 "$TOP/harness/qmp-relay.py" "$vm/guest-hp.sock" "$vm/qmp.sock" \
			"$relay_log" 2>>"$relay_log" &
		rpid=$!
	fi
	tail -n +1 -f --pid="$qpid" "$out" 2>/dev/null | sed -u "s/^/  ${VM_TAG:+[$VM_TAG] }| /" &
	tpid=$!
	# Boot watchdog: a guest that has said nothing on the results port
	# after $BOOT_TIMEOUT seconds has hung in boot; do not wait for
	# $VM_TIMEOUT.
	hung=
	while kill -0 "$qpid" 2>/dev/null; do
		if [ ! -s "$out" ] && [ $(($(date +%s) - t0)) -ge "$BOOT_TIMEOUT" ]; then
			hung=1
			pkill -KILL -P "$qpid" 2>/dev/null || true
			kill -KILL "$qpid" 2>/dev/null || true
			break
		fi
		sleep 2
	done
	rc=0
	wait "$qpid" || rc=$?
	sleep 1
	kill "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	if [ -n "$rpid" ]; then
		kill "$rpid" 2>/dev/null || true
		wait "$rpid" 2>/dev/null || true
	fi
	end=$(grep -aE "^KMEM-[A-Z]+-EXIT" "$out" | tail -n 1 | tr -d '\r' || true)
}

: "${BOOT_TIMEOUT:=300}"
SPLAT=
# shellcheck source=guest/splat.sh
. "$TOP/harness/guest/splat.sh"
# One more boot, and only one, for a guest that stale_int3 says QEMU broke
# before any test ran; the first console is kept, and $vm/reboots says why
# (check.sh lists it with the run's retries).
rm -f "$vm/reboots" "$vm/console-$mode.stale-int3.log"
boot
if [ -z "$end" ] && [ "$mode" != bench ] && stale_int3 "$console" "$out"; then
	mv "$console" "$vm/console-$mode.stale-int3.log"
	echo "${VM_TAG:-VM}: rebooted once: its first boot died on an int3 that guest memory does not hold, before any test ($vm/console-$mode.stale-int3.log)" |
		tee "$vm/reboots" >&2
	boot
fi
# panic_verdict CONSOLE OUT TAP RC [hung]: the panic VM's results, as TAP
# lines in TAP, from its console log, its results port (OUT) and QEMU's exit
# status RC. kmem_kernel_loss_panic.sh prints its setup's results
# (PANIC_SETUP of them), then marks the kernel log "kmem_panic_test:
# teardown, expect: TEXT" and tears its device down. A test that comes back
# from that gives its last result itself (init then says KMEM-PANIC-EXIT:
# a failure). Otherwise the host gives it, and it passes when the setup
# passed whole (no skip), QEMU ended by itself with status 0 (panic=-1
# restarts at once, -no-reboot makes that QEMU's exit; the restart comes
# before panic()'s "---[ end Kernel panic" line, which is not printed),
# and the first line of the console that splat.sh lists, boot included,
# comes after the mark and is "Kernel panic - not syncing: TEXT" (this
# stands for the VM's splat check). The mark is read from the console,
# which panic() flushes, not from the results port. True when every
# result passed.
PANIC_SETUP=4
panic_verdict() {
	local console=$1 out=$2 tap=$3 qrc=$4 hung=${5:-} mark expect first got why=
	local n=$((PANIC_SETUP + 1))

	grep -aE '^(not )?ok [0-9]+ ' "$out" | tr -d '\r' >"$tap"
	if grep -aq '^KMEM-PANIC-EXIT' "$out"; then
		grep -q '^not ok ' "$tap" ||
			echo "not ok $(($(wc -l <"$tap") + 1)) the test ended without a panic" >>"$tap"
		return 1
	fi
	got=$(wc -l <"$tap")
	mark=$(grep -an -m 1 'kmem_panic_test: teardown, expect: ' "$console" | tr -d '\r')
	expect=${mark#*kmem_panic_test: teardown, expect: }
	mark=${mark%%:*}
	first=$(grep -anE -m 1 "$SPLAT" "$console" | tr -d '\r')
	if [ -n "$hung" ]; then
		why="no output from the guest: hung in boot"
	elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		why="hard timeout"
	elif [ "$qrc" != 0 ]; then
		why="QEMU ended with status $qrc"
	elif [ "$got" != "$PANIC_SETUP" ] || grep -qE '^not ok | # SKIP' "$tap"; then
		why="the setup did not pass: $got of $PANIC_SETUP results, failures and skips above"
	elif [ -z "$mark" ]; then
		why="no teardown mark in the console"
	elif [ -z "$first" ]; then
		why="no report in the console"
	elif [ "${first%%:*}" -lt "$mark" ]; then
		why="a report before the teardown: ${first#*:}"
	elif [ "${first#*Kernel panic - not syncing: }" != "$expect" ]; then
		why="the first report after the teardown: ${first#*:}"
	fi
	if [ -z "$why" ]; then
		echo "ok $n the provider's teardown panics: $expect" >>"$tap"
	else
		echo "not ok $n the provider's teardown panics # $why" >>"$tap"
	fi
	[ -z "$why" ]
}
if [ "$mode" = panic ]; then
	if panic_verdict "$console" "$out" "$vm/panic.tap" "$rc" "$hung"; then
		progress vm "${VM_TAG:+$VM_TAG: }done in $(($(date +%s) - t0)) s: the expected panic"
		exit 0
	fi
	echo "---- last console lines ($console) ----" >&2
	tail -n 40 "$console" >&2
	exit 1
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ -z "$end" ] || grep -aq "Kernel panic" "$console"; then
	# the reason also goes to $vm/ended-early, for check.sh's summary
	if [ -n "$hung" ]; then
		echo "${VM_TAG:-VM}: no output from the guest ${BOOT_TIMEOUT}s after start: hung in boot"
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "${VM_TAG:-VM}: hard timeout after ${VM_TIMEOUT}s"
	else
		echo "${VM_TAG:-VM}: ended without finishing after $(($(date +%s) - t0)) s (qemu rc=$rc)"
	fi | tee "$vm/ended-early" >&2
	sed -n '1,5p' "$vm/qemu-$mode.log" >&2
	echo "---- last console lines ($console) ----" >&2
	tail -n 40 "$console" >&2
	exit 1
fi
progress vm "${VM_TAG:+$VM_TAG: }done in $(($(date +%s) - t0)) s"
[ "${end##* }" = 0 ]
