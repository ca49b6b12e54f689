/**
 * Parser of tracefs event format descriptions: the text of /sys/kernel/tracing/events/<system>/<event>/format,
 * which trace.dat and perf.data (HEADER_TRACING_DATA) embed verbatim:
 *
 *   name: kvm_exit
 *   ID: 103
 *   format:
 *   	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
 *   	...
 *
 *   	field:unsigned int exit_reason;	offset:8;	size:4;	signed:0;
 *   	field:char comm[16];	offset:..;	size:16;	signed:0;
 *   	field:__data_loc char[] name;	offset:..;	size:4;	signed:0;
 *
 *   print fmt: "...", REC->...
 *
 * Fields whose name starts with `common_` (the block before the first blank line) are the common fields.
 */

import { FormatError } from './bytes.js';

export interface FormatField {
  name: string;
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  isArray: boolean;
  arrayLen: number;
  isDynamic: boolean /* __data_loc (or __rel_loc) */;
}

export interface EventFormat {
  system: string;
  name: string;
  id: number;
  fields: FormatField[];
  commonFields: FormatField[];
  printFmt: string;
  field(name: string): FormatField | undefined;
}

const FIELD_RE = /^\s*field:\s*(.*?);\s*offset:\s*(\d+);\s*size:\s*(\d+);(?:\s*signed:\s*(-?\d+);)?/;

/** Split the declaration `unsigned int foo[4]` / `__data_loc char[] name` into type and name parts. */
function parseDecl(decl: string, lineOff: number): { type: string; name: string; isArray: boolean; arrayLen: number; isDynamic: boolean } {
  let d = decl.trim();
  const isDynamic = /^__(data|rel)_loc\b/.test(d);
  let isArray = false;
  let arrayLen = 0;
  // trailing array dimension on the name: foo[16] (also foo[N] with a macro name: length unknown -> 0)
  const arr = /\[([^\]]*)\]\s*$/.exec(d);
  if (arr) {
    isArray = true;
    const n = arr[1]!.trim();
    arrayLen = /^\d+$/.test(n) ? Number(n) : /^0x[0-9a-f]+$/i.test(n) ? parseInt(n, 16) : 0;
    d = d.slice(0, arr.index).trimEnd();
  }
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(d);
  if (!m || m[1]!.trim() === '') {
    // A bare name without a type is malformed (every kernel field has a type).
    throw new FormatError(`bad field declaration "${decl}"`, lineOff);
  }
  let type = m[1]!.trim();
  if (isArray) type += '[]';
  if (isDynamic) isArray = true;
  return { type, name: m[2]!, isArray, arrayLen, isDynamic };
}

/** Parse one event format text. `system` is the event's subsystem (kvm, sched, ftrace...). */
export function parseEventFormat(text: string, system: string): EventFormat {
  let name: string | undefined;
  let id: number | undefined;
  let printFmt = '';
  const fields: FormatField[] = [];
  const commonFields: FormatField[] = [];
  let pos = 0;
  let sawFormat = false;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    const lineOff = pos;
    pos = end + 1;
    const t = line.trim();
    if (t === '' || t === '\0') continue;
    if (t.startsWith('name:')) {
      name = t.slice(5).trim();
    } else if (t.startsWith('ID:')) {
      const v = t.slice(3).trim();
      if (!/^\d+$/.test(v)) throw new FormatError(`bad event ID "${v}"`, lineOff);
      id = Number(v);
    } else if (t === 'format:') {
      sawFormat = true;
    } else if (t.startsWith('field:') || t.startsWith('field ')) {
      const m = FIELD_RE.exec(line);
      if (!m) throw new FormatError(`bad field line "${t.slice(0, 80)}"`, lineOff);
      const decl = parseDecl(m[1]!, lineOff);
      const size = Number(m[3]);
      const f: FormatField = {
        name: decl.name,
        type: decl.type,
        offset: Number(m[2]),
        size,
        signed: m[4] !== undefined ? m[4] !== '0' : /^(?:signed\b|int\b|long\b|short\b|char\b|s\d+\b|pid_t\b)/.test(decl.type),
        isArray: decl.isArray,
        arrayLen: decl.arrayLen,
        isDynamic: decl.isDynamic,
      };
      if (f.isArray && !f.isDynamic && f.arrayLen === 0 && size > 0) {
        // char foo[LEN] with a symbolic LEN: derive from the size and the element type when possible
        const el = elementSize(decl.type.slice(0, -2));
        f.arrayLen = el > 0 ? Math.floor(size / el) : size;
      }
      if (f.name.startsWith('common_')) commonFields.push(f);
      else fields.push(f);
    } else if (t.startsWith('print fmt:')) {
      printFmt = t.slice('print fmt:'.length).trim();
      // the print fmt is the last item; it may (rarely) continue on following lines
      const rest = text.slice(pos).trim();
      if (rest !== '' && !rest.startsWith('name:')) printFmt += '\n' + rest.replace(/\0+$/, '');
      break;
    } else {
      throw new FormatError(`unexpected line in event format "${t.slice(0, 80)}"`, lineOff);
    }
  }
  if (name === undefined || name === '') throw new FormatError('event format without a name', 0);
  if (id === undefined) throw new FormatError(`event format ${name} without an ID`, 0);
  if (!sawFormat && fields.length === 0 && commonFields.length === 0) {
    throw new FormatError(`event format ${name} without fields`, 0);
  }
  const byName = new Map<string, FormatField>();
  for (const f of commonFields) byName.set(f.name, f);
  for (const f of fields) byName.set(f.name, f);
  return {
    system,
    name,
    id,
    fields,
    commonFields,
    printFmt,
    field(n: string): FormatField | undefined {
      return byName.get(n);
    },
  };
}

function elementSize(type: string): number {
  const t = type.replace(/\b(const|volatile|unsigned|signed)\b/g, '').trim();
  if (t === '' || t === 'int') return 4;
  if (/^(char|u8|s8|__u8|__s8|bool|_Bool)$/.test(t)) return 1;
  if (/^(short|u16|s16|__u16|__s16)$/.test(t)) return 2;
  if (/^(u32|s32|__u32|__s32|pid_t)$/.test(t)) return 4;
  if (/^(u64|s64|__u64|__s64|long long)$/.test(t)) return 8;
  return 0;
}

/** Read an integer field of a raw record (little or big endian), as bigint; handles sizes 1,2,4,8 and signedness. */
export function readField(view: DataView, base: number, f: FormatField, littleEndian: boolean): bigint {
  const off = base + f.offset;
  // arrays of integers: read the first element
  let size = f.size;
  if (f.isArray && !f.isDynamic && f.arrayLen > 0 && size % f.arrayLen === 0) size = size / f.arrayLen;
  if (f.isDynamic) size = 4;
  if (off < 0 || off + size > view.byteLength) {
    throw new FormatError(`field ${f.name} (offset ${f.offset}, size ${size}) outside the record`, view.byteOffset + Math.max(0, off));
  }
  switch (size) {
    case 1:
      return BigInt(f.signed ? view.getInt8(off) : view.getUint8(off));
    case 2:
      return BigInt(f.signed ? view.getInt16(off, littleEndian) : view.getUint16(off, littleEndian));
    case 4:
      return BigInt(f.signed ? view.getInt32(off, littleEndian) : view.getUint32(off, littleEndian));
    case 8:
      return f.signed ? view.getBigInt64(off, littleEndian) : view.getBigUint64(off, littleEndian);
    default:
      throw new FormatError(`field ${f.name} has a non-integer size ${f.size}`, view.byteOffset + off);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Read a string field: fixed char[N] (NUL-terminated) or __data_loc (offset/len packed in a u32). */
export function readString(bytes: Uint8Array, base: number, f: FormatField, littleEndian: boolean): string {
  let start: number;
  let len: number;
  if (f.isDynamic) {
    const p = base + f.offset;
    if (p < 0 || p + 4 > bytes.length) throw new FormatError(`field ${f.name} outside the record`, bytes.byteOffset + Math.max(0, p));
    const v = littleEndian
      ? (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0
      : ((bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 0;
    const rel = v & 0xffff;
    len = v >>> 16;
    // __rel_loc: the offset counts from the end of the field itself
    start = f.type.startsWith('__rel_loc') ? p + f.size + rel : base + rel;
  } else {
    start = base + f.offset;
    len = f.size;
  }
  if (start < 0 || start + len > bytes.length) {
    throw new FormatError(`string field ${f.name} outside the record`, bytes.byteOffset + Math.max(0, start));
  }
  let end = start;
  const lim = start + len;
  while (end < lim && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(start, end));
}
