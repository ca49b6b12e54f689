#!/usr/bin/env node
/**
 * Makes the small binary fuzz seeds of test/fixtures/fuzz-seeds/ from the real svm-D-small capture
 * (../shared/captures/svm-D-small). Run once; the outputs are committed (CI needs neither trace-cmd nor
 * ../shared to fuzz). Needs trace-cmd 3.x on PATH (to convert between trace.dat versions and to check the
 * results).
 *
 *   trace.dat: trace-cmd convert --file-version 6 --compression none, then rewritten here: kallsyms and
 *              printk formats emptied, event formats kept for the kvm and sched systems only, the first
 *              PAGES ring-buffer pages of each CPU of the "cap" instance kept (offsets patched). trace-cmd
 *              converts that back to v7 (uncompressed and zstd). Every output is checked with trace-cmd report.
 *   perf.data: the header, attributes and feature sections kept, the data section cut to every non-sample
 *              record plus the first SAMPLES samples (offsets patched).
 *
 *   node fuzz/make-seeds.mjs [captureDir]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAP = process.argv[2] ?? path.resolve(ROOT, '..', 'shared', 'captures', 'svm-D-small');
const OUT = path.join(ROOT, 'test', 'fixtures', 'fuzz-seeds');
const PAGES = 6;
const SAMPLES = 400;
fs.mkdirSync(OUT, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-seeds-'));

// ---------------------------------------------------------------- trace.dat v6 rewrite
class Rd {
  constructor(b) { this.b = b; this.v = new DataView(b.buffer, b.byteOffset, b.byteLength); this.p = 0; }
  u16() { const x = this.v.getUint16(this.p, true); this.p += 2; return x; }
  u32() { const x = this.v.getUint32(this.p, true); this.p += 4; return x; }
  u64() { const x = Number(this.v.getBigUint64(this.p, true)); this.p += 8; return x; }
  bytes(n) { const x = this.b.subarray(this.p, this.p + n); this.p += n; return x; }
  cstr() { const e = this.b.indexOf(0, this.p); const s = Buffer.from(this.b.subarray(this.p, e)).toString('latin1'); this.p = e + 1; return s; }
}
class Wr {
  constructor() { this.parts = []; this.n = 0; }
  raw(b) { this.parts.push(Buffer.from(b)); this.n += b.length; return this; }
  u16(x) { const b = Buffer.alloc(2); b.writeUInt16LE(x); return this.raw(b); }
  u32(x) { const b = Buffer.alloc(4); b.writeUInt32LE(x >>> 0); return this.raw(b); }
  u64(x) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return this.raw(b); }
  cstr(s) { return this.raw(Buffer.from(s + '\0', 'latin1')); }
  pad(a) { const k = (a - (this.n % a)) % a; return this.raw(Buffer.alloc(k)); }
  out() { return Buffer.concat(this.parts); }
}

function shrinkTraceDatV6(src, keepSystems) {
  const r = new Rd(src);
  const w = new Wr();
  w.raw(r.bytes(18)); // magic, "6\0", endian, long size, page size
  const pageSize = src.readUInt32LE(14);
  for (const tag of ['header_page', 'header_event']) {
    if (r.cstr() !== tag) throw new Error(`expected ${tag}`);
    const n = r.u64();
    w.cstr(tag).u64(n).raw(r.bytes(n));
  }
  const nf = r.u32();
  w.u32(nf);
  for (let i = 0; i < nf; i++) { const n = r.u64(); w.u64(n).raw(r.bytes(n)); }
  const nsys = r.u32();
  const systems = [];
  for (let s = 0; s < nsys; s++) {
    const name = r.cstr();
    const ne = r.u32();
    const evs = [];
    for (let i = 0; i < ne; i++) { const n = r.u64(); evs.push(r.bytes(n)); }
    if (keepSystems.includes(name)) systems.push({ name, evs });
  }
  w.u32(systems.length);
  for (const s of systems) { w.cstr(s.name).u32(s.evs.length); for (const e of s.evs) w.u64(e.length).raw(e); }
  r.bytes(r.u32()); // kallsyms
  r.bytes(r.u32()); // printk
  w.u32(0).u32(0);
  const cl = r.u64();
  w.u64(cl).raw(r.bytes(cl));
  const cpus = r.u32();
  w.u32(cpus);
  if (r.cstr() !== 'options  ') throw new Error('expected options');
  w.cstr('options  ');
  const buffers = []; // { name, patchAt }
  for (;;) {
    const id = r.u16();
    if (id === 0) { w.u16(0); break; }
    const size = r.u32();
    const data = r.bytes(size);
    if (id === 3) {
      const name = Buffer.from(data.subarray(8, data.indexOf(0, 8))).toString('latin1');
      const srcOff = Number(Buffer.from(data).readBigUInt64LE(0));
      w.u16(3).u32(size);
      buffers.push({ name, srcOff, patchAt: w.n });
      w.raw(data);
    } else {
      w.u16(id).u32(size).raw(data);
    }
  }
  // flyrecord blocks: the top one here, each instance's after it; their pages at the end
  const flyBlocks = [{ srcOff: r.p, top: true }, ...buffers];
  const pages = []; // { cpuPatchAt, data }
  for (const fb of flyBlocks) {
    const fr = new Rd(src);
    fr.p = fb.top ? r.p : fb.srcOff;
    if (fr.cstr() !== 'flyrecord') throw new Error('expected flyrecord');
    if (!fb.top) { const b = w.out(); b.writeBigUInt64LE(BigInt(w.n), fb.patchAt); w.parts = [b]; }
    w.cstr('flyrecord');
    for (let c = 0; c < cpus; c++) {
      const off = fr.u64();
      const size = fr.u64();
      const keep = Math.min(size, PAGES * pageSize);
      pages.push({ patchAt: w.n, data: src.subarray(off, off + keep) });
      w.u64(0).u64(keep);
    }
    const clen = fr.u64();
    w.u64(clen).raw(fr.bytes(clen));
  }
  w.pad(pageSize);
  let buf = w.out();
  const tail = [];
  let at = buf.length;
  for (const p of pages) {
    buf.writeBigUInt64LE(BigInt(p.data.length ? at : 0), p.patchAt);
    tail.push(p.data);
    at += p.data.length;
  }
  return Buffer.concat([buf, ...tail]);
}

// ---------------------------------------------------------------- perf.data shrink
function shrinkPerfData(src, samples) {
  const v = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const u = (o) => Number(v.getBigUint64(o, true));
  const dataOff = u(40);
  const dataSize = u(48);
  const recs = [];
  let n = 0;
  for (let o = dataOff; o < dataOff + dataSize;) {
    const type = v.getUint32(o, true);
    const size = v.getUint16(o + 6, true);
    if (type !== 9 || n++ < samples) recs.push(src.subarray(o, o + size));
    o += size;
  }
  const data = Buffer.concat(recs);
  const feats = [];
  let t = dataOff + dataSize;
  for (let bit = 0; bit < 256; bit++) {
    const word = v.getBigUint64(72 + Math.floor(bit / 64) * 8, true);
    if ((word >> BigInt(bit % 64)) & 1n) { feats.push(src.subarray(u(t), u(t) + u(t + 8))); t += 16; }
  }
  const head = Buffer.from(src.subarray(0, dataOff));
  head.writeBigUInt64LE(BigInt(data.length), 48);
  const table = Buffer.alloc(16 * feats.length);
  let po = dataOff + data.length + table.length;
  feats.forEach((f, i) => { table.writeBigUInt64LE(BigInt(po), 16 * i); table.writeBigUInt64LE(BigInt(f.length), 16 * i + 8); po += f.length; });
  return Buffer.concat([head, data, table, ...feats]);
}

// ---------------------------------------------------------------- main
const v6full = path.join(tmp, 'v6.dat');
execFileSync('trace-cmd', ['convert', '-i', path.join(CAP, 'trace.dat'), '--file-version', '6', '--compression', 'none', '-o', v6full], { stdio: 'ignore' });
const v6 = shrinkTraceDatV6(fs.readFileSync(v6full), ['kvm', 'sched']);
const outs = { 'svm-D-small.v6.dat': v6 };
fs.writeFileSync(path.join(tmp, 'small-v6.dat'), v6);
for (const [name, comp] of [['svm-D-small.v7.dat', 'none'], ['svm-D-small.v7-zstd.dat', 'zstd']]) {
  const p = path.join(tmp, name);
  execFileSync('trace-cmd', ['convert', '-i', path.join(tmp, 'small-v6.dat'), '--file-version', '7', '--compression', comp, '-o', p], { stdio: 'ignore' });
  outs[name] = fs.readFileSync(p);
}
outs['svm-D-small.perf.data'] = shrinkPerfData(fs.readFileSync(path.join(CAP, 'perf.data')), SAMPLES);
outs['svm-D-small.perf-kvm.data'] = shrinkPerfData(fs.readFileSync(path.join(CAP, 'perf-kvm.data')), SAMPLES);
for (const [name, bytes] of Object.entries(outs)) {
  const p = path.join(OUT, name);
  fs.writeFileSync(p, bytes);
  const check = name.endsWith('.dat') && !name.includes('perf')
    ? execFileSync('trace-cmd', ['report', '-i', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    : execFileSync('perf', ['script', '-i', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  console.log(`${name}: ${bytes.length} bytes, ${check.split('\n').filter((l) => l.includes(':')).length} events by ${name.includes('perf') ? 'perf script' : 'trace-cmd report'}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
