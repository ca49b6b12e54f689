/**
 * perf.data through the WebAssembly core (src/formats/perfdata/core-path.ts, assembly/perfdata.ts) against the
 * TypeScript path (KVMTAX_PERFDATA_PATH=ts), on every real perf.data capture of ../shared: the same report,
 * field for field. Needs ../shared (skips with a message).
 */
import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { SHARED, HAVE_SHARED } from '../../support/paths.js';
import { analyze } from '../../../src/pipeline/analyze.js';
import { corePathStats } from '../../../src/formats/perfdata/core-path.js';

const CAPTURES = path.join(SHARED, 'captures');
const files = HAVE_SHARED
  ? fs.readdirSync(CAPTURES).flatMap((d) => ['perf-kvm.data', 'perf-kvm.data.xz', 'perf.data', 'perf.data.xz']
    .map((f) => path.join(CAPTURES, d, f)).filter((p) => fs.existsSync(p)))
  : [];

describe.skipIf(!HAVE_SHARED)('perf.data: core path = TypeScript path (../shared/captures)', () => {
  afterEach(() => { delete process.env.KVMTAX_PERFDATA_PATH; });
  it.each(files.map((f) => [path.relative(CAPTURES, f), f]))('%s', async (_n, file) => {
    const before = corePathStats.files;
    const core = await analyze([file!], { top: 20, histograms: true });
    const tookCore = corePathStats.files > before;
    process.env.KVMTAX_PERFDATA_PATH = 'ts';
    const ts = await analyze([file!], { top: 20, histograms: true });
    expect(corePathStats.files).toBe(before + (tookCore ? 1 : 0));
    // perf kvm stat record files have no sched events: the core reads them
    if (/perf-kvm\.data/.test(file!)) expect(tookCore).toBe(true);
    expect(JSON.parse(JSON.stringify(core, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))))
      .toEqual(JSON.parse(JSON.stringify(ts, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))));
  });
});

describe.skipIf(!HAVE_SHARED)('perf.data core path: records cut by chunk ends (../shared/captures)', () => {
  // the core walks one read buffer while the next is read; a record cut by a buffer's end is carried into the
  // next buffer's lead: small buffers cut thousands of records, and the report must not change
  const file = path.join(CAPTURES, 'svm-A-baseline', 'perf-kvm.data.xz');
  it.each([[64 * 1024 + 8], [1000 * 1000 + 7]])('svm-A-baseline/perf-kvm.data.xz in %i-byte chunks = in 4 MiB chunks', async (bytes) => {
    const before = corePathStats.files;
    const small = await analyze([file], { top: 20, histograms: true, arenaBytes: bytes });
    expect(corePathStats.files).toBe(before + 1);
    const usual = await analyze([file], { top: 20, histograms: true });
    expect(small.totals.exits_handled).toBeGreaterThan(10000);
    expect(small).toEqual(usual);
  });
});
