#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of harness/assemble.sh on a tiny fake base tree: the quilt queue
# (apply, incremental re-apply, a patch that does not apply names itself
# and the file), owned files (linked, the upstream copy restored when no
# longer owned, patches may not touch them) and mutants (applied, then
# reverted). Prints one TAP line per check.
set -uo pipefail
HARNESS=$(cd "$(dirname "$0")/.." && pwd)
unset MUTANT    # the fake tree has no mutants of the real one
: "${BASE_PKG:=linux-source-6.12}"
export BASE_PKG
version=$(dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null) || {
	echo "ok - assemble tests # SKIP $BASE_PKG not installed"
	exit 0
}

work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export TOP="$work/top" BUILD="$work/build"
# format-patch.sh commits in a scratch repository: a fresh machine has no
# git identity.
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.org
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.org
base="$BUILD/base/$version/$BASE_PKG"
mkdir -p "$base/mm" "$base/drivers/dax" "$TOP/patches" "$TOP/harness/mutants" "$TOP/mm"
cp "$HARNESS"/*.sh "$TOP/harness/"
printf 'one\ntwo\nthree\n' >"$base/mm/a.c"
printf 'upstream kmem\n' >"$base/drivers/dax/kmem.c"
touch "$base/Makefile" "$BUILD/base/$version/.unpacked"
SRC="$BUILD/linux"

n=0
fails=0
ok() { # ok DESCRIPTION COMMAND...
	local d=$1

	shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok - assemble: $d"
	else
		echo "not ok - assemble: $d"
		fails=$((fails + 1))
	fi
}
assemble() {
	"$TOP/harness/assemble.sh" >"$work/out" 2>&1
}
mkpatch() { # mkpatch NAME FILE OLD NEW: a patch replacing line OLD by NEW
	printf -- '--- a/%s\n+++ b/%s\n@@ -1,3 +1,3 @@\n' "$2" "$2" >"$TOP/patches/$1"
	awk -v o="$3" -v w="$4" '{ if ($0 == o) { print "-" o; print "+" w } else print " " $0 }' \
		"$5" >>"$TOP/patches/$1"
}

mkpatch 0001-a.patch mm/a.c two TWO "$base/mm/a.c"
echo 0001-a.patch >"$TOP/patches/series"
printf 'new owned\n' >"$TOP/mm/new.c"
mkdir -p "$TOP/drivers/dax"
printf 'our kmem\n' >"$TOP/drivers/dax/kmem.c"

ok "queue applies" assemble
ok "patched file has the change" grep -qx TWO "$SRC/mm/a.c"
ok "new owned file is a link into the repo" \
	test "$(readlink "$SRC/mm/new.c")" = "$TOP/mm/new.c"
ok "owned file replaces the upstream one" grep -qx "our kmem" "$SRC/drivers/dax/kmem.c"

printf 'one\nTWO\nthree\n' >"$work/a.c"
mkpatch 0001-a.patch mm/a.c two 2 "$base/mm/a.c"
ok "a changed patch is re-applied" eval 'assemble && grep -qx 2 "$SRC/mm/a.c" && ! grep -qx TWO "$SRC/mm/a.c"'

mkpatch 0002-bad.patch mm/a.c nothing-like-this x "$base/mm/a.c"
echo 0002-bad.patch >>"$TOP/patches/series"
ok "a patch that does not apply fails the assembly" eval '! assemble'
ok "... and names itself and the file" \
	eval 'grep -q "patches/0002-bad.patch does not apply" "$work/out" && grep -q "mm/a.c" "$work/out"'
ok "... leaving the earlier patch applied" grep -qx 2 "$SRC/mm/a.c"
sed -i '/0002-bad.patch/d' "$TOP/patches/series"
rm "$TOP/patches/0002-bad.patch"

printf -- '--- a/drivers/dax/kmem.c\n+++ b/drivers/dax/kmem.c\n@@ -1 +1 @@\n-our kmem\n+x\n' \
	>"$TOP/patches/0002-owned.patch"
echo 0002-owned.patch >>"$TOP/patches/series"
ok "a patch touching an owned file is refused" \
	eval '! assemble && grep -q "touches drivers/dax/kmem.c, which the project owns" "$work/out"'
sed -i '/0002-owned.patch/d' "$TOP/patches/series"

rm "$TOP/drivers/dax/kmem.c"
ok "a file no longer owned gets the upstream copy back" \
	eval 'assemble && [ ! -L "$SRC/drivers/dax/kmem.c" ] && grep -qx "upstream kmem" "$SRC/drivers/dax/kmem.c"'

printf -- '--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1,3 +1,3 @@\n one\n 2\n-three\n+MUTATED\n' \
	>"$TOP/harness/mutants/m.patch"
ok "a mutant is applied" eval 'MUTANT=m assemble && grep -qx MUTATED "$SRC/mm/a.c"'
ok "... and reverted by the next plain run" \
	eval 'assemble && grep -qx three "$SRC/mm/a.c" && grep -qx 2 "$SRC/mm/a.c"'

printf 'owned\n' >"$TOP/mm/own.c"
printf -- '--- a/mm/own.c\n+++ b/mm/own.c\n@@ -1 +1 @@\n-owned\n+MUTATED\n' \
	>"$TOP/harness/mutants/o.patch"
ok "a mutant of an owned file patches a copy, not the repo's file" \
	eval 'MUTANT=o assemble && grep -qx MUTATED "$SRC/mm/own.c" && [ ! -L "$SRC/mm/own.c" ] &&
	      grep -qx owned "$TOP/mm/own.c"'
ok "... and the next plain run links the repo's file again" \
	eval 'assemble && [ "$(readlink "$SRC/mm/own.c")" = "$TOP/mm/own.c" ]'
rm "$TOP/mm/own.c"

printf 'mm: a: spell two as a digit\n\nBody.\n\nSigned-off-by: T <t@example.org>\n' >"$work/msg"
ok "format-patch.sh rewrites a queue patch in git format-patch form" \
	eval '"$TOP/harness/format-patch.sh" 0001-a.patch "$work/msg" &&
	      grep -q "^Subject: \[PATCH\] mm: a: spell two as a digit" "$TOP/patches/0001-a.patch" &&
	      grep -q "^diff --git a/mm/a.c b/mm/a.c" "$TOP/patches/0001-a.patch" &&
	      grep -q "^Signed-off-by: T" "$TOP/patches/0001-a.patch"'
ok "... and the rewritten patch still assembles to the same tree" \
	eval 'assemble && grep -qx 2 "$SRC/mm/a.c"'

# quilt used by hand in the tree: a patch pushed there is not recorded
(cd "$SRC" && QUILT_PATCHES="$TOP/patches" QUILT_PC=.pc quilt pop -a -f -q &&
	QUILT_PATCHES="$TOP/patches" QUILT_PC=.pc quilt push -a -q) >/dev/null 2>&1
printf '0001-a.patch stale\n' >"$SRC/.kmem-applied"
ok "a patch pushed by hand is taken over, not pushed twice" \
	eval 'assemble && grep -qx 2 "$SRC/mm/a.c" && grep -q "^0001-a.patch [0-9a-f]" "$SRC/.kmem-applied"'

# The stock variant: the base untouched, only config and selftests linked.
mkdir -p "$TOP/kernel/configs" "$TOP/tools/testing/selftests/dax"
printf 'CONFIG_X=y\n' >"$TOP/kernel/configs/t.config"
printf 'test\n' >"$TOP/tools/testing/selftests/dax/t.sh"
printf 'our kmem\n' >"$TOP/drivers/dax/kmem.c"
ok "the series owns kmem.c again" eval 'assemble && grep -qx "our kmem" "$SRC/drivers/dax/kmem.c"'
STOCK="$BUILD/stock/linux"
ok "stock variant: assembles in its own tree" \
	eval 'KMEM_VARIANT=stock assemble && [ -d "$STOCK" ]'
ok "... with no patch applied" \
	eval 'grep -qx two "$STOCK/mm/a.c" && [ ! -s "$STOCK/.kmem-applied" ]'
ok "... upstream kmem.c, not the owned one" grep -qx "upstream kmem" "$STOCK/drivers/dax/kmem.c"
ok "... the config fragments and selftests linked" \
	eval '[ "$(readlink "$STOCK/kernel/configs/t.config")" = "$TOP/kernel/configs/t.config" ] &&
	      [ "$(readlink "$STOCK/tools/testing/selftests/dax/t.sh")" = "$TOP/tools/testing/selftests/dax/t.sh" ] &&
	      [ ! -e "$STOCK/mm/new.c" ]'
ok "... and the series tree is left as it was" \
	eval 'grep -qx 2 "$SRC/mm/a.c" && grep -qx "our kmem" "$SRC/drivers/dax/kmem.c"'
ok "... a mutant is refused there" eval '! MUTANT=o KMEM_VARIANT=stock assemble'
ok "an unknown variant is refused" eval '! KMEM_VARIANT=nope assemble'

[ "$fails" = 0 ]
