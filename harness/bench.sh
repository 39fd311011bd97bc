#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the stock kernel against the series, same base, same config
# (dax-kmem-test.config + dax-kmem-bench.config: no debugging), same VM
# (vm.sh bench), same workloads (harness/guest/bench.sh), in one run.
#
# Both kernels are built first (each in its own object directory, so a
# second run rebuilds neither unless its inputs changed), then booted one
# after the other. The raw samples, the machine facts, the results table
# and the plot go to $BENCH_OUT (default results/bench/ in the repo,
# results/bench-capacity/ for KMEM_BENCH_ONLY=capacity, results/bench-dram/
# for dram).
#
# KMEM_BENCH_REPS (3) and KMEM_BENCH_SIZES ("1024 4096 16384", MiB) are
# passed to the guest, and KMEM_BENCH_ONLY=capacity or dram limits the
# workloads to the capacity cases or to the DRAM cost of the memmap (any
# other value is refused). KMEM_BENCH_ROUNDS=2
# boots each kernel twice, in the order stock, series, series, stock, so
# that a drift of the host during the run weighs on both kernels alike; the
# samples of both boots count.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export TOP KMEM_CONFIG=bench
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"
H="$TOP/harness"
case ${KMEM_BENCH_ONLY:-} in
"" | capacity | dram) ;;
*) die "KMEM_BENCH_ONLY=$KMEM_BENCH_ONLY: only 'capacity' or 'dram' (or unset) is known" ;;
esac
# a partial run (KMEM_BENCH_ONLY) never overwrites the full run's results
OUT=${BENCH_OUT:-$TOP/results/bench${KMEM_BENCH_ONLY:+-$KMEM_BENCH_ONLY}}
VARIANTS="stock series"
mkdir -p "$OUT"
t0=$(date +%s)

for v in $VARIANTS; do
	progress bench "building the $v kernel (bench config)"
	KMEM_VARIANT=$v "$H/assemble.sh"
	KMEM_VARIANT=$v "$H/build-kernel.sh"
	KMEM_VARIANT=$v "$H/mkinitramfs.sh"
done

ROUNDS=${KMEM_BENCH_ROUNDS:-1}
case $ROUNDS in
1) order=$VARIANTS ;;
2) order="$VARIANTS $(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' ')" ;;
*) die "KMEM_BENCH_ROUNDS=$ROUNDS: 1 or 2" ;;
esac
for v in $VARIANTS; do
	: >"$OUT/raw-$v.txt"
done
vmrc=0
for v in $order; do
	progress bench "running the workloads on the $v kernel"
	vdir=$(KMEM_VARIANT=$v bash -c ". '$H/lib.sh' && echo \"\$VDIR\"")
	rc=0
	KMEM_VARIANT=$v "$H/vm.sh" bench || rc=$?
	[ "$rc" = 0 ] || { vmrc=$rc; progress bench "the $v run did not finish cleanly (see $vdir/vm/)"; }
	tr -d '\r' <"$vdir/vm/out-bench.log" >>"$OUT/raw-$v.txt"
done

{
	echo "command: make bench${KMEM_BENCH_REPS:+ KMEM_BENCH_REPS=$KMEM_BENCH_REPS}${KMEM_BENCH_SIZES:+ KMEM_BENCH_SIZES=\"$KMEM_BENCH_SIZES\"}${KMEM_BENCH_ROUNDS:+ KMEM_BENCH_ROUNDS=$KMEM_BENCH_ROUNDS}${KMEM_BENCH_ONLY:+ KMEM_BENCH_ONLY=$KMEM_BENCH_ONLY}"
	echo "order: $order"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "tree: $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$TOP" diff --quiet HEAD -- . ":(exclude)${OUT#"$TOP"/}" 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "base: $BASE_PKG $(dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null)"
	echo "series: $(grep -cEv '^[[:space:]]*(#|$)' "$TOP/patches/series") patches, drivers/dax/kmem.c replaced"
	echo "config: x86_64_defconfig + kvm_guest.config + $CONFIG_FRAGMENTS"
	echo "host cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
	echo "host memory: $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "qemu: $(qemu-system-x86_64 --version | head -n 1)"
	echo "vm: TCG, 2 vCPUs, 6 GiB DRAM on node 0, one 18 GiB NVDIMM on node 1"
	echo "wall time: $(($(date +%s) - t0)) s"
} >"$OUT/machine.txt"

python3 "$H/bench-report.py" "$OUT"
progress bench "results: $OUT/README.md, $OUT/bench.png"
exit "$vmrc"
