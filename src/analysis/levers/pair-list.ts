/**
 * The real before/after pairs the lever models are calibrated on: folders in traces/ (each with the
 * capture's README.txt and vmm-output.txt; provenance in traces/README.md).
 */
export interface PairSpec {
  name: string;
  /** cpu-pm | haltpoll-2ms | haltpoll-off */
  lever: string;
  from: string;
  to: string;
  /** the vCPU threads shared host CPUs (SMP=1: overcommitted): not used to fit the narrow range */
  shared: boolean;
  what: string;
}

export const PAIR_LIST: PairSpec[] = [
  { name: 'A->B', lever: 'cpu-pm', from: 'svm-A-baseline', to: 'svm-B-disable-exits', shared: false, what: 'all phases, scale 0.25, 2 vCPUs' },
  { name: 'H->I', lever: 'cpu-pm', from: 'svm-H-idle-mix', to: 'svm-I-idle-mix-cpupm', shared: false, what: 'idle mix (hlt_short, hlt_long, ipi), scale 0.5' },
  { name: 'J->K', lever: 'cpu-pm', from: 'svm-J-busy-mix', to: 'svm-K-busy-mix-cpupm', shared: false, what: 'busy mix (no hlt phases), scale 0.25' },
  { name: 'M->N', lever: 'cpu-pm', from: 'svm-M-small', to: 'svm-N-small-cpupm', shared: false, what: 'all phases, scale 0.05' },
  { name: 'O->P', lever: 'cpu-pm', from: 'svm-O-one-vcpu', to: 'svm-P-one-vcpu-cpupm', shared: false, what: 'one vCPU, all phases but ipi, scale 0.25' },
  { name: 'A2->B2', lever: 'cpu-pm', from: 'svm-rep-A-baseline', to: 'svm-rep-B-disable-exits', shared: false, what: 'A->B again (run-to-run spread)' },
  { name: 'H2->I2', lever: 'cpu-pm', from: 'svm-rep-H-idle-mix', to: 'svm-rep-I-idle-mix-cpupm', shared: false, what: 'H->I again (run-to-run spread)' },
  { name: 'J2->K2', lever: 'cpu-pm', from: 'svm-rep2-J-busy-mix', to: 'svm-rep2-K-busy-mix-cpupm', shared: false, what: 'J->K again' },
  { name: 'O2->P2', lever: 'cpu-pm', from: 'svm-rep2-O-one-vcpu', to: 'svm-rep2-P-one-vcpu-cpupm', shared: false, what: 'O->P again' },
  { name: 'M2->N2', lever: 'cpu-pm', from: 'svm-rep2-M-small', to: 'svm-rep2-N-small-cpupm', shared: false, what: 'M->N again' },
  { name: 's3-1514 O->P', lever: 'cpu-pm', from: 'svm-s3-1514-O-one-vcpu', to: 'svm-s3-1514-P-one-vcpu-cpupm', shared: false, what: 'O->P again (one vCPU, all phases but ipi, scale 0.25); one boot, back to back from 15:13:32 (load 6.45 -> 5.64)' },
  { name: 's3-1515 S->L', lever: 'cpu-pm', from: 'svm-s3-1515-S-one-vcpu-idle', to: 'svm-s3-1515-L-one-vcpu-idle-cpupm', shared: false, what: 'one vCPU: hlt_short, hlt_long, cpuid, scale 0.5 (new mix); one boot, back to back from 15:14:39 (load 6.00 -> 7.06)' },
  { name: 's3-1516 U->V', lever: 'cpu-pm', from: 'svm-s3-1516-U-short-io', to: 'svm-s3-1516-V-short-io-cpupm', shared: false, what: '2 vCPUs: hlt_short, pio, scale 0.25 (new mix); one boot, back to back from 15:16:00 (load 6.73 -> 5.79)' },
  { name: 's3-1517 W->Y', lever: 'cpu-pm', from: 'svm-s3-1517-W-long-msr', to: 'svm-s3-1517-Y-long-msr-cpupm', shared: false, what: '2 vCPUs: hlt_long, msr, cpuid, scale 0.25 (new mix); one boot, back to back from 15:16:51 (load 5.79 -> 4.71)' },
  { name: 's3-1519 O->P', lever: 'cpu-pm', from: 'svm-s3-1519-O-one-vcpu', to: 'svm-s3-1519-P-one-vcpu-cpupm', shared: false, what: 'O->P again (one vCPU, all phases but ipi, scale 0.25); one boot, back to back from 15:17:43 (load 5.77 -> 13.37)' },
  { name: 's3-1525 A->B', lever: 'cpu-pm', from: 'svm-s3-1525-A-baseline', to: 'svm-s3-1525-B-disable-exits', shared: false, what: 'A->B again (all phases, scale 0.25, 2 vCPUs); one boot, back to back from 15:20:12 (load 25.32 -> 24.22)' },
  { name: 's3-1528 H->I', lever: 'cpu-pm', from: 'svm-s3-1528-H-idle-mix', to: 'svm-s3-1528-I-idle-mix-cpupm', shared: false, what: 'H->I again (idle mix); one boot, back to back from 15:25:40 (load 17.64 -> 25.91)' },
  { name: 's3-1531 J->K', lever: 'cpu-pm', from: 'svm-s3-1531-J-busy-mix', to: 'svm-s3-1531-K-busy-mix-cpupm', shared: false, what: 'J->K again (busy mix); one boot, back to back from 15:28:41 (load 20.10 -> 24.60)' },
  { name: 's3-1535 M->N', lever: 'cpu-pm', from: 'svm-s3-1535-M-small', to: 'svm-s3-1535-N-small-cpupm', shared: false, what: 'M->N again (all phases, scale 0.05); one boot, back to back from 15:33:30 (load 14.59 -> 24.47)' },
  { name: 's3-1539 S->L', lever: 'cpu-pm', from: 'svm-s3-1539-S-one-vcpu-idle', to: 'svm-s3-1539-L-one-vcpu-idle-cpupm', shared: false, what: 'one vCPU: hlt_short, hlt_long, cpuid, scale 0.5 (new mix); one boot, back to back from 15:35:42 (load 26.15 -> 23.00)' },
  { name: 's3-1542 U->V', lever: 'cpu-pm', from: 'svm-s3-1542-U-short-io', to: 'svm-s3-1542-V-short-io-cpupm', shared: false, what: '2 vCPUs: hlt_short, pio, scale 0.25 (new mix); one boot, back to back from 15:39:12 (load 20.49 -> 19.81)' },
  { name: 's3-1544 W->Y', lever: 'cpu-pm', from: 'svm-s3-1544-W-long-msr', to: 'svm-s3-1544-Y-long-msr-cpupm', shared: false, what: '2 vCPUs: hlt_long, msr, cpuid, scale 0.25 (new mix); one boot, back to back from 15:42:12 (load 21.91 -> 21.04)' },
  { name: 's3-1546 O->P', lever: 'cpu-pm', from: 'svm-s3-1546-O-one-vcpu', to: 'svm-s3-1546-P-one-vcpu-cpupm', shared: false, what: 'O->P again (one vCPU, all phases but ipi, scale 0.25); one boot, back to back from 15:44:04 (load 21.20 -> 16.15)' },
  { name: 's3-1549 A->B', lever: 'cpu-pm', from: 'svm-s3-1549-A-baseline', to: 'svm-s3-1549-B-disable-exits', shared: false, what: 'A->B again (all phases, scale 0.25, 2 vCPUs); one boot, back to back from 15:47:03 (load 16.83 -> 24.79)' },
  { name: 's3-1554 H->I', lever: 'cpu-pm', from: 'svm-s3-1554-H-idle-mix', to: 'svm-s3-1554-I-idle-mix-cpupm', shared: false, what: 'H->I again (idle mix); one boot, back to back from 15:50:13 (load 29.21 -> 22.81)' },
  { name: 'smp1 M->N', lever: 'cpu-pm', from: 'svm1-M-small', to: 'svm1-N-small-cpupm', shared: true, what: 'SMP=1: both vCPUs on one host CPU, scale 0.05' },
  { name: 'smp1 A->B', lever: 'cpu-pm', from: 'svm1-A-baseline', to: 'svm1-B-disable-exits', shared: true, what: 'SMP=1: both vCPUs on one host CPU, scale 0.25' },
  { name: 'A->F', lever: 'haltpoll-2ms', from: 'svm-A-baseline', to: 'svm-F-haltpoll-2ms', shared: false, what: 'per-VM halt-poll max 2 ms' },
  { name: 'A2->F2', lever: 'haltpoll-2ms', from: 'svm-rep-A-baseline', to: 'svm-rep2-F-haltpoll-2ms', shared: false, what: 'per-VM halt-poll max 2 ms (baseline and 2 ms run from two later batches)' },
  { name: 'A->C', lever: 'haltpoll-off', from: 'svm-A-baseline', to: 'svm-C-haltpoll-off', shared: false, what: 'per-VM halt polling off' },
];
