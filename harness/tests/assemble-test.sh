#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of harness/assemble.sh on a tiny fake base tree: the quilt queue
# (apply, incremental re-apply, a patch that does not apply names itself
# and the file, a renamed patch), owned files (linked, the upstream copy
# restored when no longer owned, patches may not touch them), mutants
# (applied, then reverted), format-patch.sh, and make series with its check
# (series.sh, series-check.sh). Prints one TAP line per check.
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

# A queue patch renamed in patches/series: "quilt applied" then refuses to
# answer, the old name is popped from quilt's own list all the same.
mv "$TOP/patches/0001-a.patch" "$TOP/patches/0001-a-renamed.patch"
echo 0001-a-renamed.patch >"$TOP/patches/series"
ok "a renamed queue patch: the old name popped, the new one pushed" \
	eval 'assemble && grep -qx 2 "$SRC/mm/a.c" && grep -q "^0001-a-renamed.patch " "$SRC/.kmem-applied" &&
	      [ "$(wc -l <"$SRC/.kmem-applied")" = 1 ]'
mv "$TOP/patches/0001-a-renamed.patch" "$TOP/patches/0001-a.patch"
echo 0001-a.patch >"$TOP/patches/series"
ok "... and renamed back" eval 'assemble && grep -qx 2 "$SRC/mm/a.c" && grep -q "^0001-a.patch " "$SRC/.kmem-applied"'

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

# make series (series.sh) and its check (series-check.sh) on the fake base:
# the queue is 0001-a.patch (in format-patch form since the test above),
# the owned files drivers/dax/kmem.c, mm/new.c, kernel/configs/t.config and
# tools/testing/selftests/dax/t.sh.
series() {
	"$TOP/harness/series.sh" >"$work/out" 2>&1
}
series_check() {
	"$TOP/harness/series-check.sh" >"$work/out" 2>&1
}
owned_msg() { # owned_msg NAME FILES SUBJECT: patches/owned/NAME.txt
	printf 'Files: %s\n\n%s\n\nBody.\n\nSigned-off-by: test <test@example.org>\n' "$2" "$3" \
		>"$TOP/patches/owned/$1.txt"
}
mkdir -p "$TOP/patches/owned"
printf 'What the series does.\n' >"$TOP/patches/cover-letter.txt"
owned_msg 01-kmem "drivers/dax/kmem.c mm" "dax/kmem: ours"
owned_msg 02-config "kernel/configs/t.config" "kernel/configs: t"
ok "series: an owned file in no owned commit fails the export, naming it" \
	eval '! series && grep -q "tools/testing/selftests/dax/t.sh is owned but in no owned commit" "$work/out"'
owned_msg 03-selftests "tools/testing/selftests/dax/ kernel/configs" "selftests/dax: t"
ok "series: ... and so does one in two owned commits" \
	eval '! series && grep -q "kernel/configs/t.config is in two owned commits" "$work/out"'
owned_msg 03-selftests "tools/testing/selftests/dax/" "selftests/dax: t"
cp "$TOP/patches/0001-a.patch" "$work/0002-plain.patch"
sed -n '/^diff --git/,$p' "$work/0002-plain.patch" >"$TOP/patches/0002-plain.patch"
echo 0002-plain.patch >>"$TOP/patches/series"
ok "series: a queue patch not in git format-patch form is refused" \
	eval '! series && grep -q "patches/0002-plain.patch is not in git format-patch form" "$work/out"'
sed -i '/0002-plain.patch/d' "$TOP/patches/series"
rm "$TOP/patches/0002-plain.patch"
cp "$TOP/patches/0001-a.patch" "$work/0001-a.patch"
sed -i 's/^ three$/ THREE/' "$TOP/patches/0001-a.patch"   # patch would take it with fuzz
ok "series: a queue patch that git am does not apply fails the export" \
	eval '! series && grep -q "git am of the queue failed" "$work/out"'
ok "... and series-check says so" \
	eval '! series_check && grep -q "^not ok - series: harness/series.sh exports" "$work/out"'
cp "$work/0001-a.patch" "$TOP/patches/0001-a.patch"
# shellcheck disable=SC2034  # used in the eval strings below
S="$BUILD/series"
ok "series: a cover letter, the queue patch, then one patch per owned commit" \
	eval 'series && [ "$(cd "$S" && echo *)" = "0000-cover-letter.patch 0001-a.patch 0002-dax-kmem-ours.patch 0003-kernel-configs-t.patch 0004-selftests-dax-t.patch" ]'
ok "... numbered [PATCH n/4], the cover letter's text and shortlog in 0/4" \
	eval 'grep -q "^Subject: \[PATCH 0/4\] dax kmem: " "$S/0000-cover-letter.patch" &&
	      grep -qx "What the series does." "$S/0000-cover-letter.patch" &&
	      grep -qx "  selftests/dax: t" "$S/0000-cover-letter.patch" &&
	      grep -q "^Subject: \[PATCH 1/4\] mm: a: spell two as a digit" "$S/0001-a.patch" &&
	      grep -q "^Subject: \[PATCH 2/4\] dax/kmem: ours" "$S/0002-dax-kmem-ours.patch" &&
	      grep -q "^Signed-off-by: test <test@example.org>" "$S/0004-selftests-dax-t.patch"'
ok "series-check: the patches apply with git am and give the assembled tree" \
	eval 'series_check && grep -qx "ok - series: 4 patches apply with git am onto the pristine base" "$work/out" &&
	      grep -qx "ok - series: the result is identical to $SRC" "$work/out"'
ok "series: nothing changed, nothing exported again" eval 'series && grep -q "is up to date" "$work/out"'
ok "series: without a git identity (CI), the first owned commit's author sends it" \
	eval 'env -u GIT_AUTHOR_NAME -u GIT_AUTHOR_EMAIL -u GIT_COMMITTER_NAME -u GIT_COMMITTER_EMAIL \
	      GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 EMAIL= "$TOP/harness/series.sh" >"$work/out" 2>&1 &&
	      grep -qx "From: test <test@example.org>" "$S/0000-cover-letter.patch"'
t=$(stat -c %Y "$TOP/mm/new.c")
printf 'changed\n' >>"$TOP/mm/new.c"
touch -d "@$t" "$TOP/mm/new.c"    # only the content tells
ok "series-check: an owned file changed is exported again" \
	eval 'series_check && grep -qx "ok - series: the result is identical to $SRC" "$work/out"'
cp "$SRC/mm/a.c" "$work/a.c"
echo "not in the series" >>"$SRC/mm/a.c"
ok "series-check: a tree that is not the series fails, naming the file" \
	eval '! series_check && grep -q "^not ok - series: the result is identical" "$work/out" &&
	      grep -qx "# differs: mm/a.c" "$work/out"'
cp "$work/a.c" "$SRC/mm/a.c"
ok "series-check: a tree with a mutant is not compared" \
	eval 'MUTANT=m assemble && series_check && grep -q "^ok - series: the result is identical .* # SKIP mutant m" "$work/out" &&
	      assemble'

[ "$fails" = 0 ]
