/**
 * Converts a file-mode perf.data into the pipe-mode layout perf writes to a pipe (`perf record -o -`):
 *
 *   magic "PERFILE2" | u64 16
 *   PERF_RECORD_HEADER_ATTR (64) per attr: perf_event_attr (attr.size bytes) + u64 ids[]
 *   PERF_RECORD_HEADER_FEATURE (80) per feature except TRACING_DATA and BUILD_ID: u64 feature id + the section
 *   PERF_RECORD_HEADER_TRACING_DATA (66): u32 size, u32 pad; then the tracing data, padded to 8 bytes
 *   the data section, verbatim
 *
 * perf 6.1's own `perf inject` cannot do this for files with tracing data (see perf-fixtures/README.txt), so the
 * parity tests use this converter; the order of the synthesized records is the one a real pipe file of
 * perf-fixtures/ shows (attrs, features, tracing data, then the kernel records). Little-endian input only.
 */
import fs from 'node:fs';

function u64(v: DataView, o: number): number {
  return Number(v.getBigUint64(o, true));
}

export function perfFileToPipe(src: string): Uint8Array {
  const b = new Uint8Array(fs.readFileSync(src));
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (new TextDecoder('latin1').decode(b.subarray(0, 8)) !== 'PERFILE2') throw new Error('not a little-endian perf.data');
  const attrSize = u64(v, 16);
  const attrsOff = u64(v, 24);
  const attrsSize = u64(v, 32);
  const dataOff = u64(v, 40);
  const dataSize = u64(v, 48);
  const out: Uint8Array[] = [];
  const head = new Uint8Array(16);
  head.set(b.subarray(0, 8));
  new DataView(head.buffer).setBigUint64(8, 16n, true);
  out.push(head);
  const record = (type: number, body: Uint8Array): void => {
    const r = new Uint8Array(8 + body.length);
    const rv = new DataView(r.buffer);
    if (r.length > 0xffff) throw new Error(`record of ${r.length} bytes does not fit a perf record`);
    rv.setUint32(0, type, true);
    rv.setUint16(6, r.length, true);
    r.set(body, 8);
    out.push(r);
  };
  for (let o = attrsOff; o + attrSize <= attrsOff + attrsSize; o += attrSize) {
    const sz = v.getUint32(o + 4, true) || 64;
    const idsOff = u64(v, o + sz);
    const idsSize = u64(v, o + sz + 8);
    const body = new Uint8Array(sz + idsSize);
    body.set(b.subarray(o, o + sz));
    body.set(b.subarray(idsOff, idsOff + idsSize), sz);
    record(64, body);
  }
  const feats: { bit: number; off: number; size: number }[] = [];
  let t = dataOff + dataSize;
  for (let bit = 0; bit < 256; bit++) {
    const word = v.getBigUint64(72 + Math.floor(bit / 64) * 8, true);
    if ((word >> BigInt(bit % 64)) & 1n) {
      feats.push({ bit, off: u64(v, t), size: u64(v, t + 8) });
      t += 16;
    }
  }
  let tracing: Uint8Array | undefined;
  for (const f of feats) {
    const payload = b.subarray(f.off, f.off + f.size);
    if (f.bit === 1) {
      tracing = payload;
      continue;
    }
    if (f.bit === 2 || 16 + payload.length > 0xffff) continue; // BUILD_ID is not sent as a feature in pipe mode
    const body = new Uint8Array(8 + payload.length);
    new DataView(body.buffer).setBigUint64(0, BigInt(f.bit), true);
    body.set(payload, 8);
    record(80, body);
  }
  if (tracing) {
    const padded = (tracing.length + 7) & ~7;
    const body = new Uint8Array(8);
    new DataView(body.buffer).setUint32(0, padded, true);
    record(66, body);
    const data = new Uint8Array(padded);
    data.set(tracing);
    out.push(data);
  }
  out.push(b.subarray(dataOff, dataOff + dataSize));
  const total = out.reduce((n, x) => n + x.length, 0);
  const res = new Uint8Array(total);
  let o = 0;
  for (const x of out) {
    res.set(x, o);
    o += x.length;
  }
  return res;
}
