#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The exported series is the tree that is built and tested: export it
# (harness/series.sh, a no-op when nothing changed), apply every patch of
# $BUILD/series/ with git am onto the pristine base (the scratch repository
# $BUILD/series-work, reset to its kmem-base tag) and compare the result
# with $SRC (build/linux): diff -r, following $SRC's links to the owned
# files, without what assembly adds that is not source (at the top level
# only: .pc, quilt's state and backup copies; .kmem-*, assemble.sh's state
# and the upstream files it keeps aside; patches and .git), and the
# executable bit of every file the series touches. Directories with no file
# in them are not compared (git has none). With a mutant applied to $SRC
# (make check MUTANT=...) the comparison is skipped.
# Prints TAP lines; exits non-zero on a failure.
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export KMEM_VARIANT=series
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

OUT="$BUILD/series"
WORK="$BUILD/series-work"
log="$LOGS/series.log"
# What assembly puts into $SRC besides the source, at its top level.
EXCLUDE=(.pc .git patches '.kmem-*')

rel() { # rel PATH: PATH relative to the repo when inside it
	echo "${1#"$TOP"/}"
}
notok() { # notok DESCRIPTION [FILE]: a failure, with FILE's first lines
	echo "not ok - series: $1"
	[ -z "${2:-}" ] || head -n 12 "$2" | sed 's/^/# /'
}

# One user of the scratch repository at a time; series.sh runs under this lock.
exec 9>"$BUILD/.series.lock"
flock 9
export KMEM_SERIES_LOCKED=1
if ! "$TOP/harness/series.sh" >"$log" 2>&1; then
	grep -E '^ERROR' "$log" >"$log.err" || tail -n 5 "$log" >"$log.err"
	notok "harness/series.sh exports $(rel "$OUT") (see $(rel "$log"))" "$log.err"
	exit 1
fi
patches=()
for p in "$OUT"/[0-9][0-9][0-9][0-9]-*.patch; do
	[ -f "$p" ] && [ "${p##*/}" != 0000-cover-letter.patch ] && patches+=("$p")
done
[ ${#patches[@]} -gt 0 ] || { notok "$(rel "$OUT") has patches"; exit 1; }

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_COMMITTER_NAME=series-check GIT_COMMITTER_EMAIL=series-check@localhost
g() { git -C "$WORK" "$@"; }
rm -rf "$WORK/.git/rebase-apply"
if ! g checkout -q -f -B check kmem-base || ! g clean -q -f -d -x; then
	notok "reset $(rel "$WORK") to the pristine base"
	exit 1
fi
if ! g am -q --committer-date-is-author-date "${patches[@]}" >"$LOGS/series-check-am.log" 2>&1; then
	notok "${#patches[@]} patches apply with git am onto the pristine base" "$LOGS/series-check-am.log"
	rm -rf "$WORK/.git/rebase-apply"
	notok "the result is identical to $(rel "$SRC") # not compared: git am failed"
	exit 1
fi
echo "ok - series: ${#patches[@]} patches apply with git am onto the pristine base"

srcn=$(rel "$SRC")
desc="the result is identical to $srcn"
if [ -f "$SRC/.kmem-mutant" ]; then
	echo "ok - series: $desc # SKIP mutant $(cat "$SRC/.kmem-mutant") is applied to $srcn"
	exit 0
fi
# top_level DIR: its entries, without what assembly adds.
top_level() {
	local e x
	(cd "$1" && ls -A) | while read -r e; do
		for x in "${EXCLUDE[@]}"; do
			# shellcheck disable=SC2254
			case $e in $x) continue 2 ;; esac
		done
		echo "$e"
	done | LC_ALL=C sort
}
# no_files PATH: PATH is a directory with no file in it (at any depth).
no_files() {
	[ -d "$1" ] && [ -z "$(find -L "$1" ! -type d -print -quit)" ]
}
# generated PATH (relative): PATH is only in $SRC because a build made it
# there (the selftests' programs are built in the tree): no owned file is
# at or below it. An owned file missing from the series is still told.
owned_list=$(owned_files)
generated() {
	! grep -q -e "^$1\$" -e "^$1/" <<<"$owned_list"
}
diffs="$LOGS/series-check.diff"
{
	LC_ALL=C comm -3 <(top_level "$SRC") <(top_level "$WORK") |
		while IFS= read -r e; do
			e=${e#$'\t'}
			if [ -e "$SRC/$e" ]; then
				no_files "$SRC/$e" || echo "only in $srcn: $e"
			else
				no_files "$WORK/$e" || echo "only in the series: $e"
			fi
		done
	LC_ALL=C comm -12 <(top_level "$SRC") <(top_level "$WORK") | while IFS= read -r e; do
		LC_ALL=C diff -rq "$SRC/$e" "$WORK/$e" 2>&1
	done | while IFS= read -r l; do
		case $l in
		"Only in "*)
			d=${l#Only in }
			d="${d%%: *}/${d#*: }"
			no_files "$d" && continue
			if [[ $d == "$SRC"/* ]]; then
				generated "${d#"$SRC"/}" && continue
				echo "only in $srcn: ${d#"$SRC"/}"
			else
				echo "only in the series: ${d#"$WORK"/}"
			fi
			;;
		"Files "*" differ") l=${l#Files "$SRC"/}; echo "differs: ${l%% and *}" ;;
		*) echo "$l" ;;
		esac
	done
	# git records the executable bit; diff does not compare it.
	g diff --name-only --no-renames kmem-base HEAD | while IFS= read -r f; do
		if [ ! -e "$WORK/$f" ] || [ ! -e "$SRC/$f" ]; then
			continue    # diff -r has told already
		fi
		a=$([ -x "$SRC/$f" ] && echo x || echo -)
		b=$([ -x "$WORK/$f" ] && echo x || echo -)
		[ "$a" = "$b" ] || echo "executable bit differs: $f ($srcn: $a, the series: $b)"
	done
} >"$diffs"
if [ -s "$diffs" ]; then
	notok "$desc ($(wc -l <"$diffs") difference(s), $(rel "$diffs"))" "$diffs"
	exit 1
fi
echo "ok - series: $desc"
