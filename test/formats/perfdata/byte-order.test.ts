/**
 * A byte-swapped (big-endian) perf.data is detected by the registry (the reader's own isPerfData, which knows
 * the swapped magic "2ELIFREP") and read through the pipeline to the report of its little-endian twin.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { analyze } from '../../../src/pipeline/analyze.js';
import { detectFormat } from '../../../src/formats/registry.js';
import { tmpFile, removePerfTmpDir } from '../../support/perf-files.js';
import { PerfCraft, rawKvmExit, rawKvmEntry, ID_KVM_EXIT, ID_KVM_ENTRY, S_IP, S_TID, S_TIME, S_CPU, S_PERIOD, S_RAW, S_IDENTIFIER } from '../../support/perf-craft.js';

afterAll(removePerfTmpDir);
const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;

describe('perf.data byte order through the registry', () => {
  it('big-endian: detected, same report as little-endian', async () => {
    const out = [];
    for (const le of [true, false]) {
      const c = new PerfCraft(le)
        .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11, 12], name: 'kvm:kvm_exit' })
        .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13, 14], name: 'kvm:kvm_entry' });
      c.comm(1, 2, 'vcpu', { time: 0n });
      c.sample(0, { id: 11, pid: 1, tid: 2, time: 1000n, cpu: 0, raw: rawKvmExit(le, 2, 0x78, 0x10n, 0) });
      c.sample(1, { id: 13, pid: 1, tid: 2, time: 1040n, cpu: 0, raw: rawKvmEntry(le, 2, 0x10n, 0) });
      c.sample(0, { id: 11, pid: 1, tid: 2, time: 2000n, cpu: 0, raw: rawKvmExit(le, 2, 0x7c, 0x20n, 0) });
      c.sample(1, { id: 13, pid: 1, tid: 2, time: 2100n, cpu: 0, raw: rawKvmEntry(le, 2, 0x20n, 0) });
      c.round();
      const bytes = c.buildFile();
      expect(detectFormat(bytes.subarray(0, 65536), 'x').name).toBe('perf.data');
      const r = await analyze([tmpFile(`byte-order-${le ? 'le' : 'be'}.data`, bytes)]);
      out.push({ totals: r.totals, reasons: r.reasons, vms: r.vms.map((v) => v.vcpus.map((x) => [x.tid, x.comm, x.exits_handled])) });
    }
    // hand-computed: two handled exits, 40 ns and 100 ns in the host
    expect(out[0]!.totals).toMatchObject({ exits_seen: 2, exits_handled: 2, host_ns: 140 });
    expect(out[1]).toEqual(out[0]);
  });
});
