#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the VM's initramfs ($VDIR/initramfs.cpio): busybox, ndctl,
# daxctl, udevd/udevadm with the packaged daxctl rule, numactl and
# migratepages, kmod, mkfs.ext4, bash, the kernel's modules and the dax
# selftests.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

t0=$(date +%s)
stage="$VDIR/initramfs"
rm -rf "$stage"
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,mnt,root}
# merged /usr, as on the host
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$stage/$d"
done

# copy_file PATH: copy a file (dereferenced) to the same path in the image.
copy_file() {
	local real dst

	real=$(readlink -f "$1")
	dst="$stage$(readlink -f "$(dirname "$1")")/$(basename "$1")"
	mkdir -p "$(dirname "$dst")"
	[ -e "$dst" ] || cp -L "$real" "$dst"
}

# copy_bin PATH...: a program and the shared libraries it needs.
copy_bin() {
	local b lib

	for b in "$@"; do
		[ -e "$b" ] || die "initramfs: $b is missing (run 'make deps')"
		copy_file "$b"
		for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*'); do
			copy_file "$lib"
		done
	done
}

copy_bin /usr/bin/busybox /usr/bin/bash /usr/bin/ndctl /usr/bin/daxctl \
	/usr/bin/numactl /usr/bin/migratepages /usr/bin/udevadm /lib/systemd/systemd-udevd \
	/usr/bin/kmod /usr/sbin/mkfs.ext4 /usr/bin/getconf
for a in $(/usr/bin/busybox --list-full); do
	[ -e "$stage/$a" ] || [ -L "$stage/$a" ] || ln -s /usr/bin/busybox "$stage/$a"
done
ln -sf bash "$stage/usr/bin/sh"
for a in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -sf /usr/bin/kmod "$stage/usr/sbin/$a"
done

# udev: the rules the tests and daxctl rely on, the packaged daxctl rule.
mkdir -p "$stage/usr/lib/udev/rules.d" "$stage/etc/udev"
for r in 50-udev-default.rules 60-persistent-storage.rules 80-drivers.rules \
	 90-daxctl-device.rules; do
	[ -f "/usr/lib/udev/rules.d/$r" ] && cp "/usr/lib/udev/rules.d/$r" "$stage/usr/lib/udev/rules.d/"
done
cp -r /etc/daxctl.conf.d "$stage/etc/" 2>/dev/null || true
[ -d /usr/share/daxctl ] && mkdir -p "$stage/usr/share" && cp -r /usr/share/daxctl "$stage/usr/share/"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$stage/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\nkvm:x:104:\n' >"$stage/etc/group"
printf 'export PS1="kmem-vm# "\ncd /kselftest/dax 2>/dev/null\n' >"$stage/root/.profile"
cp "$stage/root/.profile" "$stage/etc/profile"

# kernel modules (depmod runs as part of modules_install)
make -C "$SRC" O="$OBJ" ARCH=x86_64 INSTALL_MOD_PATH="$stage/usr" \
	INSTALL_MOD_STRIP=1 modules_install >"$LOGS/modules_install.log" 2>&1 ||
	die "modules_install failed, see $LOGS/modules_install.log"

# selftests, installed kselftest-style, links dereferenced
ksft="$VDIR/kselftest"
rm -rf "$ksft"
# rebuild the helpers every time, so their warnings are seen every time
rm -f "$SRC/tools/testing/selftests/dax/dax_rw"
make -C "$SRC/tools/testing/selftests" TARGETS=dax KSFT_INSTALL_PATH="$ksft" \
	install >"$LOGS/selftests.log" 2>&1 ||
	die "selftests build failed, see $LOGS/selftests.log"
cp -rL "$ksft" "$stage/kselftest"

mkdir -p "$stage/harness"
cp "$TOP"/harness/guest/*.sh "$stage/harness/"
gcc -O2 -Wall -Wextra -o "$stage/harness/bwbench" "$TOP/harness/guest/bwbench.c" 2>"$LOGS/bwbench.log" ||
	die "bwbench does not build, see $LOGS/bwbench.log"
cp "$TOP/harness/guest/init" "$stage/init"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet) >"$VDIR/initramfs.cpio.tmp"
mv "$VDIR/initramfs.cpio.tmp" "$VDIR/initramfs.cpio"
progress initramfs "$VDIR/initramfs.cpio: $(($(stat -c %s "$VDIR/initramfs.cpio") >> 20)) MiB"
stage_time initramfs "$t0"
