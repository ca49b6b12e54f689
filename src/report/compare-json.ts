/** A comparison as JSON (schema/compare.schema.json): the Comparison object itself. */
import type { Comparison } from '../analysis/runs/compare.js';

export function renderCompareJson(c: Comparison): string {
  return JSON.stringify(c, null, 2) + '\n';
}
