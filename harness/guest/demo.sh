#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The end-to-end demo `make` shows: pmem becomes System RAM on its own NUMA
# node through daxctl, and goes back to devdax without a trace.
# shellcheck source=../../tools/testing/selftests/dax/dax_lib.sh
. /kselftest/dax/dax_lib.sh
set -o pipefail

step() { printf '\n==> %s\n' "$*"; }
mem() {
	printf '    MemTotal %8d MiB | node0 %8d MiB | node1 %8d MiB\n' \
		$(($(meminfo_kb MemTotal) / 1024)) $(($(node_meminfo_kb 0 MemTotal) / 1024)) \
		$(($(node_meminfo_kb 1 MemTotal) / 1024))
}
fail() { echo "DEMO FAILED: $*"; exit 1; }

step "kernel $(uname -r), $(nproc) CPUs, memory block size $(($(memblock_bytes) >> 20)) MiB"
numactl -H | sed 's/^/    /'

step "initialise NVDIMM labels"
/harness/labels.sh 2>&1 | sed 's/^/    /' || fail "label init"
region=$(region_by_size big) || fail "no big region"
echo "    $region: $(($(cat $SYS_ND/$region/size) >> 20)) MiB," \
	"numa_node $(cat $SYS_ND/$region/numa_node)"

step "create a devdax namespace on $region"
json=$(create_ns "$region" devdax "" -a 2M)
dax=$(dax_of_ns "$json")
[ -n "$dax" ] || fail "ndctl create-namespace"
daxctl list -d "$dax" | sed 's/^/    /'

step "before: $dax is a character device"
base=$(meminfo_kb MemTotal)
mem
# What kmem hot-adds: 2 MiB aligned with kmem.subblock=Y, else whole memory
# blocks. daxctl 76.1 does not see a partial first block, so the device's
# online_policy (when it has one) is online_movable: kmem onlines every
# block at bind, and daxctl is told not to online (the admin guide's way).
read -r s e < <(kmem_span "$dax")
how="memory-block aligned"
[ "$(kmem_param subblock)" != Y ] || how="2 MiB aligned: kmem.subblock=Y"
pol=$SYS_DAX/devices/$dax/online_policy
opt=
if [ -e "$pol" ]; then
	echo online_movable >"$pol" || fail "cannot set $dax online_policy"
	echo "    $dax online_policy: $(cat "$pol")"
	opt=--no-online
fi

step "daxctl reconfigure-device ${opt:+$opt }--mode=system-ram $dax"
daxctl reconfigure-device ${opt:+"$opt"} --mode=system-ram "$dax" 2>&1 |
	tr -d '\n ' | sed 's/^/    /' || fail "daxctl reconfigure-device --mode=system-ram"
echo
mem
added=$(($(meminfo_kb MemTotal) - base))
echo "    hot-added $(((e - s) >> 20)) MiB of $(($(dax_attr "$dax" size) >> 20)) MiB ($how)"
[ $((added * 1024)) = $((e - s)) ] ||
	fail "MemTotal grew by $added kB, want $(((e - s) / 1024)) kB (the hot-add range)"
[ -n "$(iomem_lines 'System RAM (kmem)')" ] || fail "no System RAM (kmem) in /proc/iomem"

step "/proc/iomem: Persistent Memory > $dax > System RAM (kmem)"
awk '/Persistent Memory/ { p = 1 } p && /^[^ ]/ && !/Persistent Memory/ { p = 0 } p' /proc/iomem |
	sed 's/^/    /'
chain=$(iomem_parent_chain "$(printf '%x' "$s")" "System RAM (kmem)")
echo "    parents of System RAM (kmem): ${chain//|/ < }"

step "daxctl reconfigure-device --mode=devdax -f $dax"
daxctl reconfigure-device -f --mode=devdax "$dax" 2>&1 | tr -d '\n ' | sed 's/^/    /' ||
	fail "daxctl reconfigure-device --mode=devdax"
echo
mem
after=$(meminfo_kb MemTotal)
[ "$after" = "$base" ] || fail "MemTotal $after kB, baseline $base kB"
[ -z "$(iomem_lines 'System RAM (kmem)')" ] || fail "System RAM (kmem) left in /proc/iomem"
ndctl destroy-namespace -f all >/dev/null 2>&1
step "DEMO OK: MemTotal grew by the hot-add range and is back to the baseline, /proc/iomem clean"
