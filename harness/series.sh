#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make series: export the series as patches that `git am` applies onto the
# pristine base, with a cover letter, into $BUILD/series/:
#
#   0000-cover-letter.patch   patches/cover-letter.txt, the base, a shortlog
#                             and a diffstat of the whole series
#   0001-... 00NN-...         the quilt queue, in patches/series order, copied
#                             (each is already in git format-patch form); only
#                             the subject's [PATCH] becomes [PATCH n/m]
#   then one patch per owned commit, patches/owned/NN-name.txt in NN order:
#   a first line "Files: PATH..." (owned files, or directories meaning every
#   owned file below them), optional lines "Folds: PATCH..." (queue patches
#   whose change belongs with these files: the Kconfig entry of a new file,
#   the index entry of a new page; they are not exported on their own but
#   applied in this commit), a blank line, then the commit message. Every
#   owned file must be in exactly one of them.
#
# The owned commits are made by git in a scratch repository, $BUILD/series-work
# (the base committed once per base version and tagged kmem-base; later runs
# reset to that tag instead of copying the base again): the queue is applied
# with git am, then each owned commit's files are copied in, committed with
# its message and exported with git format-patch --zero-commit. Dates come
# from the patches and from the repo's history, so an unchanged input gives
# byte-identical output; an unchanged input is not exported again at all.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export KMEM_VARIANT=series     # the series' tree, whatever the caller's variant
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"
: "${BASE_PKG:=$(sed -n 's/^BASE_PKG[[:space:]]*:=[[:space:]]*//p' "$TOP/Makefile" 2>/dev/null)}"
: "${BASE_PKG:?BASE_PKG is not set and not found in $TOP/Makefile}"

OUT="$BUILD/series"
WORK="$BUILD/series-work"
OWNED_MSGS="$TOP/patches/owned"
COVER="$TOP/patches/cover-letter.txt"
SUBJECT="dax kmem: persistent and CXL memory as System RAM, hot-add and hot-remove that never leak"

# The base $SRC was assembled from, as assemble.sh unpacked it.
version=$(cat "$SRC/.kmem-base" 2>/dev/null) || die "$SRC is not assembled: run 'make assemble'"
base="$BUILD/base/$version/$BASE_PKG"
if [ ! -f "$BUILD/base/$version/.unpacked" ] || [ ! -d "$base" ]; then
	die "no unpacked base in $base: run 'make assemble'"
fi
[ -f "$COVER" ] || die "patches/cover-letter.txt is missing"

# Who sends the series (the cover letter's From:): git's identity, as
# format-patch.sh uses it, when there is one; on a machine without one (CI)
# the author of the first owned commit. Each owned commit's author is the
# first Signed-off-by of its message. Everything in the scratch repository
# runs without the user's and the system's git configuration (format.*,
# diff.* would change the output).
sender_name=${GIT_AUTHOR_NAME:-$(git -C "$TOP" config user.name 2>/dev/null || true)}
sender_email=${GIT_AUTHOR_EMAIL:-$(git -C "$TOP" config user.email 2>/dev/null || true)}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
g() { git -C "$WORK" "$@"; }
# One user of the scratch repository at a time (series-check.sh holds the
# lock around its call of this script).
if [ -z "${KMEM_SERIES_LOCKED:-}" ]; then
	exec 9>"$BUILD/.series.lock"
	flock 9
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the inputs --------------------------------------------------------------
mapfile -t queue < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/patches/series" 2>/dev/null |
	awk '{print $1}')
for p in "${queue[@]}"; do
	f="$TOP/patches/$p"
	[ -f "$f" ] || die "patches/series names $p, which does not exist"
	if ! head -n 1 "$f" | grep -q '^From [0-9a-f]\{40\} ' ||
	   ! awk '/^$/ { exit } /^Subject: \[PATCH\] / { found = 1 } END { exit !found }' "$f"; then
		die "patches/$p is not in git format-patch form (a 'Subject: [PATCH] ' header): run harness/format-patch.sh $p"
	fi
done

mapfile -t owned < <(owned_files)
msgs=()
for m in "$OWNED_MSGS"/[0-9]*-*.txt; do     # a glob sorts by name
	[ -f "$m" ] || continue
	m=${m##*/}
	if [[ $m =~ ^[0-9]+-.*\.txt$ ]]; then msgs+=("$m"); fi
done
if [ ${#owned[@]} -gt 0 ] && [ ${#msgs[@]} = 0 ]; then
	die "no owned commits: patches/owned/NN-name.txt must cover the owned files"
fi
# owned_of PATH: the owned files PATH names (itself, or every one below it).
owned_of() {
	local p=${1%/} f
	for f in "${owned[@]}"; do
		case $f in "$p" | "$p"/*) echo "$f" ;; esac
	done
}
declare -A where author folded
# hdr_lines TXT: the number of header lines (before the first blank line).
hdr_lines() {
	awk '/^$/ { print NR - 1; exit }' "$1"
}
sob_re='^[^<]*[^<[:space:]][[:space:]]+<[^>[:space:]]+@[^>[:space:]]+>$'
for m in "${msgs[@]}"; do
	txt="$OWNED_MSGS/$m"
	head -n 1 "$txt" | grep -q '^Files: ' ||
		die "patches/owned/$m: the first line must be 'Files: PATH...'"
	h=$(hdr_lines "$txt")
	[ -n "$h" ] || die "patches/owned/$m: no empty line after the header (then the commit message)"
	[ "$h" -gt 1 ] && awk -v h="$h" 'NR > 1 && NR <= h && !/^Folds: / { bad = 1 } END { exit !bad }' "$txt" &&
		die "patches/owned/$m: header lines after the first must be 'Folds: PATCH...'"
	[ -n "$(sed -n "$((h + 2))p" "$txt")" ] ||
		die "patches/owned/$m: no subject line after the header's empty line"
	: >"$tmp/${m%.txt}.folds"
	for p in $([ "$h" -gt 1 ] && sed -n "2,${h}s/^Folds: //p" "$txt"); do
		printf '%s\n' "${queue[@]}" | grep -qxF -- "$p" ||
			die "patches/owned/$m folds $p, which is not in patches/series"
		[ -z "${folded[$p]:-}" ] ||
			die "$p is folded into two owned commits: patches/owned/${folded[$p]} and patches/owned/$m"
		folded[$p]=$m
		echo "$p" >>"$tmp/${m%.txt}.folds"
	done
	tail -n +"$((h + 2))" "$txt" >"$tmp/${m%.txt}.msg"
	sob=$(sed -n 's/^Signed-off-by: //p' "$tmp/${m%.txt}.msg" | head -n 1)
	[[ $sob =~ $sob_re ]] ||
		die "patches/owned/$m: no 'Signed-off-by: Name <email>' line in the commit message"
	author[$m]=$sob
	: >"$tmp/${m%.txt}.files"
	for p in $(head -n 1 "$txt" | cut -d' ' -f2-); do
		files=$(owned_of "$p")
		[ -n "$files" ] || die "patches/owned/$m names $p, which is no owned file nor a directory of one"
		echo "$files" >>"$tmp/${m%.txt}.files"
	done
	while read -r f; do
		if [ -n "${where[$f]:-}" ] && [ "${where[$f]}" != "$m" ]; then
			die "$f is in two owned commits: patches/owned/${where[$f]} and patches/owned/$m"
		fi
		where[$f]=$m
	done <"$tmp/${m%.txt}.files"
	LC_ALL=C sort -u -o "$tmp/${m%.txt}.files" "$tmp/${m%.txt}.files"
done
for f in "${owned[@]}"; do
	[ -n "${where[$f]:-}" ] ||
		die "$f is owned but in no owned commit: add it to the Files: line of one of patches/owned/*.txt"
done

if [ -z "$sender_name" ] || [ -z "$sender_email" ]; then
	[ ${#msgs[@]} -gt 0 ] || die "git has no identity: set git config user.name and user.email"
	a=${author[${msgs[0]}]}
	sender_name=${a%% <*}
	sender_email=${a##*<}
	sender_email=${sender_email%>}
fi
# The base commit, git am and the cover letter are by the sender; each
# owned commit by its author.
sender() {
	export GIT_AUTHOR_NAME="$sender_name" GIT_AUTHOR_EMAIL="$sender_email"
	export GIT_COMMITTER_NAME="$sender_name" GIT_COMMITTER_EMAIL="$sender_email"
	unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}
sender

# commit_date FILE...: when the owned commit's content last changed: the
# newest commit of the repo touching FILE..., else the newest mtime.
commit_date() {
	local d=
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		d=$(git -C "$TOP" log -1 --format=%ad --date=rfc -- "$@" 2>/dev/null) || d=
	fi
	[ -n "$d" ] || d=$(date -u -R -d "@$(cd "$TOP" && stat -L -c %Y "$@" | sort -n | tail -n 1)")
	echo "$d"
}
declare -A date
for m in "${msgs[@]}"; do
	mapfile -t fs <"$tmp/${m%.txt}.files"
	mapfile -t fold <"$tmp/${m%.txt}.folds"
	date[$m]=$(commit_date "${fs[@]}" "patches/owned/$m" "${fold[@]/#/patches/}")
done

# The queue as exported: without the patches folded into owned commits.
exported=()
for p in "${queue[@]}"; do
	[ -n "${folded[$p]:-}" ] || exported+=("$p")
done
total=$((${#exported[@]} + ${#msgs[@]}))
[ "$total" -gt 0 ] || die "nothing to export: no patches and no owned files"
w=${#total}

# Everything the output depends on; the same stamp means nothing to do.
stamp=$( {
	echo "$version $sender_name <$sender_email>"
	git --version
	sha256sum <"$0"
	sha256sum <"$COVER"
	for p in "${queue[@]}"; do echo "queue $p"; sha256sum <"$TOP/patches/$p"; done
	for m in "${msgs[@]}"; do
		echo "owned $m ${date[$m]} ${author[$m]}"
		sha256sum <"$OWNED_MSGS/$m"
		while read -r f; do
			echo "$f $(stat -L -c %a "$TOP/$f") $(sha256sum <"$TOP/$f")"
		done <"$tmp/${m%.txt}.files"
	done; } | sha256sum | cut -c1-64)
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ] &&
   [ "$(cat "$WORK/.git/kmem-base" 2>/dev/null)" = "$version" ]; then
	progress series "$OUT is up to date: $total patch(es) and a cover letter"
	exit 0
fi

# --- the scratch repository ----------------------------------------------------
if [ "$(cat "$WORK/.git/kmem-base" 2>/dev/null)" != "$version" ]; then
	t0=$(date +%s)
	progress series "a git repository of the base $version in $WORK (once per base)"
	rm -rf "$WORK"
	cp -a "$base" "$WORK"
	g init -q
	g config feature.manyFiles true
	g config gc.auto 0
	g config core.autocrlf false
	# -f: the base's own .gitignore files must not hide any of its files
	g add -A -f .
	GIT_AUTHOR_DATE="@0 +0000" GIT_COMMITTER_DATE="@0 +0000" \
		g commit -q --no-verify -m "$BASE_PKG $version"
	g tag -f kmem-base >/dev/null
	echo "$version" >"$WORK/.git/kmem-base"
	stage_time series "$t0"
fi

# series_reset BRANCH: the work tree back to the pristine base, on BRANCH.
series_reset() {
	rm -rf "$WORK/.git/rebase-apply"
	g checkout -q -f -B "$1" kmem-base
	g clean -q -f -d -x
}

t0=$(date +%s)
series_reset series
if [ ${#exported[@]} -gt 0 ]; then
	progress series "git am of the ${#exported[@]} queue patch(es) not folded into owned commits"
	g am -q --committer-date-is-author-date "${exported[@]/#/$TOP/patches/}" \
		>"$LOGS/series-am.log" 2>&1 || {
		sed 's/^/  | /' "$LOGS/series-am.log" >&2
		die "git am of the queue failed (see above): the series would not apply"
	}
fi

rm -rf "$OUT.new"
mkdir -p "$OUT.new"
n=0
for p in "${exported[@]}"; do
	n=$((n + 1))
	# only the header's Subject line
	awk -v num="$(printf '%0*d/%d' "$w" "$n" "$total")" \
		'!hdr && /^$/ { hdr = 1 }
		 !hdr && !done && /^Subject: \[PATCH\] / { sub(/\[PATCH\]/, "[PATCH " num "]"); done = 1 }
		 { print }' "$TOP/patches/$p" >"$OUT.new/$(printf '%04d' "$n")-${p#[0-9]*-}"
done

for m in "${msgs[@]}"; do
	n=$((n + 1))
	mapfile -t fs <"$tmp/${m%.txt}.files"
	for f in "${fs[@]}"; do
		mkdir -p "$(dirname "$WORK/$f")"
		cp -L --remove-destination --preserve=mode "$TOP/$f" "$WORK/$f"
	done
	g add -f -- "${fs[@]}"
	while read -r p; do
		g apply --index "$TOP/patches/$p" >>"$LOGS/series-am.log" 2>&1 ||
			die "patches/$p, folded into patches/owned/$m, does not apply (see $LOGS/series-am.log)"
	done <"$tmp/${m%.txt}.folds"
	cp "$tmp/${m%.txt}.msg" "$tmp/msg"
	a=${author[$m]}
	GIT_AUTHOR_NAME=${a%% <*} GIT_AUTHOR_EMAIL=${a##*<} GIT_AUTHOR_DATE="${date[$m]}"
	GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL%>}
	GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
	GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
	export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE
	export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE
	g commit -q --no-verify --allow-empty -F "$tmp/msg"
	if g diff --quiet HEAD~1 HEAD; then
		die "patches/owned/$m changes nothing: its files are already in the base as they are"
	fi
	g format-patch -q --zero-commit --no-numbered --start-number "$n" -o "$tmp/fp" -1 HEAD
	fp=$(echo "$tmp/fp"/*.patch)
	awk -v num="$(printf '%0*d/%d' "$w" "$n" "$total")" \
		'!hdr && /^$/ { hdr = 1 }
		 !hdr && !done && /^Subject: \[PATCH\] / { sub(/\[PATCH\]/, "[PATCH " num "]"); done = 1 }
		 { print }' "$fp" >"$OUT.new/${fp##*/}"
	rm -rf "$tmp/fp"
done

sender
# The cover letter: git's own (shortlog and diffstat of base..HEAD), dated
# like the newest patch, with the subject and patches/cover-letter.txt.
newest=$(for f in "$OUT.new"/*.patch; do
	date -d "$(awk '/^$/ { exit } /^Date: / { sub(/^Date: /, ""); print; exit }' "$f")" +%s
done | sort -n | tail -n 1)
GIT_COMMITTER_DATE="@$newest +0000" g format-patch -q --zero-commit --cover-letter \
	--numbered -o "$tmp/cover" kmem-base..HEAD
echo "$SUBJECT" >"$tmp/subject"
{
	cat "$COVER"
	echo
	echo "Base: Debian's $BASE_PKG $version"
} >"$tmp/blurb"
awk -v sf="$tmp/subject" -v bf="$tmp/blurb" '
	/\*\*\* SUBJECT HERE \*\*\*/ { getline s < sf; sub(/\*\*\* SUBJECT HERE \*\*\*/, s) }
	/^\*\*\* BLURB HERE \*\*\*$/ { while ((getline l < bf) > 0) print l; next }
	{ print }' "$tmp/cover/0000-cover-letter.patch" >"$OUT.new/0000-cover-letter.patch"
grep -q "^Subject: \[PATCH $(printf '%0*d' "$w" 0)/$total\] $SUBJECT" "$OUT.new/0000-cover-letter.patch" ||
	die "the cover letter's subject came out wrong: see $OUT.new/0000-cover-letter.patch"

echo "$stamp" >"$OUT.new/.stamp"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
stage_time series "$t0"
progress series "$OUT: a cover letter and $total patch(es) (${#exported[@]} from the queue, ${#msgs[@]} owned commit(s), $((${#queue[@]} - ${#exported[@]})) queue patch(es) folded into them)"
