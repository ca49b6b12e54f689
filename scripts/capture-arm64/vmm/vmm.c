/*
 * vmm.c - minimal arm64 KVM VMM for exit-tax captures (see README.md in this folder).
 * build: make CROSS=aarch64-linux-gnu-   (guest.S -> guest.bin at 0x40000000, vmm static)
 *
 * usage: vmm [-v vcpus(1|2)] [-p halt_poll_ns_per_vm] [-w phases] [-n scale] [-s] [-m trace_marker_path] [-g guest.bin]
 *   -w LIST : comma list of phases: hvc,mmio_write,mmio_read,sysreg,wfi_short,wfi_long,wfe,ipi (default: all)
 *   -p NS   : KVM_ENABLE_CAP(KVM_CAP_HALT_POLL, NS) per-VM halt-polling max (0 = off)
 *   -s      : print the vCPUs' KVM binary stats (KVM_GET_STATS_FD) at the end
 * The VM: RAM at 0x40000000 (16 MiB), in-kernel GICv3 (distributor 0x08000000, redistributors 0x080a0000),
 * the in-kernel arch timer (virtual timer PPI 27), PSCI 0.2, and one userspace MMIO device at 0x0a000000:
 *   +0x00 phase begin, +0x08 phase end, +0x10 done, +0x18 write (work), +0x20 read (work),
 *   +0x30/+0x38/+0x40 unexpected guest exception (ESR_EL1, ELR_EL1, vector index).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/kvm.h>

#define RAM_BASE   0x40000000ull
#define RAM_SIZE   (16u << 20)
#define PARAMS_OFF 0x100000
#define GICD_BASE  0x08000000ull
#define GICR_BASE  0x080a0000ull
#define DEV_BASE   0x0a000000ull

static const char *phase_names[] = {"?", "hvc", "mmio_write", "mmio_read", "sysreg", "wfi_short", "wfi_long", "wfe", "ipi"};
static int kvm_fd, vm_fd, nvcpus = 2, run_size, marker_fd = -1, print_stats;
static uint8_t *mem;
static pthread_barrier_t start_barrier;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void die(const char *m) { perror(m); exit(1); }
static void marker(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void marker(const char *fmt, ...) {
  char b[256]; va_list ap; va_start(ap, fmt); int n = vsnprintf(b, sizeof b, fmt, ap); va_end(ap);
  if (marker_fd >= 0) { if (write(marker_fd, b, n) < 0) {} }
}

struct vcpu { int id, fd; pid_t tid; struct kvm_run *run; pthread_t th; uint64_t mmio_w, mmio_r, esr, elr; };
static struct vcpu vcpus[2];

static void dump_stats(struct vcpu *v) {
  int sfd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
  if (sfd < 0) { perror("KVM_GET_STATS_FD"); return; }
  struct kvm_stats_header h;
  if (pread(sfd, &h, sizeof h, 0) != sizeof h) { close(sfd); return; }
  size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
  char *descs = malloc(dsz * h.num_desc);
  if (pread(sfd, descs, dsz * h.num_desc, h.desc_offset) < 0) { free(descs); close(sfd); return; }
  printf("KVM stats vcpu%d:", v->id);
  for (unsigned i = 0; i < h.num_desc; i++) {
    struct kvm_stats_desc *d = (void *)(descs + i * dsz);
    if (d->size != 1) continue;
    uint64_t val; if (pread(sfd, &val, 8, h.data_offset + d->offset) != 8) continue;
    if (val || strstr(d->name, "halt") || strstr(d->name, "exit")) printf(" %s=%llu", d->name, (unsigned long long)val);
  }
  printf("\n"); free(descs); close(sfd);
}

static void *vcpu_thread(void *arg) {
  struct vcpu *v = arg; v->tid = syscall(SYS_gettid);
  pthread_barrier_wait(&start_barrier);
  double pb = 0;
  for (;;) {
    int r = ioctl(v->fd, KVM_RUN, 0);
    if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue; fprintf(stderr, "vcpu%d KVM_RUN: %s\n", v->id, strerror(errno)); exit(1); }
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO: {
      uint64_t off = run->mmio.phys_addr - DEV_BASE, val = 0;
      if (!run->mmio.is_write) { v->mmio_r++; memset(run->mmio.data, 0, sizeof run->mmio.data); run->mmio.data[0] = 0x5a; break; }
      memcpy(&val, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
      const char *pn = val < 9 ? phase_names[val] : "?";
      switch (off) {
      case 0x00: pb = now(); marker("vmm: vcpu%d phase %s begin\n", v->id, pn); break;
      case 0x08: marker("vmm: vcpu%d phase %s end\n", v->id, pn); printf("vcpu%d phase %-10s %.3f ms\n", v->id, pn, (now() - pb) * 1e3); fflush(stdout); break;
      case 0x10: printf("vcpu%d done\n", v->id); fflush(stdout); return NULL;
      case 0x18: v->mmio_w++; break;
      case 0x30: v->esr = val; break;
      case 0x38: v->elr = val; break;
      case 0x40: fprintf(stderr, "vcpu%d: guest exception, vector %llu ESR_EL1 0x%llx ELR_EL1 0x%llx\n", v->id,
                         (unsigned long long)val, (unsigned long long)v->esr, (unsigned long long)v->elr); exit(2);
      default: fprintf(stderr, "vcpu%d: MMIO write to unknown 0x%llx\n", v->id, (unsigned long long)run->mmio.phys_addr);
      }
      break; }
    case KVM_EXIT_SYSTEM_EVENT: fprintf(stderr, "vcpu%d: SYSTEM_EVENT type %u\n", v->id, run->system_event.type); exit(3);
    case KVM_EXIT_INTERNAL_ERROR: fprintf(stderr, "vcpu%d: INTERNAL_ERROR suberror %u\n", v->id, run->internal.suberror); exit(5);
    case KVM_EXIT_FAIL_ENTRY: fprintf(stderr, "vcpu%d: FAIL_ENTRY 0x%llx\n", v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason); exit(6);
    default: fprintf(stderr, "vcpu%d: unhandled exit reason %u\n", v->id, run->exit_reason); exit(7);
    }
  }
}

static void set_reg(int fd, uint64_t id, uint64_t val) {
  struct kvm_one_reg r = { .id = id, .addr = (uint64_t)&val };
  if (ioctl(fd, KVM_SET_ONE_REG, &r)) die("KVM_SET_ONE_REG");
}
#define CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, x) / sizeof(uint32_t)))

static void dev_attr(int fd, uint32_t group, uint64_t attr, void *addr) {
  struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)addr };
  if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a)) { fprintf(stderr, "KVM_SET_DEVICE_ATTR group %u attr %llu: %s\n", group, (unsigned long long)attr, strerror(errno)); exit(1); }
}

int main(int argc, char **argv) {
  long halt_poll = -1; const char *phases = "hvc,mmio_write,mmio_read,sysreg,wfi_short,wfi_long,wfe,ipi";
  double scale = 1; const char *guest_bin = NULL; int opt;
  while ((opt = getopt(argc, argv, "v:p:w:n:sm:g:")) != -1) switch (opt) {
    case 'v': nvcpus = atoi(optarg); break;
    case 'p': halt_poll = strtol(optarg, 0, 0); break;
    case 'w': phases = optarg; break;
    case 'n': scale = atof(optarg); break;
    case 's': print_stats = 1; break;
    case 'm': marker_fd = open(optarg, O_WRONLY); if (marker_fd < 0) die(optarg); break;
    case 'g': guest_bin = optarg; break;
    default: fprintf(stderr, "see the source header for usage\n"); return 1; }
  if (nvcpus < 1 || nvcpus > 2) nvcpus = 1;
  if (!guest_bin) { static char p[4096]; snprintf(p, sizeof p, "%s", argv[0]); char *s = strrchr(p, '/'); if (s) strcpy(s + 1, "guest.bin"); else strcpy(p, "guest.bin"); guest_bin = p; }

  kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC); if (kvm_fd < 0) die("/dev/kvm");
  vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0); if (vm_fd < 0) die("KVM_CREATE_VM");
  if (halt_poll >= 0) {
    struct kvm_enable_cap c; memset(&c, 0, sizeof c); c.cap = KVM_CAP_HALT_POLL; c.args[0] = halt_poll;
    int r = ioctl(vm_fd, KVM_ENABLE_CAP, &c);
    printf("KVM_ENABLE_CAP(HALT_POLL, %ld) = %d%s%s\n", halt_poll, r, r ? " " : "", r ? strerror(errno) : "");
    if (r) return 1;
  }
  mem = mmap(0, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)mem };
  if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &reg)) die("KVM_SET_USER_MEMORY_REGION");
  FILE *f = fopen(guest_bin, "rb"); if (!f) die(guest_bin);
  size_t gsz = fread(mem, 1, PARAMS_OFF, f); fclose(f);
  printf("guest image %zu bytes\n", gsz);

  uint64_t cntfrq; __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(cntfrq));
  uint32_t *P = (uint32_t *)(mem + PARAMS_OFF);
#define HAS(p) (strstr(phases, p) != NULL)
  P[0] = HAS("hvc") ? 20000 * scale : 0;
  P[1] = HAS("mmio_write") ? 5000 * scale : 0;
  P[2] = HAS("mmio_read") ? 5000 * scale : 0;
  P[3] = HAS("sysreg") ? 10000 * scale : 0;
  P[4] = HAS("wfi_short") ? 2000 * scale : 0;
  P[5] = HAS("wfi_long") ? 500 * scale : 0;
  P[6] = HAS("wfe") ? 10000 * scale : 0;
  P[7] = HAS("ipi") ? 2000 * scale : 0;
  P[8] = nvcpus;
  *(uint64_t *)(mem + PARAMS_OFF + 40) = cntfrq / 20000;   /* wfi_short: 50 us */
  *(uint64_t *)(mem + PARAMS_OFF + 48) = cntfrq / 1000;    /* wfi_long: 1 ms */
  printf("cntfrq %llu Hz; counts hvc %u mmio_write %u mmio_read %u sysreg %u wfi_short %u wfi_long %u wfe %u ipi %u\n",
         (unsigned long long)cntfrq, P[0], P[1], P[2], P[3], P[4], P[5], P[6], nvcpus > 1 ? P[7] : 0);

  struct kvm_vcpu_init init; memset(&init, 0, sizeof init);
  if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init)) die("KVM_ARM_PREFERRED_TARGET");
  init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
  run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  for (int i = 0; i < nvcpus; i++) {
    struct vcpu *v = &vcpus[i]; v->id = i;
    v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, i); if (v->fd < 0) die("KVM_CREATE_VCPU");
    if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init)) die("KVM_ARM_VCPU_INIT");
    v->run = mmap(0, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0); if (v->run == MAP_FAILED) die("mmap run");
    set_reg(v->fd, CORE_REG(regs.pc), RAM_BASE);
    set_reg(v->fd, CORE_REG(regs.regs[0]), i);
  }
  /* in-kernel GICv3, after the vCPUs exist */
  struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
  if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd)) die("KVM_CREATE_DEVICE(VGIC_V3)");
  uint64_t a = GICD_BASE; dev_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &a);
  a = GICR_BASE; dev_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &a);
  uint32_t nirq = 64; dev_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nirq);
  dev_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);

  if (pthread_barrier_init(&start_barrier, NULL, nvcpus + 1)) die("barrier");
  for (int i = 0; i < nvcpus; i++) if (pthread_create(&vcpus[i].th, NULL, vcpu_thread, &vcpus[i])) die("pthread_create");
  printf("vmm pid %d\n", getpid()); fflush(stdout);
  double t0 = now();
  pthread_barrier_wait(&start_barrier);
  printf("vcpu tids:"); for (int i = 0; i < nvcpus; i++) printf(" %d", vcpus[i].tid); printf("\n"); fflush(stdout);
  marker("vmm: start pid %d vcpus %d\n", getpid(), nvcpus);
  for (int i = 0; i < nvcpus; i++) pthread_join(vcpus[i].th, NULL);
  marker("vmm: end\n");
  printf("total %.3f ms\n", (now() - t0) * 1e3);
  for (int i = 0; i < nvcpus; i++) printf("vcpu%d userspace MMIO: writes %llu reads %llu\n", i,
      (unsigned long long)vcpus[i].mmio_w, (unsigned long long)vcpus[i].mmio_r);
  if (print_stats) for (int i = 0; i < nvcpus; i++) dump_stats(&vcpus[i]);
  return 0;
}
