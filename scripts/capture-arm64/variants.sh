#!/bin/sh
# variants.sh VARIANT - runs inside the arm64 L1 guest (copied to /capture/variants.sh in the initramfs).
# One VMM run per variant, recorded at the same time by
#   (1) a tracefs instance "cap" (record-tgid on)  -> trace.txt (raw 'trace' file), then
#       trace-cmd extract -B cap -> trace.dat, trace-cmd report -> trace-cmd-report.txt   (same events)
#   (2) perf record -a -e 'kvm:*' -e sched:sched_switch -e sched:sched_wakeup -> perf.data, perf script -> perf-script.txt
#   (3) perf kvm stat record -a -> perf-kvm.data, perf kvm -i perf-kvm.data stat report -> perf-kvm-stat-report.txt
# Variant S = smoke test: the VMM alone (no recording), small scale.
# Variant W = as D, with two busy shell loops running meanwhile: KVM (arm.c, kvm_arch_vcpu_load) clears HCR_EL2.TWE
#   only while the vCPU thread is the only runnable task on its CPU, so on hardware WFE would trap. Tried: it does
#   not under QEMU TCG (wfe_exit_stat=0): TCG's A-profile WFE helper yields without ever taking the HCR_EL2.TWE
#   trap (and is a plain NOP with -accel tcg,thread=multi), so no capture made this way can show a trapped WFE.
v=$1
VMM=/vmm/vmm
T=/sys/kernel/tracing
EVENTS="kvm/kvm_exit kvm/kvm_entry kvm/kvm_vcpu_wakeup kvm/kvm_halt_poll_ns kvm/kvm_wfx_arm64 kvm/kvm_hvc_arm64
 kvm/kvm_mmio kvm/kvm_mmio_emulate kvm/kvm_userspace_exit kvm/kvm_sys_access kvm/kvm_handle_sys_reg kvm/kvm_timer_update_irq
 kvm/kvm_timer_hrtimer_expire kvm/kvm_timer_emulate kvm/kvm_irq_line kvm/vgic_update_irq_pending kvm/kvm_guest_fault
 sched/sched_switch sched/sched_wakeup"
case $v in
  S) echo "smoke: vmm -v 2 -n ${SN:-0.002} -s"; timeout 300 $VMM -v 2 -n ${SN:-0.002} -s; echo "vmm rc=$?"; exit 0 ;;
  D) name=D-small;     args="-v 2 -n ${DN:-0.01} -s"; buf=16384 ;;
  A) name=A-baseline;  args="-v 2 -n ${AN:-0.05} -s"; buf=65536 ;;
  C) name=C-haltpoll-off; args="-v 2 -n ${AN:-0.05} -s -p 0"; buf=65536 ;;
  W) name=W-wfe-trapped; args="-v 2 -n ${DN:-0.01} -s"; buf=16384; busy=2 ;;   # + 2 busy loops: WFE traps
  *) echo "unknown variant $v"; exit 1 ;;
esac
name=$name${NAMESUFFIX:-}
O=/out/$name; mkdir -p $O
echo "$args" > $O/vmm-args.txt
echo "variant $v ($name): vmm $args"
I=$T/instances/cap
mkdir $I
echo 0 > $I/tracing_on
echo $buf > $I/buffer_size_kb
echo 1 > $I/options/record-tgid
echo local > $I/trace_clock
for e in $EVENTS; do echo 1 > $I/events/$e/enable 2>/dev/null || echo "cannot enable $e" | tee -a $O/ftrace-missing-events.txt; done
cat $I/set_event > $O/ftrace-set_event.txt

perf record -a -m 4096 -e 'kvm:*' -e sched:sched_switch -e sched:sched_wakeup -o $O/perf.data > $O/perf-record.log 2>&1 &
p1=$!
perf kvm stat record -a -o $O/perf-kvm.data > $O/perf-kvm-stat-record.log 2>&1 &
p2=$!
sleep 5
echo 1 > $I/tracing_on
t0=$(date +%s)
bpids=
for i in $(seq 1 ${busy:-0}); do sh -c 'while :; do :; done' & bpids="$bpids $!"; done
[ -n "$bpids" ] && echo "busy loops:$bpids" | tee $O/busy-loops.txt
timeout 900 $VMM -m $I/trace_marker $args > $O/vmm-output.txt 2>&1
echo "vmm rc=$? ($(( $(date +%s) - t0 )) s)"
[ -n "$bpids" ] && kill $bpids
echo 0 > $I/tracing_on
sleep 1
kill -INT $p1 $p2; wait $p1; wait $p2
cat $O/vmm-output.txt
cp $I/trace $O/trace.txt
cat $I/per_cpu/cpu*/stats > $O/ftrace-per-cpu-stats.txt
echo 0 > $I/events/enable
trace-cmd extract -B cap -o $O/trace.dat > $O/trace-cmd-extract.log 2>&1
echo "trace-cmd extract rc=$?"
[ -d $I ] && rmdir $I
t0=$(date +%s)
trace-cmd report -i $O/trace.dat > $O/trace-cmd-report.txt 2> $O/trace-cmd-report.log
echo "trace-cmd report rc=$? ($(( $(date +%s) - t0 )) s)"
t0=$(date +%s)
perf script -i $O/perf.data > $O/perf-script.txt 2> $O/perf-script.log
echo "perf script rc=$? ($(( $(date +%s) - t0 )) s)"
t0=$(date +%s)
: > $O/perf-kvm-stat-report.txt
for o in "" "--vcpu=0" "--vcpu=1"; do
  echo "### perf kvm -i perf-kvm.data stat report --event=vmexit${o:+ $o}" >> $O/perf-kvm-stat-report.txt
  perf kvm -i $O/perf-kvm.data stat report --event=vmexit $o >> $O/perf-kvm-stat-report.txt 2>&1 || echo "(exit status $?)" >> $O/perf-kvm-stat-report.txt
done
perf script --ns -i $O/perf-kvm.data > $O/perf-kvm-script.txt 2> $O/perf-kvm-script.log
echo "perf kvm stat report ($(( $(date +%s) - t0 )) s)"
head -40 $O/perf-kvm-stat-report.txt
