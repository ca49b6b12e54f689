#!/bin/bash
# finalize.sh BOOTDIR NAME - copies one capture out of the L1 tar (BOOTDIR/raw/NAME) into $CAPTURE_OUT/NAME and adds
# the host-side files:
#   perf-script.txt      = perf script --guest-code -i perf.data (this host's perf 6.1). On arm64, perf marks every
#                          sample taken while a vCPU is loaded (kvm_exit, kvm_entry, kvm_wfx_arm64, ...) as
#                          PERF_RECORD_MISC_GUEST_KERNEL, and a plain 'perf script' drops them all; the L1's plain
#                          output is kept as perf-script-l1-plain.txt to show it.
#   perf-kvm-script.txt  = perf script --guest-code --ns -i perf-kvm.data
#   trace-cmd-report-N.txt = trace-cmd report -N (kernel print fmt, no plugins) of the same trace.dat
# then counts.txt (summarize.py) and README.txt (write-readme.sh).
set -euo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)
TOP=${CAPTURE_OUT:-$PWD/arm64-captures}
b=$1; name=$2; D=$TOP/$name
rm -rf $D; mkdir -p $D
cp -a $b/raw/$name/. $D/
cp $b/qemu-cmdline.txt $D/
tr -d '\r' < $b/console.log > $D/console.log
cp $b/raw/l1-info.txt $b/raw/l1-dmesg.txt $D/
mv $D/perf-script.txt $D/perf-script-l1-plain.txt
perf script --guest-code -i $D/perf.data > $D/perf-script.txt 2> $D/perf-script-host.log || true
perf script --guest-code --ns -i $D/perf-kvm.data > $D/perf-kvm-script.txt 2> $D/perf-kvm-script-host.log || true
trace-cmd report -N -i $D/trace.dat > $D/trace-cmd-report-N.txt 2> $D/trace-cmd-report-N.log || true
for f in $D/*.log; do [ -s $f ] || rm -f $f; done
python3 $TOOLS/summarize.py $D
chmod a+r $D/*
$TOOLS/write-readme.sh $b $name
ls -la $D
