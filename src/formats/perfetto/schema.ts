/**
 * The protobufjs side of the Perfetto reader: perfetto.proto loaded once (the types the reader decodes with
 * protobufjs: process trees, stats, compact sched, generic events and descriptors, the typed FtraceEvent
 * payloads), and the conversion of decoded protobufjs values to the bigint/string field values that
 * events.ts maps to sink events.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { packageRoot } from '../../core/package-root.js';
import type { Wire } from './wire.js';


// FieldDescriptorProto.Type -> protobufjs scalar type (google/protobuf/descriptor.proto)
export const DESC_TYPES: Record<number, string> = {
  1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32', 8: 'bool', 9: 'string',
  12: 'bytes', 13: 'uint32', 14: 'int32', 15: 'sfixed32', 16: 'sfixed64', 17: 'sint32', 18: 'sint64',
};

/**
 * sched_switch prev_state as the core takes it: the code of the first letter the kernel prints
 * (include/trace/events/sched.h: no state bit below TASK_REPORT_MAX = "R", else the letter of the lowest bit).
 */
const STATE_LETTERS = 'SDTtXZPI';
export function stateLetter(raw: bigint): bigint {
  const s = Number(raw & 0xffn);
  if (s === 0) return 82n; // 'R'
  for (let i = 0; i < 8; i++) if (s & (1 << i)) return BigInt(STATE_LETTERS.charCodeAt(i));
  return 82n;
}

// ---------------------------------------------------------------------------------------------------------
// schema

export interface Schema {
  root: protobuf.Root;
  processTree: protobuf.Type;
  ftraceStats: protobuf.Type;
  compactSched: protobuf.Type;
  genericDescriptor: protobuf.Type;
  descriptorProto: protobuf.Type;
  generic: protobuf.Type;
  /** FtraceEvent payload field id -> event name and (for the ones decoded) its type */
  events: Map<number, { name: string; type?: protobuf.Type }>;
}

let schemaCache: Schema | undefined;

/** Where perfetto.proto is: beside this module (src/formats/perfetto) or, from dist/, in the package's src/formats/perfetto. */
function protoPath(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perfetto.proto');
  if (fs.existsSync(here)) return here;
  return path.join(packageRoot(), 'src', 'formats', 'perfetto', 'perfetto.proto');
}

/** The protobufjs root of perfetto.proto (package perfetto.protos, field names as in the .proto). */
export function perfettoRoot(): protobuf.Root {
  return schema().root;
}

export function schema(): Schema {
  if (schemaCache) return schemaCache;
  const root = protobuf.parse(fs.readFileSync(protoPath(), 'utf8'), { keepCase: true }).root;
  root.resolveAll();
  const T = (n: string): protobuf.Type => root.lookupType(`perfetto.protos.${n}`);
  const events = new Map<number, { name: string; type?: protobuf.Type }>();
  for (const f of T('OtherFtraceEvents').fieldsArray) events.set(f.id, { name: f.name });
  for (const f of T('FtraceEvent').fieldsArray) {
    if (f.partOf?.name === 'event') events.set(f.id, { name: f.name, type: f.resolvedType as protobuf.Type });
  }
  schemaCache = {
    root, processTree: T('ProcessTree'), ftraceStats: T('FtraceStats'), compactSched: T('FtraceEventBundle.CompactSched'),
    genericDescriptor: T('FtraceEventBundle.GenericEventDescriptor'), descriptorProto: T('DescriptorProto'),
    generic: T('GenericFtraceEvent'), events,
  };
  return schemaCache;
}

// ---------------------------------------------------------------------------------------------------------
// values

export type Value = bigint | string;
export type Fields = Map<string, Value>;

interface LongLike { low: number; high: number; unsigned: boolean }

/** A decoded protobufjs scalar as bigint (numbers, Long, booleans); strings stay strings; bytes are dropped. */
export function conv(v: unknown): Value | undefined {
  switch (typeof v) {
    case 'number': return Number.isInteger(v) ? BigInt(v) : BigInt(Math.trunc(v));
    case 'bigint': return v;
    case 'boolean': return v ? 1n : 0n;
    case 'string': return v;
    case 'object': {
      if (v === null || v instanceof Uint8Array) return undefined;
      const l = v as LongLike;
      if (typeof l.low !== 'number' || typeof l.high !== 'number') return undefined;
      const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
      return l.unsigned ? u : BigInt.asIntN(64, u);
    }
    default: return undefined;
  }
}

export const has = (m: object, k: string): boolean => Object.prototype.hasOwnProperty.call(m, k);

/** The fields present in a typed message, by name. */
export function typedFields(m: protobuf.Message, t: protobuf.Type): Fields {
  const f: Fields = new Map();
  const o = m as unknown as Record<string, unknown>;
  for (const fd of t.fieldsArray) {
    if (!has(o, fd.name)) continue;
    const v = conv(o[fd.name]);
    if (v !== undefined) f.set(fd.name, v);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// wire walking

/** protobufjs decode of buf[s, e), any decoding error reported as malformed `what` in the packet. */
export function decodeIn(w: Wire, t: protobuf.Type, s: number, e: number, what: string): protobuf.Message {
  try {
    return t.decode(w.buf.subarray(s, e));
  } catch (err) {
    return w.bad(`malformed ${what} (${(err as Error).message})`);
  }
}
