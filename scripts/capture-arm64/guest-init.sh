#!/bin/busybox sh
# /init of the arm64 L1 guest (Debian arm64 kernel at EL2 under QEMU TCG, -M virt,virtualization=on -cpu max).
# Records the KVM mode (VHE / nVHE / protected), runs the capture variants named on the kernel command line
# (a64cap.variants=D,A,...), writes everything as a tar archive to the raw virtio disk /dev/vda, powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing; mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /tmp /out; mount -t tmpfs -o size=1200m tmpfs /out
echo "L1: kernel $(uname -r) cpus $(nproc) mem $(awk '/MemTotal/{print $2}' /proc/meminfo) kB"
echo "L1: cmdline $(cat /proc/cmdline)"
for m in virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko >> /out/l1-insmod.log 2>&1 || echo "insmod $m failed: $?" >> /out/l1-insmod.log
done
sleep 1
{
  echo "### uname -a"; uname -a
  echo "### /proc/cmdline"; cat /proc/cmdline
  echo "### /proc/cpuinfo (cpu0)"; sed -n '1,/^$/p' /proc/cpuinfo
  echo "### dmesg | grep -i -E 'kvm|hyp|el2|vhe|gic|arch_timer|psci|cpu features'"
  dmesg | grep -i -E 'kvm|hyp|el2|vhe|gic|arch_timer|psci|cpu features|virtio'
  echo "### /sys/module/kvm/parameters"; for f in /sys/module/kvm/parameters/*; do echo "$f=$(cat $f 2>&1)"; done
  echo "### probe (KVM_CHECK_EXTENSION)"; /vmm/probe
  for e in kvm_exit kvm_entry kvm_wfx_arm64 kvm_hvc_arm64; do
    echo "### /sys/kernel/tracing/events/kvm/$e/format"; cat /sys/kernel/tracing/events/kvm/$e/format
  done
  echo "### kvm events available"; ls /sys/kernel/tracing/events/kvm
  echo "### perf --version"; perf --version
  echo "### trace-cmd --version"; trace-cmd --version 2>&1 | head -3
} > /out/l1-info.txt 2>&1
grep -i -E 'kvm \[|hyp|VHE' /out/l1-info.txt | head -20
ls -l /dev/kvm /dev/vda 2>&1
variants=$(sed -n 's/.*a64cap.variants=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
for kv in $(cat /proc/cmdline); do case $kv in a64cap.env.*) export "${kv#a64cap.env.}";; esac; done
for v in $variants; do
  echo "L1: === variant $v start $(date +%s)"
  sh /capture/variants.sh $v 2>&1 | tee /out/log-$v.txt
  echo "L1: === variant $v end $(date +%s)"
done
dmesg > /out/l1-dmesg.txt
echo "L1: writing tar to /dev/vda"
(cd /out && tar -cf /dev/vda .) && echo "L1: TAR OK $(du -sk /out | cut -f1) kB"
sync
echo "L1: DONE"
poweroff -f
