#!/bin/bash
# write-readme.sh BOOTDIR NAME - writes $CAPTURE_OUT/NAME/README.txt (how the capture was made, its ground truth)
set -euo pipefail
TOP=${CAPTURE_OUT:-$PWD/arm64-captures}
b=$1; name=$2; D=$TOP/$name
args=$(cat $D/vmm-args.txt)
mode=$(grep -o -E 'kvm \[[0-9]+\]: (VHE mode|Hyp mode|Protected nVHE mode)[^"]*' $D/l1-info.txt | head -1 | sed 's/kvm \[[0-9]*\]: //')
case "$mode" in VHE*) m="VHE (the host kernel runs at EL2; no kvm-arm.mode given)";; Hyp*) m="nVHE (kvm-arm.mode=nvhe: the host kernel at EL1, KVM's hyp code at EL2)";; Protected*) m="protected nVHE, pKVM (kvm-arm.mode=protected)";; *) m="$mode";; esac
{
cat <<EOT
$name
$(echo $name | sed 's/./=/g')
REAL kvm_exit / kvm_entry events of arm64 KVM (Linux 6.1, $m), recorded inside an arm64 Linux guest (L1) that runs
on QEMU's software-emulated EL2:
  host : x86-64 Debian 12 sandbox, 2 CPUs; no KVM used for L1 (QEMU TCG)
  L1   : qemu-system-aarch64 (Debian qemu-system-arm 1:7.2+dfsg-7+deb12u18+b3) -M virt,virtualization=on,gic-version=3
         -cpu max,pauth-impdef=on, 2 vCPUs, 2 GiB (qemu-cmdline.txt); kernel = Debian linux-image-6.1.0-57-arm64 6.1.192-3
         (CONFIG_KVM=y), dmesg: "kvm [1]: $mode"; GICv3 with the system-register CPU interface; initramfs with
         busybox-static 1.35, perf 6.1.192 (linux-perf), trace-cmd 3.1.6 and their libraries (arm64 .debs).
  L2   : scripts/capture-arm64/vmm (vmm.c + guest.S, gcc-aarch64-linux-gnu, static): 2 vCPUs, in-kernel GICv3 and arch
         timer, PSCI 0.2; guest at EL1 with the MMU off. Command: vmm $args -m <instance>/trace_marker
         Phases per vCPU (counts in vmm-output.txt): hvc (HVC #0 PSCI_VERSION), mmio_write / mmio_read (to the VMM's
         device: DABT_LOW + KVM_EXIT_MMIO), sysreg (MRS ID_AA64PFR0_EL1 and ACTLR_EL1: SYS64 traps), wfi_short (virtual
         timer 50 us, WFI), wfi_long (1 ms), wfe (WFE with the event register clear), ipi (vCPU0 -> vCPU1 SGI via
         ICC_SGI1R_EL1, vCPU1 in WFI). Each phase is bracketed by two MMIO writes (phase begin/end markers).
Re-make: scripts/capture-arm64/make-captures.sh (see ../README.md)

Commands run in L1 (scripts/capture-arm64/variants.sh), ONE vmm run recorded by three consumers at the same time:
  I=/sys/kernel/tracing/instances/cap; mkdir \$I; echo <buf> > \$I/buffer_size_kb; echo 1 > \$I/options/record-tgid
  echo local > \$I/trace_clock; enable: $(tr '\n' ' ' < $D/ftrace-set_event.txt)
  perf record -a -m 4096 -e 'kvm:*' -e sched:sched_switch -e sched:sched_wakeup -o perf.data &
  perf kvm stat record -a -o perf-kvm.data &
  sleep 5; echo 1 > \$I/tracing_on; vmm ...; echo 0 > \$I/tracing_on; kill -INT <perf>
  cp \$I/trace trace.txt; trace-cmd extract -B cap -o trace.dat; trace-cmd report -i trace.dat > trace-cmd-report.txt
  perf script -i perf.data > perf-script-l1-plain.txt
  perf kvm -i perf-kvm.data stat report --event=vmexit [--vcpu=0|1] > perf-kvm-stat-report.txt   (the oracle)
On the x86 host afterwards (scripts/capture-arm64/finalize.sh; perf 6.1.187, trace-cmd 3.1.6):
  perf script --guest-code -i perf.data > perf-script.txt
  perf script --guest-code --ns -i perf-kvm.data > perf-kvm-script.txt
  trace-cmd report -N -i trace.dat > trace-cmd-report-N.txt

What to know when reading it:
  - arm64 kvm_exit/kvm_entry carry no vCPU id: a vCPU is its host thread ("vcpu tids" in vmm-output.txt, vCPU0 first).
  - trace-cmd-report.txt was printed by L1's trace-cmd with its kvm plugin, which looks for x86 fields first:
    "kvm_exit: <CANT FIND FIELD exit_reason>TRAP: HSR_EC: 0x0016 (HVC64), PC: ..." and
    "kvm_entry: CAN'T FIND FIELD \"vcpu_id\"<CANT FIND FIELD rip>PC: ...". trace-cmd-report-N.txt is the kernel's text.
  - perf marks samples taken while a vCPU is loaded as guest-kernel samples (PERF_RECORD_MISC_GUEST_KERNEL): a plain
    'perf script' drops every kvm_exit/kvm_entry (perf-script-l1-plain.txt has none); --guest-code keeps them and
    names the thread's comm "[guest/<pid>]". perf kvm stat counts them all.
  - perf kvm stat report --vcpu=N: arm64's kvm_exit has no vcpu field, so perf's per-vCPU reports are not per vCPU
    (--vcpu=0 shows every exit, --vcpu=1 none).
  - WFx: WFI traps (HCR_EL2.TWI); WFE never does here (wfe_exit_stat=0 in vmm-output.txt): KVM 6.1 clears HCR_EL2.TWE
    while the vCPU thread is the only runnable task on its CPU, and QEMU TCG's WFE never takes the TWE trap anyway
    (it yields; a NOP under MTTCG). Every WFx exit here is a WFI (kvm_wfx_arm64 "guest executed wfi").
  - Exits handled entirely in the EL2 fast path (fixup_guest_exit: e.g. FP/SIMD, some sysreg and GIC CPU-interface
    traps) never reach handle_exit and emit no kvm_exit/kvm_entry, in VHE and nVHE alike. KVM's own 'exits' statistic
    counts what reached handle_exit, so it equals the kvm_exit count.
  - Durations are those of nested emulation (QEMU TCG): 50-1000x slower than hardware. Reasons and counts are real.

Ground truth: vmm-output.txt (phase times, KVM binary stats per vCPU: exits, hvc_exit_stat, wfi_exit_stat,
wfe_exit_stat, mmio_exit_user/kernel, halt_*), perf-kvm-stat-report.txt (perf's own report), counts.txt (events
per name and exit reasons per text file, counted by summarize.py), l1-info.txt (kernel, dmesg kvm lines, the
kvm_exit/kvm_entry/kvm_wfx_arm64/kvm_hvc_arm64 format files), console.log.
EOT
} > $D/README.txt
