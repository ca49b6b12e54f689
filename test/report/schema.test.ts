/** The JSON report of real captures validates against schema/report.schema.json. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import AjvModule from 'ajv';
import { analyze } from '../../src/pipeline/analyze.js';
import { buildNested } from '../../src/analysis/nested.js';
import { render } from '../../src/report/render.js';
import { ROOT, TRACES } from '../support/paths.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
// ajv is CommonJS: under NodeNext its class is the default export's `default`
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const validate = new (Ajv as unknown as new (o: object) => { compile(s: object): { (d: unknown): boolean; errors?: unknown } })({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

describe('JSON schema', () => {
  it.each([
    ['svm-D-small/trace.txt.xz'], ['svm-D-small/trace-cmd-report.txt.xz'], ['svm-D-small/perf-kvm-script.txt.xz'],
    ['svm-B-disable-exits/trace.txt.xz'], ['pvm-08-small/trace.txt.xz'],
  ])('%s validates', async (f) => {
    const r = await analyze([path.join(TRACES, f)], { histograms: true, top: 20 });
    const json = JSON.parse(render(r, 'json', {}));
    const ok = validate(json);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });
  it('the issue-17 members validate: userspace (asked for) and a pasted capture\'s time segments', async () => {
    const r = await analyze([path.join(TRACES, 'svm-D-small/trace.txt.xz'), path.join(ROOT, 'test/fixtures/variants/pasted-captures.txt')], { userspace: true, handling: true, rips: true, gpas: true });
    expect(r.gpas?.pages.length).toBeGreaterThan(0);
    expect(r.rips?.reasons.length).toBeGreaterThan(0);
    const json = JSON.parse(render(r, 'json', {}));
    expect(json.userspace.available).toBe(true);
    expect(json.handling.available).toBe(true);
    json.nested = buildNested(await analyze([path.join(ROOT, 'test/fixtures/variants/nested-svm.txt')]));
    expect(json.inputs[1].segments).toHaveLength(2);
    expect(validate(json)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });
  it('rejects a report with a missing field (the schema is not vacuous)', async () => {
    const r = JSON.parse(render(await analyze([path.join(TRACES, 'svm-D-small/trace.txt.xz')]), 'json', {}));
    delete r.reasons[0].exits_handled;
    expect(validate(r)).toBe(false);
  });
});
