/** The host manifest, snapshot from crafted /proc and /sys trees with hand-written expectations, and its report hook. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { svmDSmallTraceDat } from './svm-d-dat.js';
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

  it('one that cannot be read is left out with one warning naming it, and the report is as without it', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-man-'));
    const trace = path.join(d, 'run.txt.xz');
    fs.copyFileSync(path.join(ROOT, 'traces/svm-D-small/trace.txt.xz'), trace);
    const bin = path.join(ROOT, 'bin', 'kvmtax.js');
    const plain = spawnSync(process.execPath, [bin, 'report', '-q', trace], { encoding: 'utf8' });
    for (const [text, why] of [['{"host": \n', /not JSON: .*/], ['{"host": {}}\n', /no "kvmtax_manifest": 1 in it/]] as const) {
      fs.writeFileSync(manifestPath(trace), text);
      const t = spawnSync(process.execPath, [bin, 'report', '-q', trace], { encoding: 'utf8' });
      expect(t.status).toBe(0);
      expect(t.stdout).toBe(plain.stdout);
      const lines = t.stderr.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`kvmtax: warning: ${manifestPath(trace)}: not read as kvmtax record's manifest (`);
      expect(lines[0]).toMatch(why);
      expect(lines[0]).toMatch(/: its lines are left out$/);
    }
    fs.rmSync(d, { recursive: true, force: true });
  });
});

describe('KVM statistics sampled while recording', () => {
  it('stores their change per VM and report sets the trace\'s figures beside them', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-kst-'));
    // a replay of the svm-D pages, whose VM thread group we call 4242 here (saved_tgids)
    const tfs = path.join(d, 'tracefs');
    const mk = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { makeReplayDir } from ${JSON.stringify(path.join(ROOT, 'dist/src/record/replay.js'))};
      makeReplayDir(${JSON.stringify(svmDSmallTraceDat())}, ${JSON.stringify(tfs)});`], { encoding: 'utf8' });
    expect(mk.stderr).toBe('');
    fs.writeFileSync(path.join(tfs, 'saved_tgids'), '192 4242\n193 4242\n');
    const dbg = path.join(d, 'debug');
    fs.mkdirSync(path.join(dbg, 'kvm', '4242-11'), { recursive: true });
    const set = (exits: number, attempted: number, ok: number, wake: number): string =>
      `echo ${exits} > ${dbg}/kvm/4242-11/exits; echo ${attempted} > ${dbg}/kvm/4242-11/halt_attempted_poll; echo ${ok} > ${dbg}/kvm/4242-11/halt_successful_poll; echo ${wake} > ${dbg}/kvm/4242-11/halt_wakeup`;
    spawnSync('sh', ['-c', set(1000, 5, 1, 10)]);
    const out = path.join(d, 'run.dat');
    // the "VMM" (pid 4242 in --pid would need a live process: the command's own pid stands in through /proc)
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'record', '--tracefs', tfs, '--debugfs', dbg, '-o', out, '--', 'sh', '-c',
      `mv ${dbg}/kvm/4242-11 ${dbg}/kvm/$$-11; printf '192 %s\\n193 %s\\n' $$ $$ > ${tfs}/saved_tgids; sleep 0.8; ${set(1770, 5, 1, 56).replaceAll('4242-11', () => '$$-11')}; sleep 0.8`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const m = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')) as { kvm_stats: Record<string, { pid: number; delta: Record<string, number> }> };
    const [key, st] = Object.entries(m.kvm_stats)[0]!;
    expect(key).toBe(`${st.pid}-11`);
    expect(st.delta).toEqual({ exits: 770, halt_attempted_poll: 0, halt_successful_poll: 0, halt_wakeup: 46 });
    // the trace of the same pages (its vCPU threads 192 and 193 given to the stand-in VMM through saved_tgids):
    // 770 exits seen, 46 halts (counts.txt: 770 kvm_exit, 46 kvm_vcpu_wakeup)
    const t = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'report', '-q', out], { encoding: 'utf8' });
    expect(t.stdout).toMatch(new RegExp(`\\n  KVM stats of VM ${st.pid}-11 \\(debugfs, [\\d.]+-[\\d.]+ s into the recording\\): exits 770, halt_wakeup 46, halt_attempted_poll 0, halt_successful_poll 0\\n    the trace, whole recording: exits 770, halts 46, halt_attempted_poll 0, halt_successful_poll 0\\n`));
  });
});
