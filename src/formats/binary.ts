/**
 * Binary captures, recognized by their magic bytes: perf.data ("PERFILE2", tools/perf/Documentation/
 * perf.data-file-format.txt), trace-cmd's trace.dat ("\x17\x08\x44tracing", trace-cmd.dat.v7.5.txt) and
 * Perfetto protobuf traces (perfetto/protos/perfetto/trace/trace.proto).
 */
import type { EventSink } from '../core/sink.js';
import { KvmtaxError } from '../core/errors.js';
import { FormatError } from './tracefs-format.js';

export const BINARY_FORMATS = ['perf.data', 'trace.dat', 'perfetto'];

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

/** The binary format of a file's first bytes, if it is one. */
export function detectBinary(head: Uint8Array, name: string): string | undefined {
  if (head.length >= 8 && ascii(head, 0, 8) === 'PERFILE2') return 'perf.data';
  if (head.length >= 10 && head[0] === 0x17 && head[1] === 0x08 && head[2] === 0x44 && ascii(head, 3, 10) === 'tracing') return 'trace.dat';
  // a Perfetto trace is a sequence of `TracePacket packet = 1` fields: tag 0x0a, then a length varint
  if (/\.(pftrace|perfetto-trace|perfetto)$/.test(name.replace(/\.(gz|xz)$/, '')) || (head[0] === 0x0a && head.length > 2 && looksLikePerfetto(head))) return 'perfetto';
  return undefined;
}

function looksLikePerfetto(h: Uint8Array): boolean {
  // walk a few top-level fields: each must be field 1, wire type 2, with a length inside the head
  let p = 0;
  for (let k = 0; k < 3 && p < h.length; k++) {
    if (h[p] !== 0x0a) return false;
    p++;
    let len = 0, shift = 0;
    for (;;) {
      if (p >= h.length || shift > 28) return k > 0;
      const c = h[p++]!;
      len |= (c & 0x7f) << shift;
      if (!(c & 0x80)) break;
      shift += 7;
    }
    p += len;
  }
  return true;
}

/** The entries that say something (not undefined, empty or zero): metadata shows only what a file has. */
function present(o: Record<string, string | number | undefined>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(o)) if (v) out[k] = v;
  return out;
}

/** Read a binary capture into the sink; returns metadata worth showing in the report. */
export async function readBinary(format: string, file: string, sink: EventSink, display: string,
  opts: { buffer?: string } = {}): Promise<Record<string, string | number>> {
  // each reader (and what it needs: zstd, protobufjs) is loaded only when a file of its format comes
  try {
    switch (format) {
      case 'trace.dat': {
        const { readTraceDat } = await import('./tracedat.js');
        const i = readTraceDat(file, sink, { buffer: opts.buffer });
        return {
          version: i.version, cpus: i.cpus, clock: i.clock, buffer: i.buffer || '(top)', buffers: i.buffers.map((b) => b || '(top)').join(','),
          ...present({ compression: i.compression, lost_events: i.lostEvents }),
        };
      }
      case 'perf.data': {
        const { readPerfData } = await import('./perfdata.js');
        const i = readPerfData(file, sink);
        return {
          pipe_mode: i.pipeMode ? 'yes' : 'no', samples: i.samples,
          ...present({ hostname: i.hostname, os_release: i.osRelease, cmdline: i.cmdline, nr_cpus: i.nrCpus, lost: i.lost, guest_samples: i.guestSamples }),
        };
      }
      case 'perfetto': {
        const { readPerfetto } = await import('./perfetto.js');
        const i = readPerfetto(file, sink);
        return {
          packets: i.packets, ftrace_bundles: i.bundles, cpus: i.cpus, ftrace_events: i.ftraceEvents,
          ...present({
            compressed_packets: i.compressedPackets, compact_sched_events: i.compactSched, generic_events: i.genericEvents,
            dense_generic_events: i.denseGenericEvents, lost_bundles: i.lostBundles, ftrace_overrun: i.overrun,
            exits_without_reason: i.exitsWithoutReason,
          }),
        };
      }
      default:
        throw new KvmtaxError(`${format} files cannot be read yet`, display);
    }
  } catch (e) {
    // messages quote bytes of the input (names, tags): escape control bytes so the error stays one line
    // (fuzz-found: perfdata-4779bdf818, tracedat-085c3b9d98)
    if (e instanceof FormatError) throw new KvmtaxError(oneLine(e.message), display, undefined, undefined, e.offset);
    throw e;
  }
}

/** A message with its control bytes (newlines, CR, NUL...) escaped as \xNN. */
export function oneLine(msg: string): string {
  return msg.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
