/**
 * A comparison as CSV: one row per compared figure (overall, per exit reason, report sections), then
 * one row per paired vCPU (scope "vcpu"). Raw numbers: shares as fractions, times in ns (or cycles).
 */
import type { Comparison } from '../analysis/runs/compare.js';
import { csvSafe } from './escape.js';

const q = (s0: string) => {
  const s = csvSafe(s0);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const n = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));

export function renderCompareCsv(c: Comparison): string {
  const [la, lb] = c.labels;
  const lines: string[] = [];
  lines.push(['scope', 'figure', 'reason', 'key', 'unit', 'presence', 'before', 'after', 'delta', 'ratio', 'change',
    'n_before', 'mean_before', 'sd_before', 'cv_before', 'n_after', 'mean_after', 'sd_after', 'cv_after',
    'diff', 'ci_low', 'ci_high', 'df', 't', 'p', 'verdict', 'vm', 'vcpu', 'label_before', 'label_after'].map(q).join(','));
  for (const f of c.figures) {
    const pres = f.reason !== null ? c.reasons.find((r) => r.reason === f.reason)?.presence ?? '' : '';
    const t = f.test;
    lines.push([
      f.scope, f.figure, f.reason ?? '', f.key, f.unit, pres, n(f.before), n(f.after), n(f.delta), n(f.ratio), n(f.change),
      n(f.a?.n), n(f.a?.mean), n(f.a?.sd), n(f.a?.cv), n(f.b?.n), n(f.b?.mean), n(f.b?.sd), n(f.b?.cv),
      n(t?.diff), n(t?.ci[0]), n(t?.ci[1]), n(t?.df), n(t?.t), n(t?.p), t?.verdict ?? '', '', '', la, lb,
    ].map(q).join(','));
  }
  for (const p of c.vm_pairs) {
    const vm = `${p.before?.name ?? '-'} -> ${p.after?.name ?? '-'}`;
    for (const x of p.vcpus) {
      lines.push(['vcpu', 'tax', '', `tax[vcpu ${x.vcpu ?? '?'}]`, 'ratio', '', n(x.before?.tax), n(x.after?.tax), n(x.delta_tax),
        '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', vm, x.vcpu === null ? '' : String(x.vcpu), la, lb].map(q).join(','));
    }
  }
  return lines.join('\n') + '\n';
}
