/**
 * The skips a core decoder (assembly/perfdata.ts, assembly/tracedat.ts) keeps for TypeScript to word: 32-byte
 * entries (kind i32, code i32, where i64, v1 i64, v2 i64) at `base`, copied out before the decoder is told to
 * clear them (wording one may call back into the core).
 */
export interface CoreSkip { kind: number; code: number; where: number; v1: bigint; v2: bigint }

export function readCoreSkips(v: DataView, base: number, n: number): CoreSkip[] {
  const items: CoreSkip[] = [];
  for (let i = 0; i < n; i++) {
    const e = base + i * 32;
    items.push({ kind: v.getInt32(e, true), code: v.getInt32(e + 4, true), where: Number(v.getBigInt64(e + 8, true)),
      v1: v.getBigInt64(e + 16, true), v2: v.getBigInt64(e + 24, true) });
  }
  return items;
}
