// probe.c: KVM API version and the capabilities that matter for arm64 exit-tax analysis (KVM_CHECK_EXTENSION).
#include <stdio.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
static const struct { int cap; const char *name; } caps[] = {
  {KVM_CAP_ARM_PSCI_0_2, "ARM_PSCI_0_2"}, {KVM_CAP_ARM_PMU_V3, "ARM_PMU_V3"}, {KVM_CAP_ARM_EL1_32BIT, "ARM_EL1_32BIT"},
  {KVM_CAP_ARM_VM_IPA_SIZE, "ARM_VM_IPA_SIZE"}, {KVM_CAP_ARM_PTRAUTH_ADDRESS, "ARM_PTRAUTH_ADDRESS"},
  {KVM_CAP_ARM_SVE, "ARM_SVE"}, {KVM_CAP_ARM_MTE, "ARM_MTE"}, {KVM_CAP_HALT_POLL, "HALT_POLL"},
  {KVM_CAP_NR_VCPUS, "NR_VCPUS"}, {KVM_CAP_MAX_VCPUS, "MAX_VCPUS"}, {KVM_CAP_BINARY_STATS_FD, "BINARY_STATS_FD"},
  {KVM_CAP_IRQCHIP, "IRQCHIP"}, {KVM_CAP_DEVICE_CTRL, "DEVICE_CTRL"},
};
int main(void) {
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC); if (kvm < 0) { perror("open /dev/kvm"); return 1; }
  printf("KVM_GET_API_VERSION=%d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
  for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    int r = ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap);
    printf("CHECK_EXTENSION %-20s(%3d) = %d\n", caps[i].name, caps[i].cap, r);
  }
  printf("VCPU_MMAP_SIZE=%d\n", ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0));
  return 0;
}
