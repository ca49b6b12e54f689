/**
 * trace.dat writer, file version 6 (trace-cmd.dat.v6(5)): what `kvmtax record` writes, and what
 * `trace-cmd report` and kvmtax's own reader (src/formats/tracedat.ts) read back.
 *
 *   "\x17\x08Dtracing" "6\0" endian(0 = little) long-size page-size(u32)
 *   "header_page\0" u64 size, text      "header_event\0" u64 size, text      (events/header_page, header_event)
 *   u32 count + the ftrace system's formats (u64 size + text each)
 *   u32 systems, each: "system\0" u32 count, each u64 size + the events/<system>/<name>/format text
 *   u32 0 kallsyms, u32 0 printk formats, u64 size + saved_cmdlines text, u32 cpus
 *   "options  \0" options (u16 id, u32 size, data) ... u16 0
 *   "flyrecord\0" per CPU (u64 offset, u64 size), u64 size + trace_clock text, then each CPU's pages,
 *   page-aligned: exactly the pages per_cpu/cpuN/trace_pipe_raw gave.
 *
 * Options written: CPUSTAT (2, one per CPU: "CPU: N\n" + per_cpu/cpuN/stats), TRACECLOCK (4), UNAME (5),
 * CPUCOUNT (8), and the tid -> tgid table (32, saved_tgids text, as gpuvis' trace-cmd stores it; trace-cmd
 * skips option ids it does not know).
 *
 * The file is written beside its final name and renamed into place only when complete.
 */
import fs from 'node:fs';
import { commit, releaseScratch, tempBeside } from '../core/output.js';

export interface TraceDatContent {
  pageSize: number;
  headerPage: string;
  headerEvent: string;
  /** event formats, in order; grouped by system when written */
  formats: { system: string; text: string }[];
  cmdlines: string;
  /** saved_tgids text ("tid tgid" lines) */
  tgids?: string;
  /** the clock name (local, global, x86-tsc, ...) */
  clock: string;
  /** per CPU: its pages (page-size chunks) either in memory or in a file of whole pages */
  cpus: { cpu: number; pages?: Uint8Array[]; file?: string }[];
  /** per CPU stats text (per_cpu/cpuN/stats), by CPU number */
  cpuStats?: Map<number, string>;
  uname?: string;
}

const OPT_CPUSTAT = 2, OPT_TRACECLOCK = 4, OPT_UNAME = 5, OPT_CPUCOUNT = 8, OPT_SAVED_TGIDS = 32;

class Out {
  private chunks: Buffer[] = [];
  length = 0;
  bytes(b: Uint8Array): void { const x = Buffer.from(b.buffer, b.byteOffset, b.byteLength); this.chunks.push(x); this.length += x.length; }
  str(s: string): void { this.bytes(Buffer.from(s, 'utf8')); }
  cstr(s: string): void { this.str(s); this.u8(0); }
  u8(v: number): void { const b = Buffer.alloc(1); b.writeUInt8(v); this.bytes(b); }
  u16(v: number): void { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.bytes(b); }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.bytes(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
  /** u64 size + text */
  text64(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b); }
  option(id: number, data: Uint8Array): void { this.u16(id); this.u32(data.length); this.bytes(data); }
  buffer(): Buffer { return Buffer.concat(this.chunks); }
}

function nul(s: string): Buffer { return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]); }

/** Bytes a CPU's data takes (whole pages). */
function cpuBytes(c: TraceDatContent['cpus'][number], pageSize: number): number {
  if (c.file) return Math.floor(fs.statSync(c.file).size / pageSize) * pageSize;
  return (c.pages ?? []).length * pageSize;
}

/**
 * Write `content` as a version 6 trace.dat at `out` (through a temporary file beside it, renamed when complete).
 * Errors (ENOSPC, EACCES...) propagate as Node errors with their code; the partial file is removed.
 */
export function writeTraceDatV6(out: string, content: TraceDatContent, opts: { fsync?: boolean } = {}): void {
  const ps = content.pageSize;
  const h = new Out();
  h.bytes(Uint8Array.from([0x17, 0x08, 0x44]));
  h.str('tracing');
  h.cstr('6');
  h.u8(0); // little-endian
  h.u8(8); // long size
  h.u32(ps);
  h.bytes(nul('header_page'));
  h.text64(content.headerPage);
  h.bytes(nul('header_event'));
  h.text64(content.headerEvent);
  // the ftrace system's formats (print, function...) have a section of their own
  const ftrace = content.formats.filter((f) => f.system === 'ftrace');
  h.u32(ftrace.length);
  for (const f of ftrace) h.text64(f.text);
  const systems = new Map<string, string[]>();
  for (const f of content.formats) {
    if (f.system === 'ftrace') continue;
    let l = systems.get(f.system);
    if (!l) systems.set(f.system, (l = []));
    l.push(f.text);
  }
  h.u32(systems.size);
  for (const [sys, texts] of systems) {
    h.cstr(sys);
    h.u32(texts.length);
    for (const t of texts) h.text64(t);
  }
  h.u32(0); // kallsyms
  h.u32(0); // printk formats
  h.text64(content.cmdlines);
  const ncpu = content.cpus.reduce((m, c) => Math.max(m, c.cpu + 1), 0);
  h.u32(ncpu);
  h.bytes(Buffer.from('options  \0', 'latin1'));
  for (const [cpu, text] of [...(content.cpuStats ?? new Map<number, string>())].sort((a, b) => a[0] - b[0])) {
    h.option(OPT_CPUSTAT, nul(`CPU: ${cpu}\n${text}`));
  }
  h.option(OPT_TRACECLOCK, nul(content.clock));
  if (content.uname) h.option(OPT_UNAME, nul(content.uname));
  const cc = Buffer.alloc(4); cc.writeUInt32LE(ncpu); h.option(OPT_CPUCOUNT, cc);
  if (content.tgids) h.option(OPT_SAVED_TGIDS, nul(content.tgids));
  h.u16(0);
  h.bytes(Buffer.from('flyrecord\0', 'latin1'));
  const tableAt = h.length;
  // the table is filled in below, once the data offsets are known
  h.bytes(Buffer.alloc(16 * ncpu));
  // trace_clock as tracefs shows it: the clock in use in brackets
  h.text64(`[${content.clock}]\n`);
  const head = h.buffer();
  const sizes = new Map(content.cpus.map((c) => [c.cpu, cpuBytes(c, ps)] as const));
  let off = Math.ceil(head.length / ps) * ps;
  for (let cpu = 0; cpu < ncpu; cpu++) {
    const size = sizes.get(cpu) ?? 0;
    head.writeBigUInt64LE(BigInt(size ? off : 0), tableAt + 16 * cpu);
    head.writeBigUInt64LE(BigInt(size), tableAt + 16 * cpu + 8);
    off += size;
  }

  const tmp = tempBeside(out);
  const fd = fs.openSync(tmp, 'w');
  try {
    let pos = 0;
    const write = (b: Uint8Array): void => {
      for (let done = 0; done < b.length;) done += fs.writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    write(head);
    write(new Uint8Array(Math.ceil(head.length / ps) * ps - head.length));
    for (const c of [...content.cpus].sort((a, b) => a.cpu - b.cpu)) {
      const size = sizes.get(c.cpu) ?? 0;
      if (c.file) {
        const src = fs.openSync(c.file, 'r');
        try {
          const buf = Buffer.alloc(1 << 20);
          for (let left = size; left > 0;) {
            const n = fs.readSync(src, buf, 0, Math.min(buf.length, left), size - left);
            if (n <= 0) break;
            write(buf.subarray(0, n));
            left -= n;
          }
        } finally {
          fs.closeSync(src);
        }
      } else {
        for (const p of c.pages ?? []) {
          if (p.length === ps) write(p);
          else { const q = new Uint8Array(ps); q.set(p.subarray(0, ps)); write(q); }
        }
      }
    }
    if (opts.fsync !== false) fs.fsyncSync(fd);
    fs.closeSync(fd);
    commit(tmp, out);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fs.rmSync(tmp, { force: true });
    releaseScratch(tmp);
    throw e;
  }
}
