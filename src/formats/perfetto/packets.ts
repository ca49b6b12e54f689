/**
 * The top level of a Perfetto file: a Trace is `repeated TracePacket packet = 1`, walked one packet at a time
 * with bounded memory (a buffer as large as the largest packet), and the error wording of a damaged packet.
 */
import fs from 'node:fs';
import { KvmtaxError } from '../../core/errors.js';
import { FormatError } from '../bytes.js';
import { Wire } from './wire.js';

/**
 * Call `f` with each top-level TracePacket of the file open as `fd` (`size` bytes): its bytes in buf[0, len),
 * `at` the file offset of its tag and `dataOff` that of its first byte. Other top-level fields are skipped;
 * a length past the end of the file is a truncated packet. `buf` is reused: f must not keep it.
 */
export function forEachPacket(fd: number, size: number, f: (buf: Buffer, len: number, at: number, dataOff: number) => void): void {
  // the file is read in chunks of CHUNK bytes; a packet that does not fit the rest of the chunk starts the next
  // one (read at its offset), a packet larger than a chunk is read alone (a read per packet was 3% of a run)
  const CHUNK = 1 << 20;
  const chunk = Buffer.allocUnsafe(CHUNK);
  let cOff = 0, cLen = 0;
  let big = Buffer.alloc(0);
  let pos = 0;
  while (pos < size) {
    const at = pos;
    if (pos + 16 > cOff + cLen && cOff + cLen < size) { cOff = pos; cLen = readAt(fd, chunk, Math.min(CHUNK, size - pos), pos); }
    const hs = pos - cOff;
    const w = new Wire(chunk, hs, Math.min(cLen, hs + 16), at, 'trace packet header');
    const [field, wt] = w.tag();
    if (wt !== 2) {
      if (wt !== 0 && wt !== 1 && wt !== 5) w.bad(`expected a TracePacket (field 1), found field ${field} of wire type ${wt}`);
      w.skip(wt);
      pos += w.pos - hs;
      continue;
    }
    const len = w.varint();
    const dataOff = at + (w.pos - hs);
    if (len > size - dataOff) {
      throw new FormatError(`truncated packet at offset ${at}: ${len} bytes announced, ${size - dataOff} left in the file`, at);
    }
    if (field === 1) {
      if (dataOff + len <= cOff + cLen) f(chunk.subarray(dataOff - cOff), len, at, dataOff);
      else if (len <= CHUNK) {
        cOff = dataOff;
        cLen = readPacket(fd, chunk, Math.min(CHUNK, size - dataOff), len, dataOff, at);
        f(chunk, len, at, dataOff);
      } else {
        if (big.length < len) big = Buffer.alloc(len);
        readPacket(fd, big, len, len, dataOff, at);
        f(big, len, at, dataOff);
      }
    }
    pos = dataOff + len;
  }
}

/** Read up to `want` bytes of the file at `off` into `into` (fewer only at its end): how many were read. */
function readAt(fd: number, into: Buffer, want: number, off: number): number {
  let got = 0;
  while (got < want) {
    const n = fs.readSync(fd, into, got, want - got, off + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

/** readAt(), of which the packet at `at` needs `need` bytes: a shorter read is a truncated packet. */
function readPacket(fd: number, into: Buffer, want: number, need: number, off: number, at: number): number {
  const got = readAt(fd, into, want, off);
  if (got < need) throw new FormatError(`truncated packet at offset ${at}`, at);
  return got;
}

/** Run `f`, reporting any exception that is not already a kvmtax error as malformed data at `at`. */
export function guarded<T>(at: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FormatError || e instanceof KvmtaxError) throw e;
    throw new FormatError(`malformed packet at offset ${at}: ${(e as Error).message}`, at);
  }
}

/**
 * Reads of [off, off + len) of the file through a few windows of `win` bytes (least recently used replaced): a
 * bundle is read with the ones near it, one read for many (a read per bundle was 8% of a run). Bundles of one
 * drain period lie together, so the CPUs' cursors share a window; files grouped by sequence keep a window per
 * CPU while there are slots. Memory: slots x win. A bundle larger than a window is read alone.
 */
export class FileWindows {
  private readonly wins: Array<{ off: number; len: number; buf: Buffer; used: number }> = [];
  private clock = 0;
  constructor(private readonly fd: number, private readonly size: number, private readonly win: number, private readonly slots: number) {}

  /** The bytes: [buffer, index of off in it]; `at` (the packet's offset) words a short read. */
  get(off: number, len: number, at: number): [Buffer, number] {
    for (const w of this.wins) {
      if (off >= w.off && off + len <= w.off + w.len) { w.used = ++this.clock; return [w.buf, off - w.off]; }
    }
    if (len > this.win) {
      const b = Buffer.alloc(len);
      readPacket(this.fd, b, len, len, off, at);
      return [b, 0];
    }
    let w = this.wins.length < this.slots ? undefined : this.wins.reduce((a, b) => (a.used <= b.used ? a : b));
    if (!w) { w = { off: 0, len: 0, buf: Buffer.allocUnsafe(this.win), used: 0 }; this.wins.push(w); }
    w.off = off;
    w.used = ++this.clock;
    w.len = 0; // until the read succeeds: a short one leaves no window claiming bytes it does not hold
    w.len = readPacket(this.fd, w.buf, Math.max(0, Math.min(this.win, this.size - off)), len, off, at);
    return [w.buf, 0];
  }
}
