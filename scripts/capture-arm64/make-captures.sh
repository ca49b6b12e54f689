#!/bin/bash
# make-captures.sh - one command to re-make the arm64 captures: installs qemu-system-arm when missing, builds the
# initramfs (build-initramfs.sh), boots the arm64 L1 once in VHE (default) and once with kvm-arm.mode=nvhe, each
# running variants D (small) and A (baseline, scale $AN, default 0.1), then finalizes every capture into
# $CAPTURE_OUT/<name> (finalize.sh).  QEMU runs under nice -n 10 (run-qemu.sh).  CAPTURE_OUT default: ./arm64-captures
set -uo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)
TOP=${CAPTURE_OUT:-$PWD/arm64-captures}; mkdir -p "$TOP/build"; export CAPTURE_OUT=$(cd "$TOP" && pwd)
command -v qemu-system-aarch64 >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-system-arm >/dev/null; } || { echo "cannot install qemu-system-arm"; exit 1; }
$TOOLS/build-initramfs.sh > $TOP/build/build-initramfs.log 2>&1 || { echo "initramfs build failed: $TOP/build/build-initramfs.log"; exit 1; }
AN=${AN:-0.1}
for mode in vhe nvhe; do
  b=$TOP/build/boot-$mode; suffix=; km=
  [ $mode = nvhe ] && { suffix=-nvhe; km=nvhe; }
  echo "$(date +%T) boot $mode -> $b"
  KVMMODE=$km timeout -k 5 1500 env EXTRA_APPEND="a64cap.env.AN=$AN${suffix:+ a64cap.env.NAMESUFFIX=$suffix}" \
    $TOOLS/run-qemu.sh D,A $b > $b.log 2>&1 || { echo "boot $mode failed, see $b.log"; continue; }
  grep -q 'L1: DONE' $b/console.log || { echo "boot $mode did not finish, see $b/console.log"; continue; }
  for n in D-small A-baseline; do
    [ -f $b/raw/$n$suffix/vmm-output.txt ] && grep -q '^total ' $b/raw/$n$suffix/vmm-output.txt \
      && $TOOLS/finalize.sh $b $n$suffix > $TOP/build/finalize-$n$suffix.log 2>&1 && echo "$(date +%T) $n$suffix OK"
  done
done
