#!/bin/bash
# pairs.sh PAIR... (PAIR = XY: before and after variant in ONE L1 boot, back to back)
set -uo pipefail
TOOLS=/tmp/levers3-tools
export CAPTURE_OUT=/tmp/levers3-cap; TOP=$CAPTURE_OUT; mkdir -p $TOP/build
declare -A NAME=([A]=A-baseline [B]=B-disable-exits [H]=H-idle-mix [I]=I-idle-mix-cpupm [J]=J-busy-mix [K]=K-busy-mix-cpupm [M]=M-small [N]=N-small-cpupm [O]=O-one-vcpu [P]=P-one-vcpu-cpupm [U]=U-short-io [V]=V-short-io-cpupm [W]=W-long-msr [Y]=Y-long-msr-cpupm [S]=S-one-vcpu-idle [L]=L-one-vcpu-idle-cpupm)
[ -f $TOP/build/initramfs.cpio ] || $TOOLS/build-initramfs.sh > $TOP/build/build-initramfs.log 2>&1 || { echo "initramfs build failed"; exit 1; }
for pr in "$@"; do
  x=${pr:0:1}; y=${pr:1:1}
  for attempt in 1 2 3; do
    b=$TOP/build/boot-$pr-$attempt; rm -rf $b
    echo "$(date +%T) pair $x,$y attempt $attempt load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $TOP/load.log
    timeout -k 5 700 $TOOLS/run-qemu.sh $x,$y $b > $b.log 2>&1
    rc=$?
    echo "$(date +%T) pair $x,$y attempt $attempt rc=$rc end load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $TOP/load.log
    if [ $rc = 0 ] && grep -q 'L1: DONE' $b/console.log && grep -q '^total ' $b/raw/${NAME[$x]}/vmm-output.txt && grep -q '^total ' $b/raw/${NAME[$y]}/vmm-output.txt; then
      $TOOLS/finalize.sh $x $b ${NAME[$x]} $attempt; t=$(date +%H%M); mv $TOP/${NAME[$x]} $TOP/$t-$pr-${NAME[$x]}
      $TOOLS/finalize.sh $y $b ${NAME[$y]} $attempt; mv $TOP/${NAME[$y]} $TOP/$t-$pr-${NAME[$y]}
      echo "$(date +%T) pair $pr OK" | tee -a $TOP/load.log; break
    fi
    echo "pair $pr attempt $attempt FAILED"; tail -5 $b.log
    q=$(pgrep -f "drive file=$b/disk.img" || true); [ -n "$q" ] && kill $q
  done
done
