/**
 * PERF_RECORD_COMPRESSED (perf record -z): u64-aligned records whose payload continues ONE zstd stream
 * across the whole file (tools/perf/util/zstd.c compresses each mmap chunk with ZSTD_compressStream and a
 * flush, not a frame per record); the decompressed bytes are ordinary records, and a record may straddle
 * two COMPRESSED records (tools/perf/util/session.c perf_session__process_compressed_event carries the
 * unfinished tail to the next one). Each push's output is capped like every inflate (decompress.ts).
 */
import type { Decompress as ZstdStream } from 'fzstd';
import { FormatError } from '../bytes.js';
import { MAX_INFLATED, zstdStreamDecoder } from '../decompress.js';

export class CompressedRecords {
  private readonly z: ZstdStream;
  private out: Uint8Array[] = [];
  private outLen = 0;
  private produced = 0;
  /** the unfinished record carried from the last payload */
  private tail: Uint8Array = new Uint8Array(0);

  constructor(private readonly le: boolean) {
    this.z = zstdStreamDecoder((chunk: Uint8Array) => {
      this.outLen += chunk.length;
      this.produced += chunk.length;
      if (this.outLen > MAX_INFLATED) throw new Error(`inflates past the ${MAX_INFLATED}-byte cap`);
      this.out.push(chunk.slice());
    });
  }

  /**
   * The payload of one COMPRESSED record (at file offset `off`): the whole records it completes, as one
   * buffer (the carried tail first), and how many bytes of it they take.
   */
  push(payload: Uint8Array, off: number): { bytes: Uint8Array; len: number } {
    this.out = [];
    this.outLen = 0;
    this.lastOff = off;
    try {
      this.z.push(payload);
    } catch (e) {
      throw new FormatError(`perf.data: corrupt zstd data in the compressed record at offset ${off}: ${(e as Error).message}`, off);
    }
    const all = new Uint8Array(this.tail.length + this.outLen);
    all.set(this.tail, 0);
    let o = this.tail.length;
    for (const c of this.out) { all.set(c, o); o += c.length; }
    // whole records only: walk the headers (u32 type, u16 misc, u16 size)
    const v = new DataView(all.buffer, all.byteOffset, all.byteLength);
    let p = 0;
    while (p + 8 <= all.length) {
      const size = v.getUint16(p + 6, this.le);
      if (size < 8) throw new FormatError(`perf.data: bad record size ${size} inside the compressed record at offset ${off}`, off);
      if (p + size > all.length) break;
      p += size;
    }
    this.tail = all.slice(p);
    return { bytes: all, len: p };
  }

  /** File offset of the last compressed record. */
  lastOff = 0;

  /**
   * End of the file. perf flushes its zstd stream after each record but never ends it, so a stream without
   * its end is normal; a stream that never gave a byte is not zstd data.
   */
  end(): void {
    if (this.produced === 0) {
      throw new FormatError(`perf.data: corrupt zstd data in the compressed record at offset ${this.lastOff}: nothing decompresses from it`, this.lastOff);
    }
  }

  /** Bytes of an unfinished record left at the end of the file (0 when the stream ended on a record). */
  get leftover(): number {
    return this.tail.length;
  }
}
