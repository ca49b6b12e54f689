/** kvmtax stats on a crafted debugfs-like folder and a fake QMP server, with hand-computed deltas. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sampleDebugfs, deltas, haltPollRate } from '../../src/record/kvm-stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');

function debugfs(vms: Record<string, Record<string, number>>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-dbg-'));
  for (const [vm, stats] of Object.entries(vms)) {
    fs.mkdirSync(path.join(d, 'kvm', vm, 'vcpu0'), { recursive: true });
    for (const [k, v] of Object.entries(stats)) fs.writeFileSync(path.join(d, 'kvm', vm, k), `${v}\n`);
  }
  // the all-VMs sums beside the VM folders are not a VM
  fs.writeFileSync(path.join(d, 'kvm', 'exits'), '999\n');
  return d;
}

describe('kvm stats from debugfs', () => {
  it('samples each VM folder and gives the counters that moved', () => {
    const d = debugfs({ '4242-12': { exits: 100, halt_attempted_poll: 10, halt_successful_poll: 4, halt_wakeup: 7 }, '5000-9': { exits: 1 } });
    const a = sampleDebugfs(d);
    expect(a.map((v) => [v.pid, v.fd, v.stats.get('exits')])).toEqual([[4242, 12, 100], [5000, 9, 1]]);
    fs.writeFileSync(path.join(d, 'kvm/4242-12/exits'), '350\n');
    fs.writeFileSync(path.join(d, 'kvm/4242-12/halt_attempted_poll'), '30\n');
    fs.writeFileSync(path.join(d, 'kvm/4242-12/halt_successful_poll'), '19\n');
    const b = sampleDebugfs(d, [4242]);
    expect(b.length).toBe(1);
    expect(deltas(a[0]!.stats, b[0]!.stats, 0.5)).toEqual([
      { name: 'exits', delta: 250, per_s: 500, total: 350 },
      { name: 'halt_attempted_poll', delta: 20, per_s: 40, total: 30 },
      { name: 'halt_successful_poll', delta: 15, per_s: 30, total: 19 },
    ]);
    expect(haltPollRate(a[0]!.stats, b[0]!.stats)).toBe(0.75);
  });

  it.each([
    [(d: string) => { fs.rmSync(path.join(d, 'kvm'), { recursive: true }); fs.mkdirSync(path.join(d, 'sched')); }, /^kvmtax: .*\/kvm: no such folder \(is the kvm module loaded\?\)\n$/],
    [(d: string) => fs.rmSync(path.join(d, 'kvm/4242-12'), { recursive: true }), /^kvmtax: no VM is running \(.*\/kvm has no <pid>-<fd> folders\)\n$/],
    [(d: string) => { fs.rmSync(d, { recursive: true }); fs.mkdirSync(d); }, /^kvmtax: debugfs is not mounted at .* \(mount -t debugfs none .*\), or give --qmp SOCKET\n$/],
  ])('says what is missing in one line (%#)', (spoil, msg) => {
    const d = debugfs({ '4242-12': { exits: 1 } });
    spoil(d);
    const r = spawnSync(process.execPath, [BIN, 'stats', '--debugfs', d, '--count', '1', '--interval', '10ms'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(msg);
  });
});

describe('kvm stats from QMP query-stats', () => {
  it('gives per-vCPU deltas from a QMP server', async () => {
    const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-qmp-')), 'qmp.sock');
    let calls = 0;
    const seen: string[] = [];
    const server = net.createServer((c) => {
      c.write(JSON.stringify({ QMP: { version: { qemu: { major: 8, minor: 2, micro: 0 } }, capabilities: [] } }) + '\r\n');
      let buf = '';
      c.on('data', (d) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const m = JSON.parse(buf.slice(0, i)) as { execute: string; arguments?: { target: string } };
          buf = buf.slice(i + 1);
          seen.push(m.execute + (m.arguments ? `:${m.arguments.target}` : ''));
          let ret: unknown = {};
          if (m.execute === 'query-cpus-fast') {
            ret = [0, 1].map((i) => ({ 'cpu-index': i, 'qom-path': `/machine/unattached/device[${i}]`, 'thread-id': 700 + i }));
          } else if (m.execute === 'query-stats') {
            // each call: vCPU 0 +100 exits, +10 attempted polls, +6 successful; vCPU 1 +1 exit
            const k = calls++;
            ret = [1, 0].map((i) => ({
              provider: 'kvm', 'qom-path': `/machine/unattached/device[${i}]`,
              stats: i === 0
                ? [{ name: 'exits', value: 1000 + 100 * k }, { name: 'halt_attempted_poll', value: 10 * k }, { name: 'halt_successful_poll', value: 6 * k }, { name: 'halt_poll_success_hist', value: [1, 2] }]
                : [{ name: 'exits', value: 5 + k }],
            }));
          }
          // an asynchronous event first, which is not an answer
          c.write(JSON.stringify({ event: 'RTC_CHANGE', data: {} }) + '\r\n' + JSON.stringify({ return: ret }) + '\r\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      const p = spawn(process.execPath, [BIN, 'stats', '--qmp', sock, '--count', '2', '--interval', '50ms', '-f', 'json']);
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      expect(err).toBe('');
      expect(code).toBe(0);
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { source: string; items: { vcpu: number; thread: number; halt_poll_success: number | null; deltas: Record<string, number> }[] });
      expect(lines.length).toBe(2);
      for (const l of lines) {
        expect(l.source).toBe('qmp');
        expect(l.items.map((i) => [i.vcpu, i.thread, i.halt_poll_success, i.deltas])).toEqual([
          [0, 700, 0.6, { exits: 100, halt_attempted_poll: 10, halt_successful_poll: 6 }],
          [1, 701, null, { exits: 1 }],
        ]);
      }
      expect(seen.slice(0, 3)).toEqual(['qmp_capabilities', 'query-cpus-fast', 'query-stats:vcpu']);
    } finally {
      server.close();
    }
  });

  it('says when the socket is not there', () => {
    const r = spawnSync(process.execPath, [BIN, 'stats', '--qmp', '/no/such.sock', '--count', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('kvmtax: --qmp /no/such.sock: no such socket\n');
  });
});
