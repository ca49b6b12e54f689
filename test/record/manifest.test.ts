/** The host manifest, snapshot from crafted /proc and /sys trees with hand-written expectations, and its report hook. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { snapshotManifest, findVmms, descendants, manifestLines, writeManifest, manifestPath } from '../../src/record/manifest.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function tree(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-man-'));
  for (const [f, t] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), t);
  }
  return d;
}

function stat(tid: number, comm: string, cpu: number): string {
  // fields 3..52 after "(comm)"; the 39th field (processor) is index 36 after the comm
  const f: string[] = Array.from({ length: 50 }, (_, i) => (i === 0 ? 'S' : '0'));
  f[36] = String(cpu);
  return `${tid} (${comm}) ${f.join(' ')}\n`;
}

describe('host manifest', () => {
  const proc = tree({
    'cmdline': 'BOOT_IMAGE=/vmlinuz isolcpus=managed_irq,domain,2-3 nohz_full=2-3 mitigations=off quiet\n',
    'cpuinfo': 'processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu svm npt avic x2avic vnmi lm\n\n',
    '4242/comm': 'qemu-system-x86\n',
    '4242/cmdline': 'qemu-system-x86_64\0-enable-kvm\0-smp\x002\0',
    '4242/task/4242/comm': 'qemu-system-x86\n', '4242/task/4242/status': 'Name:\tqemu\nCpus_allowed_list:\t0-3\n', '4242/task/4242/stat': stat(4242, 'qemu-system-x86', 0),
    '4242/task/4250/comm': 'CPU 0/KVM\n', '4242/task/4250/status': 'Cpus_allowed_list:\t2\n', '4242/task/4250/stat': stat(4250, 'CPU 0/KVM', 2),
    '4242/task/4251/comm': 'CPU 1/KVM\n', '4242/task/4251/status': 'Cpus_allowed_list:\t3\n', '4242/task/4251/stat': stat(4251, 'CPU 1/KVM', 3),
  });
  const sys = tree({
    'devices/system/cpu/isolated': '2-3\n', 'devices/system/cpu/nohz_full': '2-3\n',
    'devices/system/cpu/vulnerabilities/spectre_v2': 'Mitigation: Retpolines\n',
    'module/kvm/parameters/halt_poll_ns': '200000\n', 'module/kvm_amd/parameters/avic': 'Y\n', 'module/kvm_amd/parameters/pause_filter_count': '3000\n',
  });

  it('reads the levers\' preconditions', () => {
    const m = snapshotManifest({ pids: [4242], proc, sys });
    expect(m.host.isolcpus).toBe('managed_irq,domain,2-3');
    expect(m.host.nohz_full).toBe('2-3');
    expect(m.host.isolated).toBe('2-3');
    expect(m.host.mitigations).toBe('off');
    expect(m.host.cpu_model).toBe('AMD EPYC 7B13');
    expect(m.virtualization.flags).toEqual(['svm', 'avic', 'x2avic', 'vnmi', 'npt']);
    expect(m.vulnerabilities).toEqual({ spectre_v2: 'Mitigation: Retpolines' });
    expect(m.modules).toEqual({ kvm: { halt_poll_ns: '200000' }, kvm_amd: { avic: 'Y', pause_filter_count: '3000' } });
    expect(m.vmms).toEqual([{
      pid: 4242, comm: 'qemu-system-x86', cmdline: ['qemu-system-x86_64', '-enable-kvm', '-smp', '2'],
      threads: [
        { tid: 4242, comm: 'qemu-system-x86', cpus_allowed: '0-3', last_cpu: 0, vcpu: null },
        { tid: 4250, comm: 'CPU 0/KVM', cpus_allowed: '2', last_cpu: 2, vcpu: 0 },
        { tid: 4251, comm: 'CPU 1/KVM', cpus_allowed: '3', last_cpu: 3, vcpu: 1 },
      ],
    }]);
    const lines = manifestLines('run.dat', m);
    expect(lines).toContain('  kvm: halt_poll_ns=200000');
    expect(lines).toContain('  kvm_amd: avic=Y pause_filter_count=3000');
    expect(lines).toContain('  VMM 4242 qemu-system-x86: 3 threads, 2 vCPU threads (affinity vcpu0:2 vcpu1:3)');
  });

  it('finds VMMs by their KVM VM file descriptor', () => {
    const d = tree({ '77/comm': 'vmm\n', '78/comm': 'bash\n' });
    fs.mkdirSync(path.join(d, '77/fd'));
    fs.mkdirSync(path.join(d, '78/fd'));
    fs.symlinkSync('anon_inode:kvm-vm', path.join(d, '77/fd/9'));
    fs.symlinkSync('/dev/null', path.join(d, '78/fd/0'));
    expect(findVmms(d)).toEqual([77]);
  });

  it('follows a command\'s process tree (parent pids in /proc/N/stat)', () => {
    const d = tree({
      '10/stat': '10 (sh) S 1 10 10', '11/stat': '11 (qemu) S 10 10 10', '12/stat': '12 (x y) S 11 10 10', '13/stat': '13 (other) S 1 13 13',
    });
    expect(descendants(10, d)).toEqual([10, 11, 12]);
    expect(descendants(13, d)).toEqual([13]);
  });

  it('is shown by report beside the trace it belongs to (table and JSON)', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-man-'));
    const trace = path.join(d, 'run.txt');
    fs.copyFileSync(path.join(ROOT, 'traces/svm-D-small/trace.txt.xz'), `${trace}.xz`);
    const m = snapshotManifest({ pids: [4242], proc, sys });
    writeManifest(manifestPath(`${trace}.xz`), m);
    const bin = path.join(ROOT, 'bin', 'kvmtax.js');
    const t = spawnSync(process.execPath, [bin, 'report', '-q', `${trace}.xz`], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/\nHost manifest \(beside run\.txt\.xz, taken .*\)\n  kernel: .*; isolcpus=managed_irq,domain,2-3 nohz_full=2-3 mitigations=off\n/);
    const j = spawnSync(process.execPath, [bin, 'report', '-q', '-f', 'json', `${trace}.xz`], { encoding: 'utf8' });
    const r = JSON.parse(j.stdout) as { manifests: Record<string, { host: { nohz_full: string } }>; totals: { exits_seen: number } };
    expect(r.totals.exits_seen).toBe(770);
    expect(r.manifests[`${trace}.xz`]!.host.nohz_full).toBe('2-3');
  });
});
