#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static checks, one TAP line each on stdout:
#  - scripts/checkpatch.pl --strict on every patch of the series and on
#    every owned file;
#  - every owned or patched kernel C file compiled alone with W=1 must
#    produce no warning in that file;
#  - shellcheck -x -S warning on every shell script of the selftests and of
#    the harness (harness/deps.sh installs it).
# Needs the assembled and configured tree (assemble.sh, build-kernel.sh
# configuration step). Details go to $LOGS/static/.
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

dir="$LOGS/static"
rm -rf "$dir"
mkdir -p "$dir"
CP=("$SRC/scripts/checkpatch.pl" --strict --no-tree --show-types --color=never)

result() { # result OK(0/1) DESCRIPTION [LOG]
	if [ "$1" = 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2"
		[ -n "${3:-}" ] && grep -E '^(ERROR|WARNING|CHECK)|warning:|error:' "$3" | head -n 8 | sed 's/^/# /'
	fi
}

patches=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/patches/series" 2>/dev/null | awk '{print $1}')
for p in $patches; do
	log="$dir/${p//\//_}.checkpatch"
	"${CP[@]}" "$TOP/patches/$p" >"$log" 2>&1
	result $? "checkpatch --strict patches/$p" "$log"
done

mapfile -t owned < <(owned_files)
for f in "${owned[@]}"; do
	log="$dir/${f//\//_}.checkpatch"
	(cd "$TOP" && "${CP[@]}" -f "$f") >"$log" 2>&1
	result $? "checkpatch --strict $f" "$log"
done

# Shell scripts: the selftests, the harness, its tests and the guest's
# scripts, at shellcheck's severity warning. Each is checked from its own
# directory, so that -x follows what it sources (the source= directives are
# relative to it). vm.sh puts QEMU options, comma-separated lists, into
# arrays, which SC2054 takes for a misspelt array: not checked there.
mapfile -t shfiles < <(cd "$TOP" && printf '%s\n' tools/testing/selftests/dax/*.sh \
	harness/*.sh harness/guest/*.sh harness/tests/*.sh)
if command -v shellcheck >/dev/null; then
	for f in "${shfiles[@]}"; do
		log="$dir/${f//\//_}.shellcheck"
		excl=()
		[ "$f" = harness/vm.sh ] && excl=(--exclude=SC2054)
		(cd "$TOP/$(dirname "$f")" &&
			shellcheck -x -S warning -f gcc "${excl[@]}" "$(basename "$f")") >"$log" 2>&1
		result $? "shellcheck -S warning $f" "$log"
	done
else
	result 1 "shellcheck is installed (harness/deps.sh)"
fi

# C files: owned ones (outside tools/) and those the patches touch.
cfiles=$( { printf '%s\n' "${owned[@]}" | grep -E '\.c$' | grep -v '^tools/'
	    for p in $patches; do
		sed -n 's|^+++ b/\([^[:space:]]*\.c\).*|\1|p' "$TOP/patches/$p"
	    done; } | sort -u)
# included_c FILE: the .c files FILE #includes from its own directory (a
# KUnit suite built into the file it tests); they are checked with it and
# never compiled alone.
included_c() {
	sed -n 's/^#include "\([^"/]*\.c\)"$/\1/p' "$SRC/$1" | sed "s|^|$(dirname "$1")/|"
}
inc=$(for f in $cfiles; do included_c "$f"; done | sort -u)
for f in $cfiles; do
	grep -qxF "$f" <<<"$inc" && continue
	log="$dir/${f//\//_}.w1"
	rm -f "$OBJ/${f%.c}.o"     # always compile it, and with W=1
	"${KMAKE[@]}" W=1 "${f%.c}.o" >"$log" 2>&1
	rc=$?
	for g in $f $(included_c "$f"); do
		if [ $rc = 0 ] && grep -q "^[^ ]*${g}:[0-9]*:[0-9]*: warning:" "$log"; then
			rc=1
		fi
	done
	result $rc "W=1 build of $f $(included_c "$f" | sed 's/^/+ /' | tr '\n' ' ')adds no warning" "$log"
done

# Kconfig: the KUnit suite is built into kmem, so a built-in kmem with a
# modular KUnit must not select it (it would not link); a modular kmem with
# a modular KUnit may. Each combination is configured in a scratch tree
# from the test config and the outcome read back.
kconfig_case() { # kconfig_case KMEM KUNIT WANT: DAX_KMEM_KUNIT_TEST ends up WANT
	local o="$dir/kconfig-$1$2" got log

	log="$o.log"
	mkdir -p "$o"
	cp "$OBJ/.config" "$o/.config"
	"$SRC/scripts/config" --file "$o/.config" --set-val DEV_DAX "$1" \
		--set-val DEV_DAX_KMEM "$1" --set-val KUNIT "$2" \
		--enable DAX_KMEM_KUNIT_TEST >"$log" 2>&1
	make -C "$SRC" O="$o" ARCH=x86_64 HOSTCC="ccache gcc" olddefconfig >>"$log" 2>&1 ||
		{ result 1 "Kconfig DEV_DAX_KMEM=$1 KUNIT=$2 configures" "$log"; return; }
	got=$(sed -n 's/^CONFIG_DAX_KMEM_KUNIT_TEST=//p' "$o/.config")
	echo "DEV_DAX_KMEM=$(sed -n 's/^CONFIG_DEV_DAX_KMEM=//p' "$o/.config") KUNIT=$(sed -n 's/^CONFIG_KUNIT=//p' "$o/.config") DAX_KMEM_KUNIT_TEST=${got:-n}" >>"$log"
	tail -n 1 "$log" | grep -q "DEV_DAX_KMEM=$1 KUNIT=$2 " ||
		{ result 1 "Kconfig DEV_DAX_KMEM=$1 KUNIT=$2 kept as set ($(tail -n 1 "$log"))"; return; }
	[ "${got:-n}" = "$3" ]
	result $? "Kconfig DEV_DAX_KMEM=$1 KUNIT=$2 gives DAX_KMEM_KUNIT_TEST=$3 (${got:-n})"
}
kconfig_case y m n
kconfig_case m m y
kconfig_case y y y
