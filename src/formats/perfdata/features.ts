/**
 * perf.data feature sections (file mode: at data.offset + data.size, one {offset, size} per set feature
 * bit, in bit order; pipe mode: HEADER_FEATURE records). Layouts from tools/perf/util/header.c (write_*):
 *
 *   TRACING_DATA (1)  the tracing data (header.ts parseTracingData: event formats, saved cmdlines)
 *   HOSTNAME (3), OSRELEASE (4)   perf_header_string: u32 len, char[len] (NUL-padded)
 *   NRCPUS (7)        u32 nr_cpus_available, u32 nr_cpus_online
 *   CMDLINE (11)      u32 nr, nr perf_header_strings (perf's path, then its arguments)
 *   EVENT_DESC (12)   u32 nr, u32 attr_size, nr x { attr (attr_size), u32 nr_ids, perf_header_string name, u64 ids[] }
 *   DIR_FORMAT (24)   u64 version (1): a directory recording (perf record --threads; reader.ts)
 */
import type { EventSink } from '../../core/sink.js';
import { FormatError } from '../bytes.js';
import {
  FEAT_TRACING_DATA, FEAT_HOSTNAME, FEAT_OSRELEASE, FEAT_NRCPUS, FEAT_CMDLINE, FEAT_EVENT_DESC, FEAT_DIR_FORMAT,
  cursor, parseTracingData, type PerfDataInfo, type TracingData,
} from './header.js';

/** The features the reader reads (the others are skipped unread). */
export const WANTED_FEATURES: ReadonlySet<number> = new Set([FEAT_TRACING_DATA, FEAT_HOSTNAME, FEAT_OSRELEASE, FEAT_NRCPUS,
  FEAT_DIR_FORMAT, FEAT_CMDLINE, FEAT_EVENT_DESC]);

export interface Feature {
  info: Partial<PerfDataInfo>;
  tracing?: TracingData;
  descNames?: { name: string; ids: number[] }[];
  dirVersion?: number;
}

/** What one feature payload says; `fileOff`: where the payload is in the file (for errors). */
export function parseFeature(feat: number, b: Uint8Array, fileOff: number, le: boolean, sink: EventSink): Feature {
  const c = cursor(b, 0, b.length, le, fileOff, `feature section ${feat}`);
  switch (feat) {
    case FEAT_TRACING_DATA: return { info: {}, tracing: parseTracingData(b, fileOff, sink) };
    case FEAT_HOSTNAME: return { info: { hostname: c.headerString() } };
    case FEAT_OSRELEASE: return { info: { osRelease: c.headerString() } };
    // u32 nr_cpus_available (written first by perf's write_nrcpus), u32 nr_cpus_online
    case FEAT_NRCPUS: return { info: { nrCpus: c.u32() } };
    case FEAT_CMDLINE: {
      const n = c.u32();
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(c.headerString());
      return { info: { cmdline: parts.join(' ') } };
    }
    case FEAT_DIR_FORMAT: {
      const v = c.u64();
      if (v < 1) throw new FormatError(`perf.data: directory format version ${v} (1 expected)`, fileOff);
      return { info: {}, dirVersion: v };
    }
    case FEAT_EVENT_DESC: {
      const n = c.u32();
      const attrSize = c.u32();
      const descs: { name: string; ids: number[] }[] = [];
      for (let i = 0; i < n; i++) {
        c.skip(attrSize);
        const nIds = c.u32();
        const name = c.headerString();
        const ids: number[] = [];
        for (let k = 0; k < nIds; k++) ids.push(c.u64());
        descs.push({ name, ids });
      }
      return { info: {}, descNames: descs };
    }
    default: return { info: {} };
  }
}
