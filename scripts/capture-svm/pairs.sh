#!/bin/bash
# pairs.sh PAIR...   (PAIR = XY, e.g. AB HI JK MN OP UV WY SZ AF AC: variant X, then variant Y, in ONE L1 boot)
# Before/after pairs for the lever models (issue 19): both runs of a pair in the same boot, back to back, so
# that they meet the machine as alike as it allows. The 1/5/15-minute load average at the start and end of
# every boot goes to $CAPTURE_OUT/load.log. A boot whose L1 console stays silent for 150 s (QEMU TCG + nested
# SVM now and then wedges the L1 kernel) is killed and made again, up to 3 times. Each finished pair is
# finalized into $CAPTURE_OUT/HHMM-XY-<name>/ (finalize.sh). Environment as make-captures.sh.
set -uo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)
TOP=${CAPTURE_OUT:-$PWD/svm-captures}; mkdir -p "$TOP/build"
export CAPTURE_OUT=$(cd "$TOP" && pwd); TOP=$CAPTURE_OUT
command -v qemu-system-x86_64 >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-system-x86 >/dev/null; } || { echo "cannot install qemu-system-x86"; exit 1; }
declare -A NAME=([A]=A-baseline [B]=B-disable-exits [C]=C-haltpoll-off [F]=F-haltpoll-2ms [H]=H-idle-mix [I]=I-idle-mix-cpupm [J]=J-busy-mix [K]=K-busy-mix-cpupm [M]=M-small [N]=N-small-cpupm [O]=O-one-vcpu [P]=P-one-vcpu-cpupm [U]=U-short-io [V]=V-short-io-cpupm [W]=W-long-msr [Y]=Y-long-msr-cpupm [S]=S-one-vcpu-idle [Z]=L-one-vcpu-idle-cpupm)
[ -f $TOP/build/initramfs.cpio ] || $TOOLS/build-initramfs.sh > $TOP/build/build-initramfs.log 2>&1 || { echo "initramfs build failed"; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
for pr in "$@"; do
  x=${pr:0:1}; y=${pr:1:1}
  [ -n "${NAME[$x]:-}" ] && [ -n "${NAME[$y]:-}" ] || { echo "unknown pair $pr"; exit 1; }
  for attempt in 1 2 3; do
    b=$TOP/build/boot-$pr-$attempt; rm -rf $b; mkdir -p $b
    echo "$(date +%T) pair $x,$y attempt $attempt load: $(load)" | tee -a $TOP/load.log
    timeout -k 5 700 $TOOLS/run-qemu.sh $x,$y $b > $b.log 2>&1 &
    run=$!
    # the watchdog: a console silent for 150 s is a wedged L1
    while kill -0 $run 2>/dev/null; do
      sleep 10
      c=$b/console.log
      if [ -f $c ] && [ $(( $(date +%s) - $(stat -c %Y $c) )) -gt 150 ]; then
        echo "$(date +%T) pair $pr attempt $attempt: console silent 150 s, killed" | tee -a $TOP/load.log
        pkill -f "drive file=$b/disk.img"
      fi
    done
    wait $run; rc=$?
    echo "$(date +%T) pair $x,$y attempt $attempt rc=$rc end load: $(load)" | tee -a $TOP/load.log
    if [ $rc = 0 ] && grep -q 'L1: DONE' $b/console.log && grep -q '^total ' $b/raw/${NAME[$x]}/vmm-output.txt && grep -q '^total ' $b/raw/${NAME[$y]}/vmm-output.txt; then
      t=$(date +%H%M)
      $TOOLS/finalize.sh $x $b ${NAME[$x]} $attempt; mv $TOP/${NAME[$x]} $TOP/$t-$pr-${NAME[$x]}
      $TOOLS/finalize.sh $y $b ${NAME[$y]} $attempt; mv $TOP/${NAME[$y]} $TOP/$t-$pr-${NAME[$y]}
      echo "$(date +%T) pair $pr OK" | tee -a $TOP/load.log; break
    fi
    echo "pair $pr attempt $attempt FAILED"; tail -5 $b.log
    pkill -f "drive file=$b/disk.img" || true
  done
done
