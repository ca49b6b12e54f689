#!/bin/bash
# run-qemu.sh VARIANTS OUTDIR - boots the arm64 L1 guest under QEMU TCG (emulated EL2: -M virt,virtualization=on)
# and runs the capture variants (comma list, see variants.sh); the guest tars /out to a raw virtio disk, which is
# unpacked into OUTDIR/raw.  Serial console: OUTDIR/console.log.  KVM mode: KVMMODE=vhe|nvhe|protected (default:
# none given, the kernel picks VHE when it boots at EL2 on a CPU with FEAT_VHE).
set -euo pipefail
B=$(cd ${CAPTURE_OUT:-$PWD/arm64-captures}/build && pwd)   # Image + initramfs.cpio from build-initramfs.sh
variants=$1; out=$2; mkdir -p $out; out=$(cd $out && pwd)
SMP=${SMP:-2}; MEM=${MEM:-2048}
mode=${KVMMODE:+kvm-arm.mode=$KVMMODE}
rm -f $out/disk.img; truncate -s 2G $out/disk.img
QEMU=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on -accel tcg,thread=multi
      -smp $SMP -m $MEM -nographic -no-reboot -kernel $B/Image -initrd $B/initramfs.cpio
      -append "console=ttyAMA0 panic=-1 quiet loglevel=4 $mode a64cap.variants=$variants ${EXTRA_APPEND:-}"
      -drive file=$out/disk.img,format=raw,if=virtio,cache=unsafe -net none)
echo "${QEMU[*]}" > $out/qemu-cmdline.txt
echo "+ ${QEMU[*]}"
t0=$(date +%s)
nice -n 10 "${QEMU[@]}" < /dev/null 2>&1 | tee $out/console.log
echo "qemu exited after $(( $(date +%s) - t0 )) s"
mkdir -p $out/raw
tar -xf $out/disk.img -C $out/raw && rm -f $out/disk.img
ls -la $out/raw
