#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn a quilt patch of the queue into git format-patch form, in place:
#
#   harness/format-patch.sh NAME.patch [MESSAGE-FILE]
#
# The patch must be applied in $BUILD/linux (quilt keeps the files as they
# were before it under .pc/NAME.patch/). The commit message is MESSAGE-FILE,
# or else the patch's current header (subject line, blank line, body,
# Signed-off-by); the author is git's user.name and user.email.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-$TOP/build}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

name=${1:?usage: format-patch.sh NAME.patch [MESSAGE-FILE]}
patch="$TOP/patches/$name"
pc="$SRC/.pc/$name"
[ -f "$patch" ] || die "no patches/$name"
[ -d "$pc" ] || die "patches/$name is not applied in $SRC (quilt push it first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
msg="$tmp/msg"
if [ -n "${2:-}" ]; then
	cp "$2" "$msg"
else
	# header: drop mail lines, keep "Subject" text, stop at the diff
	awk '/^---$|^diff |^Index: |^--- a\// { exit }
	     /^From [0-9a-f]+ / || /^From: / || /^Date: / { next }
	     /^ </ && !body { next }
	     /^Subject: / { sub(/^Subject: (\[PATCH[^]]*\] )?/, ""); print; next }
	     { body = 1; print }' "$patch" >"$msg"
fi
grep -q '^Signed-off-by: ' "$msg" || die "the commit message has no Signed-off-by line"

git -C "$tmp" init -q repo
repo="$tmp/repo"
# the files as they were before this patch
(cd "$pc" && find . -type f ! -name '.timestamp' -print0) | while IFS= read -r -d '' f; do
	[ -s "$pc/$f" ] || continue    # empty backup: the patch creates it
	mkdir -p "$repo/$(dirname "$f")"
	cp "$pc/$f" "$repo/$f"
done
git -C "$repo" add -A
git -C "$repo" commit -q --allow-empty -m base
patch -d "$repo" -p1 -s --no-backup-if-mismatch <"$patch"
git -C "$repo" add -A
git -C "$repo" commit -q -F "$msg"
git -C "$repo" format-patch -1 --stdout --zero-commit >"$patch.new"
mv "$patch.new" "$patch"
echo "patches/$name rewritten in format-patch form"
