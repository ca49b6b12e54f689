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
  const head = Buffer.alloc(16);
  let buf = Buffer.alloc(1 << 16);
  let pos = 0;
  while (pos < size) {
    const at = pos;
    const hn = fs.readSync(fd, head, 0, Math.min(head.length, size - pos), pos);
    const w = new Wire(head, 0, hn, at, 'trace packet header');
    const [field, wt] = w.tag();
    if (wt !== 2) {
      if (wt !== 0 && wt !== 1 && wt !== 5) w.bad(`expected a TracePacket (field 1), found field ${field} of wire type ${wt}`);
      w.skip(wt);
      pos += w.pos;
      continue;
    }
    const len = w.varint();
    const dataOff = at + w.pos;
    if (len > size - dataOff) {
      throw new FormatError(`truncated packet at offset ${at}: ${len} bytes announced, ${size - dataOff} left in the file`, at);
    }
    if (field === 1) {
      if (buf.length < len) buf = Buffer.alloc(Math.max(len, buf.length * 2));
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, buf, got, len - got, dataOff + got);
        if (n <= 0) throw new FormatError(`truncated packet at offset ${at}`, at);
        got += n;
      }
      f(buf, len, at, dataOff);
    }
    pos = dataOff + len;
  }
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
