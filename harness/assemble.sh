#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Assemble $SRC = base + patches/series (quilt) + owned files (for
# KMEM_VARIANT=stock: base + the test config and the selftests only).
#
# The base tarball is unpacked once into $BUILD/base/<version>/ and copied to
# $BUILD/linux once. After that every run is incremental:
#  - the quilt queue is compared with what is applied (by patch content); only
#    the patches from the first difference on are popped and pushed again, so
#    kbuild rebuilds only what they touch;
#  - owned files are symlinks into the repo, so an edit in the repo is what
#    gets compiled, and a file that stops being owned gets its base copy back.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"
: "${BASE_PKG:?}"

version=$(dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null) ||
	die "$BASE_PKG is not installed: run 'make deps'"
tarball=/usr/src/$BASE_PKG.tar.xz
[ -f "$tarball" ] || die "$tarball is missing: reinstall $BASE_PKG"
basedir="$BUILD/base/$version"
base="$basedir/$BASE_PKG"

if [ ! -f "$basedir/.unpacked" ]; then
	t0=$(date +%s)
	progress unpack "$tarball ($version)"
	rm -rf "$basedir"
	mkdir -p "$basedir"
	tar -C "$basedir" -xf "$tarball"
	[ -f "$base/Makefile" ] || die "unexpected tarball layout in $tarball"
	touch "$basedir/.unpacked"
	stage_time unpack "$t0"
fi

if [ "$(cat "$SRC/.kmem-base" 2>/dev/null)" != "$version" ]; then
	t0=$(date +%s)
	progress assemble "fresh copy of the base into $SRC"
	rm -rf "$SRC" "$OBJ"
	cp -a "$base" "$SRC"
	echo "$version" >"$SRC/.kmem-base"
	stage_time assemble "$t0"
fi

# --- mutants: deliberate breakage that proves a test can fail -------------
# MUTANT=NAME applies harness/mutants/NAME.patch on top of everything.
# An applied mutant is always reverted first (so the queue below never
# runs under it) and applied again at the end if still asked for.
# A mutant of an owned file works on a copy that replaces the symlink (the
# repo's file is never touched); reverting puts the symlink back and makes
# the file look newer than the mutant's object, so kbuild rebuilds it.
mutant_applied="$SRC/.kmem-mutant.patch"
mutant_owned="$SRC/.kmem-mutant-owned"
if [ -f "$mutant_applied" ]; then
	progress mutant "reverting $(cat "$SRC/.kmem-mutant")"
	if [ -s "$mutant_owned" ]; then
		while read -r f; do
			ln -sfn "$TOP/$f" "$SRC/$f"
			touch "$TOP/$f"
		done <"$mutant_owned"
	else
		patch -d "$SRC" -p1 -R -s --no-backup-if-mismatch <"$mutant_applied" ||
			die "cannot revert the mutant in $SRC: make distclean"
	fi
	rm -f "$mutant_applied" "$mutant_owned" "$SRC/.kmem-mutant"
fi

# --- the quilt queue -------------------------------------------------------
export QUILT_PATCHES="$TOP/patches" QUILT_PC=.pc
series="$TOP/patches/series"
want=$(mktemp)
trap 'rm -f "$want"' EXIT
# The stock variant keeps the queue empty: the base as Debian ships it.
if [ -f "$series" ] && [ "$KMEM_VARIANT" = series ]; then
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series" | awk '{print $1}' |
	while read -r p; do
		[ -f "$TOP/patches/$p" ] || die "patches/series names $p, which does not exist"
		echo "$p $(sha256sum <"$TOP/patches/$p" | cut -c1-16)"
	done >"$want"
fi
have="$SRC/.kmem-applied"
touch "$have"
# Trust quilt for what is applied (someone may have used quilt by hand in
# the tree); a patch whose content we did not record gets hash "unknown",
# so it is popped and pushed again. Read quilt's own list: "quilt applied"
# refuses to answer once an applied patch was renamed or dropped in
# patches/series ("The series file no longer matches the applied patches").
applied_pc="$SRC/$QUILT_PC/applied-patches"
if [ -f "$applied_pc" ]; then sed 's|.*/||' "$applied_pc"; fi >"$have.quilt"
awk -v hf="$have" 'BEGIN { while ((getline l < hf) > 0) sum[++n] = l }
	{ split(sum[FNR], r, " "); print $1, (r[1] == $1 ? r[2] : "unknown") }' \
	"$have.quilt" >"$have.new"
mv "$have.new" "$have"
rm -f "$have.quilt"

# Owned files may not be patched: an owned file is replaced wholly.
owned=$(owned_files)
if [ "$KMEM_VARIANT" = stock ]; then
	# Only what configures and tests the kernel, never what changes it.
	owned=$(grep -E '^(kernel/configs/|tools/testing/selftests/)' <<<"$owned" || true)
	[ -z "${MUTANT:-}" ] || die "MUTANT applies to the series, not to the stock kernel"
fi
while read -r p _; do
	for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$TOP/patches/$p"); do
		if grep -qxF "$f" <<<"$owned"; then
			die "patch patches/$p touches $f, which the project owns (edit the file instead)"
		fi
	done
done <"$want"

# First line where applied and wanted differ.
keep=0
while IFS= read -r a <&3 && IFS= read -r b <&4; do
	[ "$a" = "$b" ] || break
	keep=$((keep + 1))
done 3<"$have" 4<"$want"
napplied=$(wc -l <"$have")
nwant=$(wc -l <"$want")

cd "$SRC"
if [ "$napplied" -gt "$keep" ]; then
	progress quilt "popping $((napplied - keep)) patch(es)"
	# Popped against the list of what is applied, not patches/series,
	# which may have renamed or dropped some of it.
	popseries="$have.series"
	cp "$applied_pc" "$popseries"
	while [ "$(wc -l <"$have")" -gt "$keep" ]; do
		# -f: restore from quilt's backups even when the patch file has
		# changed since it was pushed (which is why we pop it), or is
		# gone.
		QUILT_SERIES=$popseries quilt pop -f -q >"$LOGS/quilt.log" 2>&1 ||
			die "quilt pop failed in $SRC, see $LOGS/quilt.log"
		sed -i '$d' "$have"
	done
	rm -f "$popseries"
fi
if [ "$nwant" -gt "$keep" ]; then
	progress quilt "pushing $((nwant - keep)) patch(es)"
	tail -n +"$((keep + 1))" "$want" | while read -r p sum; do
		if ! quilt push "$p" >"$LOGS/quilt.log" 2>&1; then
			# quilt leaves the tree as it was before this patch.
			files=$(awk '/^patching file / { f = $3 }
				     /FAILED|No file to patch/ { if (f != "") print f }' \
				"$LOGS/quilt.log" | sort -u | tr '\n' ' ')
			sed 's/^/  | /' "$LOGS/quilt.log" >&2
			die "patches/$p does not apply${files:+ to: $files}"
		fi
		echo "$p $sum" >>"$have"
	done
fi

# --- owned files ------------------------------------------------------------
orig="$SRC/.kmem-orig"
list="$SRC/.kmem-owned"
touch "$list"
# Files no longer owned: drop the link, restore the base's copy if any.
LC_ALL=C comm -23 "$list" <(echo "$owned") | while read -r f; do
	rm -f "$SRC/$f"
	if [ -f "$orig/$f" ]; then
		mv "$orig/$f" "$SRC/$f"
		touch "$SRC/$f"     # newer than the object built from our copy
	fi
done
n=0
while read -r f; do
	[ -n "$f" ] || continue
	dst="$SRC/$f"
	if [ -L "$dst" ] && [ "$(readlink "$dst")" = "$TOP/$f" ]; then
		continue
	fi
	mkdir -p "$(dirname "$dst")"
	if [ -e "$dst" ] && [ ! -L "$dst" ]; then
		mkdir -p "$(dirname "$orig/$f")"
		mv "$dst" "$orig/$f"
	fi
	ln -sfn "$TOP/$f" "$dst"
	n=$((n + 1))
done <<<"$owned"
echo "$owned" >"$list"

if [ -n "${MUTANT:-}" ]; then
	m="$TOP/harness/mutants/$MUTANT.patch"
	[ -f "$m" ] || die "no mutant $MUTANT (harness/mutants/)"
	mfiles=$(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$m")
	mowned=$(grep -xF -f <(echo "$owned") <<<"$mfiles" || true)
	if [ -n "$mowned" ] && [ "$mowned" != "$mfiles" ]; then
		die "mutant $MUTANT mixes owned and upstream files: split it"
	fi
	for f in $mowned; do
		cp --remove-destination "$TOP/$f" "$SRC/$f"
	done
	if ! patch -d "$SRC" -p1 -s --dry-run <"$m" >/dev/null; then
		for f in $mowned; do ln -sfn "$TOP/$f" "$SRC/$f"; done
		die "mutant $MUTANT does not apply"
	fi
	patch -d "$SRC" -p1 -s --no-backup-if-mismatch <"$m"
	echo "$mowned" | sed '/^$/d' >"$mutant_owned"
	cp "$m" "$mutant_applied"
	echo "$MUTANT" >"$SRC/.kmem-mutant"
fi
[ -z "${MUTANT:-}" ] || progress mutant "*** $MUTANT applied: this tree is broken on purpose ***"
progress assemble "$KMEM_VARIANT $SRC: $(wc -l <"$have") patch(es), $(grep -c . "$list" || true) owned file(s) ($n newly linked)"
