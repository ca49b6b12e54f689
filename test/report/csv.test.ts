/** Every figure of the halt, timers, ipi and sched sections is also in CSV (one row per vCPU). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { TRACES } from '../support/paths.js';

const parse = (csv: string) => csv.trim().split('\n').map((l) => l.split(','));

describe('CSV of the per-vCPU sections', () => {
  it('halt, timers, ipi and sched: a header and one row per vCPU, the JSON\'s numbers', async () => {
    const r = await analyze([path.join(TRACES, 'svm-D-small/trace.txt.xz')]);
    for (const sec of ['halt', 'timers', 'ipi', 'sched'] as const) {
      const s = r[sec];
      if (!s.available) throw new Error(sec);
      const [head, ...rows] = parse(render(r, 'csv', { sections: new Set([sec]) }));
      expect(rows.length, sec).toBe(s.vcpus.length);
      expect(head!.slice(0, 4)).toEqual(['pid', 'vcpu', 'tid', 'comm']);
      const v0 = s.vcpus[0] as unknown as Record<string, unknown>;
      for (const k of Object.keys(v0).filter((k) => typeof v0[k] === 'number')) {
        expect(rows[0]![head!.indexOf(k)], `${sec}.${k}`).toBe(String(v0[k]));
      }
    }
    const [h, row] = parse(render(r, 'csv', { sections: new Set(['halt']) }));
    expect(row![h!.indexOf('halt_wait_ns_plus_poll_fail_ns')]).toBe('13367865');
  });
  it('a section without its events is one row saying why', async () => {
    const r = await analyze([path.join(TRACES, 'svm-B-disable-exits/trace.txt.xz')]);
    expect(render(r, 'csv', { sections: new Set(['halt']) })).toBe('section,available,reason\nhalt,false,the trace has no kvm_vcpu_wakeup events\n');
  });
});
