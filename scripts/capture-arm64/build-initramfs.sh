#!/bin/bash
# build-initramfs.sh - apt-get downloads the Debian arm64 kernel, busybox-static and perf/trace-cmd with their
# libraries (dpkg --add-architecture arm64), cross-builds the VMM (gcc-aarch64-linux-gnu, static), and packs the
# initramfs of the arm64 L1 guest: busybox, virtio-blk modules, the VMM, perf + trace-cmd + every library of their
# Depends closure, /init.  KVM is built into Debian's arm64 kernel (CONFIG_KVM=y).
# Output: $CAPTURE_OUT/build/Image, $CAPTURE_OUT/build/initramfs.cpio   (CAPTURE_OUT default: $PWD/arm64-captures)
set -euo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)
B=${CAPTURE_OUT:-$PWD/arm64-captures}/build; mkdir -p $B/debs; B=$(cd $B && pwd)
KVER=${KVER:-6.1.0-57-arm64}
dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
command -v aarch64-linux-gnu-gcc >/dev/null || apt-get install -y -qq gcc-aarch64-linux-gnu >/dev/null
cd $B/debs
if [ ! -f .done ]; then
  # the runtime closure of perf and trace-cmd (libraries only: no perl/python interpreters, no dpkg/tar)
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
      linux-perf:arm64 trace-cmd:arm64 libtraceevent1-plugin:arm64 2>/dev/null | grep -v '^ ' | grep ':arm64$' | sort -u |
    grep -E '^(lib|zlib1g|linux-perf|trace-cmd|gcc-12-base)' | grep -v -E 'libpython3(\.11)?-(stdlib|minimal)|libpython3-stdlib' > want.txt
  apt-get download linux-image-$KVER:arm64 busybox-static:arm64 $(cat want.txt)
  apt-get download cpio     # host-architecture cpio to pack the initramfs
  touch .done
fi
cd $B
rm -rf sysroot kpkg cpiopkg; mkdir sysroot kpkg cpiopkg
for d in debs/*.deb; do case $d in *linux-image*) dpkg-deb -x $d kpkg;; */cpio_*) dpkg-deb -x $d cpiopkg;; *) dpkg-deb -x $d sysroot;; esac; done
cp kpkg/boot/vmlinuz-$KVER Image
rm -rf vmm; cp -r $TOOLS/vmm vmm; make -s -C vmm
R=$B/rootfs; rm -rf $R; mkdir -p $R/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,out,vmm,capture,etc,root}
cp sysroot/bin/busybox $R/bin/busybox
M=kpkg/lib/modules/$KVER/kernel
for m in drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk; do
  cp $M/$m.ko $R/lib/modules/
done
cp vmm/vmm vmm/guest.bin vmm/probe $R/vmm/
cp sysroot/usr/bin/perf sysroot/usr/bin/trace-cmd $R/usr/bin/
cp -a sysroot/lib/. $R/lib/
mkdir -p $R/usr/lib; cp -a sysroot/usr/lib/aarch64-linux-gnu $R/usr/lib/
echo "root:x:0:0:root:/root:/bin/sh" > $R/etc/passwd
cp $TOOLS/guest-init.sh $R/init; chmod +x $R/init
cp $TOOLS/variants.sh $R/capture/variants.sh
(cd $R && find . | $B/cpiopkg/bin/cpio -o -H newc --quiet) > $B/initramfs.cpio
ls -la $B/Image $B/initramfs.cpio
