#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the project needs from Debian's archive, and only what is
# missing: the pinned kernel base, the build tools, QEMU, the guest's
# userspace (busybox, ndctl, daxctl, udev, numactl) and shellcheck for the
# static checks.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"
: "${BASE_PKG:?}" "${BASE_VERSION:?}"

PKGS="bc bison flex gcc make perl python3 libc6-dev libelf-dev libssl-dev
      cpio kmod xz-utils rsync quilt ccache
      qemu-system-x86 busybox-static ndctl daxctl udev numactl bash
      e2fsprogs util-linux gnuplot-nox shellcheck"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: install $PKGS by hand"
	SUDO=sudo
fi

missing=
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done

have_base=$(dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null || true)
updated=
apt_update() {
	[ -n "$updated" ] && return 0
	progress deps "apt-get update"
	$SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >"$LOGS/apt-update.log" 2>&1 ||
		die "apt-get update failed, see $LOGS/apt-update.log"
	updated=1
}
apt_install() {
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 \
		--no-install-recommends "$@" >>"$LOGS/apt-install.log" 2>&1
}

if [ -n "$missing" ]; then
	apt_update
	progress deps "installing:$missing"
	# shellcheck disable=SC2086
	apt_install $missing || die "apt-get install failed, see $LOGS/apt-install.log"
fi

if [ "$have_base" != "$BASE_VERSION" ]; then
	apt_update
	progress deps "installing $BASE_PKG=$BASE_VERSION"
	if ! apt_install "$BASE_PKG=$BASE_VERSION"; then
		apt_install "$BASE_PKG" || die "$BASE_PKG cannot be installed at all"
		have_base=$(dpkg-query -W -f='${Version}' "$BASE_PKG")
		cat >&2 <<EOW

************************************************************************
WARNING: the pinned base $BASE_PKG=$BASE_VERSION is not available.
WARNING: using the newest one instead: $have_base.
WARNING: patches and measured numbers were made against $BASE_VERSION.
************************************************************************

EOW
	fi
fi
progress deps "all present ($BASE_PKG $(dpkg-query -W -f='${Version}' "$BASE_PKG"))"
