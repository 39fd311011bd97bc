# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the harness scripts. Sourced, never executed.
# shellcheck shell=bash

: "${TOP:?TOP must be set (run through the top-level Makefile)}"
: "${BUILD:=$TOP/build}"
: "${JOBS:=$(nproc)}"
# KMEM_VARIANT picks the kernel a step works on:
#   series  the base with patches/series applied and every owned file linked
#   stock   the base as Debian ships it (empty queue, upstream's kmem.c); only
#           the test config fragment and the selftests are linked in, so that
#           both kernels are configured and tested alike (make bench, make
#           check-stock)
# KMEM_CONFIG picks the configuration:
#   test    dax-kmem-test.config: lockdep, KASAN, DEBUG_VM (make check)
#   bench   the same with dax-kmem-bench.config on top: no debugging (make bench)
# Each variant has its own tree; each variant and config its own objects,
# initramfs, VM files and logs under $VDIR. The unpacked base and the
# ccache are shared.
KMEM_VARIANT=${KMEM_VARIANT:-series}
KMEM_CONFIG=${KMEM_CONFIG:-test}
case $KMEM_VARIANT in
series) VBASE="$BUILD" ;;
stock) VBASE="$BUILD/stock" ;;
*) printf 'ERROR: KMEM_VARIANT=%s: expected series or stock\n' "$KMEM_VARIANT" >&2; exit 1 ;;
esac
# shellcheck disable=SC2034 # CONFIG_FRAGMENTS: for the scripts that source this file
case $KMEM_CONFIG in
test) VDIR="$VBASE"; CONFIG_FRAGMENTS="dax-kmem-test.config" ;;
bench) VDIR="$VBASE/bench"; CONFIG_FRAGMENTS="dax-kmem-test.config dax-kmem-bench.config" ;;
*) printf 'ERROR: KMEM_CONFIG=%s: expected test or bench\n' "$KMEM_CONFIG" >&2; exit 1 ;;
esac
export KMEM_VARIANT KMEM_CONFIG
LOGS="$VDIR/logs"
SRC="$VBASE/linux"
OBJ="$VDIR/obj"
mkdir -p "$LOGS"

# The check VMs' hard timeout in seconds (vm.sh check), which also bounds
# make check's whole VM stage (check.sh cuts the panic VM's to what is
# left). CI has 90 minutes for its run; its VM stage has taken 1.25 to
# about 1.9 times the figures in vm-test-seconds, and the rest about 560 s
# (2026-12-06: both check VMs cut at 3600 s, the run at 4159 s).
# shellcheck disable=SC2034 # for vm.sh and check.sh
CHECK_VM_TIMEOUT=4200

# progress NAME MESSAGE...: one readable line on the screen per step.
progress() {
	local stage=$1
	shift
	printf '[%s] %-10s %s\n' "$(date +%H:%M:%S)" "$stage" "$*"
}

die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

# kbuild with the project's settings: out of tree in $OBJ, ccache.
# shellcheck disable=SC2034 # for the scripts that source this file
KMAKE=(make -C "$SRC" O="$OBJ" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc"
       KBUILD_BUILD_TIMESTAMP="" KBUILD_BUILD_USER=kmem KBUILD_BUILD_HOST=series)
export CCACHE_DIR=${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}
export CCACHE_BASEDIR="$BUILD" CCACHE_NOHASHDIR=true CCACHE_SLOPPINESS=time_macros

# Owned top-level directories: a repo file below one of these is an in-tree
# file this project owns, linked into the assembled tree.
OWNED_DIRS="arch block certs crypto drivers fs include init io_uring ipc kernel lib mm net samples scripts security sound tools usr virt Documentation"

# owned_files: print the project's owned files, relative to $TOP, one a line.
owned_files() {
	local d
	(
		cd "$TOP" || exit 1
		if git rev-parse --git-dir >/dev/null 2>&1; then
			# shellcheck disable=SC2086
			{ git ls-files -- $OWNED_DIRS
			  git ls-files --others --exclude-standard -- $OWNED_DIRS; } |
				while read -r f; do
					if [ -f "$f" ]; then
						echo "$f"
					fi
				done
		else
			for d in $OWNED_DIRS; do
				if [ -d "$d" ]; then
					find "$d" -type f
				fi
			done
		fi
	) | LC_ALL=C sort -u
}

# stage_time NAME START: print how long a stage took.
stage_time() {
	local now
	now=$(date +%s)
	progress "$1" "done in $((now - $2)) s"
}
