#!/bin/bash
# one.sh VARIANT NAME: one variant in one boot (G: two VMs)
set -uo pipefail
TOOLS=/tmp/levers3-tools; export CAPTURE_OUT=/tmp/levers3-cap; TOP=$CAPTURE_OUT
v=$1; name=$2
for attempt in 1 2 3; do
  b=$TOP/build/boot-$v-$attempt; rm -rf $b
  echo "$(date +%T) variant $v attempt $attempt load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $TOP/load.log
  timeout -k 5 500 $TOOLS/run-qemu.sh $v $b > $b.log 2>&1; rc=$?
  echo "$(date +%T) variant $v attempt $attempt rc=$rc end load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $TOP/load.log
  if [ $rc = 0 ] && grep -q 'L1: DONE' $b/console.log && grep -q '^total ' $b/raw/$name/vmm2-output.txt; then
    $TOOLS/finalize.sh $v $b $name $attempt; echo "$(date +%T) $v OK" | tee -a $TOP/load.log; break
  fi
  q=$(pgrep -f "drive file=$b/disk.img" || true); [ -n "$q" ] && kill $q
done
