/**
 * The record stream of a perf.data data section (file mode) or stream (pipe mode), on the TypeScript path;
 * and the records the core path (core-path.ts) leaves to TypeScript (coreRecord).
 *
 *   record       u32 type | u16 misc | u16 size | payload          (tools/include/uapi/linux/perf_event.h)
 *   pipe mode    HEADER_ATTR, HEADER_EVENT_TYPE, HEADER_TRACING_DATA (+ payload), HEADER_FEATURE, EVENT_UPDATE
 *                records carry what a file keeps in its header   (tools/perf/Documentation/perf.data-file-format.txt)
 *   AUXTRACE     u64 size of the AUX data that follows the record; COMPRESSED: a piece of one zstd stream
 *
 * Pipe mode is also readable from a real pipe or FIFO; a stream that does not end with a FINISHED_ROUND is
 * reported as probably cut short (sink.skip SKIP_TRUNCATED).
 */
import * as fs from 'node:fs';
import { FormatError, cstr, u64n } from '../bytes.js';
import {
  REC_LOST, REC_THROTTLE, REC_COMM, REC_EXIT, REC_FORK, REC_SAMPLE, REC_LOST_SAMPLES, REC_HEADER_ATTR,
  REC_HEADER_EVENT_TYPE, REC_HEADER_TRACING_DATA, REC_FINISHED_ROUND, REC_AUXTRACE, REC_EVENT_UPDATE,
  REC_HEADER_FEATURE, REC_COMPRESSED, ATTR_SIZE_VER0, EVENT_UPDATE_NAME, truncated, parseAttr, attrSizeOf,
  parseTracingData, type Attr, type TracingData,
} from './header.js';
import { CompressedRecords } from './compressed.js';
import { SampleStage } from './samples.js';
import { SKIP_TRUNCATED, SKIP_UNRECOGNIZED } from '../../../assembly/constants.js';

export abstract class RecordStage extends SampleStage {
  /** tracepoint config (format id) -> name from HEADER_EVENT_TYPE */
  protected readonly eventTypeNames = new Map<string, string>();
  /** the zstd stream of PERF_RECORD_COMPRESSED payloads (perf record -z); one per data file */
  protected compressed: CompressedRecords | undefined;

  /** `fd`: the file being read (a directory recording moves it from file to file) */
  protected fd: number;
  protected abstract readonly chunkSize: number;

  constructor(fd: number, ...rest: ConstructorParameters<typeof SampleStage>) {
    super(...rest);
    this.fd = fd;
  }

  protected abstract addAttr(attr: Attr): void;
  protected abstract setTracing(t: TracingData): void;
  protected abstract wantsFeature(feat: number): boolean;
  protected abstract processFeature(feat: number, b: Uint8Array, fileOff: number): void;

  /** A record the core path left to the reader (see core-path.ts); returns the payload bytes that follow it. */
  protected coreRecord(type: number, buf: Uint8Array, view: DataView, p: number, size: number, off: number): number {
    switch (type) {
      case REC_SAMPLE:
        this.onSample(buf, view, p, size, off); // the core leaves only samples this throws on
        throw new Error(`perf.data core path: the sample at offset ${off} was left to the reader, which accepts it`);
      case REC_COMM:
      case REC_FORK:
      case REC_EXIT:
      case REC_LOST:
      case REC_LOST_SAMPLES:
        this.onKernelRecord(type, buf, view, p, size, off);
        return 0;
      case REC_THROTTLE:
        if (this.corePath!.own(off)) this.info.throttled = (this.info.throttled ?? 0) + 1;
        return 0;
      case REC_AUXTRACE:
        if (size < 16) throw truncated('AUXTRACE record', off);
        return u64n(view, p + 8, true);
      case REC_COMPRESSED: {
        const r = (this.compressed ??= new CompressedRecords(true)).push(buf.slice(p + 8, p + size), off);
        this.corePath!.walkBytes(r.bytes, r.len, off, (t, b, v, q, sz, at) => this.coreRecord(t, b, v, q, sz, at));
        return 0;
      }
      case REC_HEADER_ATTR:
      case REC_HEADER_EVENT_TYPE:
      case REC_HEADER_TRACING_DATA:
      case REC_HEADER_FEATURE:
      case REC_EVENT_UPDATE:
        if (this.corePath!.own(off)) this.sink.skip(SKIP_UNRECOGNIZED, off + this.whereBase, `perf.data: a pipe-mode record (type ${type}) in the data section of a file: ignored`);
        return type === REC_HEADER_TRACING_DATA && size >= 12 ? view.getUint32(p + 8, true) : 0;
      default:
        return 0;
    }
  }


  /**
   * The records decompressed from PERF_RECORD_COMPRESSED payloads (TypeScript path); `where` is the file
   * offset of the compressed record, as perf reports it. Returns the type of the last record.
   */
  private innerRecords(bytes: Uint8Array, len: number, where: number): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let last = REC_COMPRESSED;
    for (let q = 0; q < len;) {
      const type = view.getUint32(q, this.le);
      const size = view.getUint16(q + 6, this.le);
      last = type;
      switch (type) {
        case REC_SAMPLE: this.onSample(bytes, view, q, size, where); break;
        case REC_FINISHED_ROUND: this.queue.round(); break;
        case REC_COMM: case REC_FORK: case REC_EXIT: case REC_LOST: case REC_LOST_SAMPLES:
          this.onKernelRecord(type, bytes, view, q, size, where);
          break;
        case REC_THROTTLE: this.info.throttled = (this.info.throttled ?? 0) + 1; break;
        default: break;
      }
      q += size;
    }
    return last;
  }

  /**
   * Process the records of [start, end). `stream`: the input is not seekable (a pipe), read it sequentially
   * until EOF.
   */
  protected processData(start: number, end: number, stream: boolean): void {
    const le = this.le;
    let buf = new Uint8Array(Math.min(this.chunkSize, Math.max(end - start, 64)));
    let view = new DataView(buf.buffer);
    let bufStart = start; // file offset of buf[0]
    let bufLen = 0;
    let eof = false;
    let readPos = start;
    /** make bytes [off, off+n) available in buf; false when the input ends first */
    const ensure = (off: number, n: number): boolean => {
      if (off + n <= bufStart + bufLen) return true;
      // keep [off, bufStart+bufLen), read more after it
      const keep = bufStart + bufLen - off;
      if (n > buf.length) {
        const nb = new Uint8Array(Math.max(n, buf.length * 2));
        nb.set(buf.subarray(off - bufStart, bufLen));
        buf = nb;
        view = new DataView(buf.buffer);
      } else if (keep > 0) {
        buf.copyWithin(0, off - bufStart, bufLen);
      }
      bufStart = off;
      bufLen = Math.max(keep, 0);
      while (bufLen < n && !eof) {
        const want = Math.min(buf.length - bufLen, end - readPos);
        if (want <= 0) {
          eof = true;
          break;
        }
        const r = fs.readSync(this.fd, buf, bufLen, want, stream ? null : readPos);
        if (r <= 0) {
          eof = true;
          break;
        }
        bufLen += r;
        readPos += r;
      }
      return bufLen >= n;
    };

    let off = start;
    // perf ends every pass over its buffers with a FINISHED_ROUND: kernel records after the last one at the end
    // of a pipe-mode stream mean it was cut short (a file-mode header has the authoritative data size)
    let rounds = 0;
    let afterRound = 0;
    let lastType = -1;
    while (off < end) {
      if (!ensure(off, 8)) {
        if (stream && bufStart + bufLen === off) break; // a pipe ends between records
        throw truncated('record', off);
      }
      let p = off - bufStart;
      const type = view.getUint32(p, le);
      const size = view.getUint16(p + 6, le);
      if (size < 8) throw new FormatError(`perf.data: bad record size ${size} (type ${type}) at offset ${off}`, off);
      if (off + size > end || !ensure(off, size)) throw truncated('record', off);
      p = off - bufStart;
      let extra = 0; // payload that follows the record (pipe-mode tracing data, AUX data)
      lastType = type;
      if (type === REC_FINISHED_ROUND) {
        rounds++;
        afterRound = 0;
      } else if (type < REC_HEADER_ATTR) afterRound++;
      switch (type) {
        case REC_SAMPLE:
          this.onSample(buf, view, p, size, off);
          break;
        case REC_FINISHED_ROUND:
          this.queue.round();
          break;
        case REC_COMM:
        case REC_FORK:
        case REC_EXIT:
        case REC_LOST:
        case REC_LOST_SAMPLES:
          this.onKernelRecord(type, buf, view, p, size, off);
          break;
        case REC_HEADER_ATTR: {
          if (size < 8 + ATTR_SIZE_VER0) throw truncated('HEADER_ATTR record', off);
          const sz = attrSizeOf(view, p + 8, le);
          if (8 + sz > size) throw truncated('HEADER_ATTR record', off);
          const attr = parseAttr(buf, p + 8, sz, le, off + 8, this.attrs.length);
          for (let q = p + 8 + sz; q + 8 <= p + size; q += 8) attr.ids.push(u64n(view, q, le));
          this.addAttr(attr);
          break;
        }
        case REC_HEADER_EVENT_TYPE: {
          // u64 event_id; char name[64]
          if (size >= 16) {
            const id = view.getBigUint64(p + 8, le);
            this.eventTypeNames.set(id.toString(), cstr(buf, p + 16, p + size));
            this.attrsResolved = false;
          }
          break;
        }
        case REC_HEADER_TRACING_DATA: {
          // u32 size (+ u32 pad); the tracing data follows the record, padded to 8 bytes
          if (size < 12) throw truncated('HEADER_TRACING_DATA record', off);
          extra = view.getUint32(p + 8, le);
          if (off + size + extra > end || !ensure(off + size, extra)) throw truncated('tracing data', off + size);
          const q = off + size - bufStart;
          this.setTracing(parseTracingData(buf.slice(q, q + extra), off + size, this.sink));
          break;
        }
        case REC_HEADER_FEATURE: {
          if (size < 16) throw truncated('HEADER_FEATURE record', off);
          const feat = u64n(view, p + 8, le);
          if (this.wantsFeature(feat)) this.processFeature(feat, buf.slice(p + 16, p + size), off + 16);
          break;
        }
        case REC_EVENT_UPDATE: {
          // u64 type; u64 id; data (NAME: a string)
          if (size >= 24 && u64n(view, p + 8, le) === EVENT_UPDATE_NAME) {
            const a = this.byId.get(u64n(view, p + 16, le));
            if (a) {
              a.updName = cstr(buf, p + 24, p + size);
              this.attrsResolved = false;
            }
          }
          break;
        }
        case REC_AUXTRACE:
          // u64 size of the AUX data that follows the record
          if (size < 16) throw truncated('AUXTRACE record', off);
          extra = u64n(view, p + 8, le);
          break;
        case REC_COMPRESSED: {
          const r = (this.compressed ??= new CompressedRecords(le)).push(buf.slice(p + 8, p + size), off);
          lastType = this.innerRecords(r.bytes, r.len, off);
          break;
        }
        case REC_THROTTLE:
          this.info.throttled = (this.info.throttled ?? 0) + 1;
          break;
        default:
          break; // MMAP, MMAP2, UNTHROTTLE, ID_INDEX, TIME_CONV, FINISHED_INIT, ...: not needed
      }
      if (!Number.isSafeInteger(extra) || off + size + extra > end) throw truncated('record payload', off);
      if (extra > 0 && stream) {
        // a pipe cannot seek: consume the payload
        let left = extra;
        let at = off + size;
        while (left > 0) {
          const n = Math.min(left, buf.length);
          if (!ensure(at, n)) throw truncated('record payload', at);
          at += n;
          left -= n;
        }
      } else if (extra > 0) {
        // skip it; the next ensure() refills from the new offset
        if (off + size + extra > bufStart + bufLen) {
          bufStart = off + size + extra;
          bufLen = 0;
          readPos = bufStart;
        }
      }
      off += size + extra;
    }
    if (this.info.pipeMode) {
      if (this.attrs.length === 0) throw new FormatError('perf.data: the pipe-mode stream ends before its first event attribute', off);
      if (lastType !== REC_FINISHED_ROUND) {
        this.sink.skip(SKIP_TRUNCATED, off, `perf.data: the pipe-mode stream ends ${afterRound} records after ` +
          `${rounds ? 'its last FINISHED_ROUND' : 'its start, without a FINISHED_ROUND'}: it was probably cut short`);
      }
    }
  }
}
