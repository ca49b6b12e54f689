/**
 * The event formats of a trace.dat (events/<system>/<event>/format texts), parsed when first used: a capture
 * embeds the formats of every event of the systems it recorded (1445 in svm-A's), and parsing them all took about
 * a third of reading a small file. The name and ID (the lines before "format:") are read at once; the fields
 * (tracefs-format.ts parseEventFormat) when something asks for them. A text whose fields do not parse keeps its
 * name and ID with the common fields (fallbackFormat), as before.
 */
import { FormatError } from '../bytes.js';
import { parseEventFormat, type EventFormat, type FormatField } from '../tracefs-format.js';

/** A format that could not be parsed: keep its name and id so its records count as EV_OTHER. */
export function fallbackFormat(text: string, system: string): EventFormat | undefined {
  const name = /^\s*name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^\s*ID:\s*(\d+)/m.exec(text)?.[1];
  if (!name || id === undefined) return undefined;
  const common: FormatField[] = [
    { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_flags', type: 'unsigned char', offset: 2, size: 1, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_preempt_count', type: 'unsigned char', offset: 3, size: 1, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true, isArray: false, arrayLen: 0, isDynamic: false },
  ];
  // take the common fields the text does declare, when they parse
  const m = /field:[^;]*common_pid;\s*offset:\s*(\d+);\s*size:\s*(\d+);/.exec(text);
  if (m) { common[3]!.offset = Number(m[1]); common[3]!.size = Number(m[2]); }
  const byName = new Map(common.map((f) => [f.name, f] as const));
  return { system, name, id: Number(id), fields: [], commonFields: common, printFmt: '', field: (n) => byName.get(n) };
}


/** A format whose fields are parsed on first use; `commonType` (offset, size) is read at once. */
export interface LazyFormat extends EventFormat {
  readonly lazy: true;
  /** common_type's offset and size, when the text declares it */
  readonly commonType?: { offset: number; size: number };
  /** whether the fields were parsed already */
  parsed(): boolean;
}

const COMMON_TYPE = /field:[^;\n]*\bcommon_type;\s*offset:\s*(\d+);\s*size:\s*(\d+);/;

/** The format of one text (undefined when it names no event): lazy when its header reads plainly, else parsed now. */
export function eventFormat(text: string, system: string): EventFormat | undefined {
  let name: string | undefined;
  let id: number | undefined;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const t = text.slice(pos, end).trim();
    pos = end + 1;
    if (t === '' || t === '\0') continue;
    if (t.startsWith('name:')) name = t.slice(5).trim();
    else if (t.startsWith('ID:')) {
      const v = t.slice(3).trim();
      if (!/^\d+$/.test(v)) { id = undefined; break; }
      id = Number(v);
    } else break;
  }
  if (!name || id === undefined) return eager(text, system);
  let full: EventFormat | undefined;
  const get = (): EventFormat => (full ??= eager(text, system) ?? { system, name: name!, id: id!, fields: [], commonFields: [], printFmt: '', field: () => undefined });
  const ct = COMMON_TYPE.exec(text);
  const f: LazyFormat = {
    lazy: true, system, name, id,
    commonType: ct ? { offset: Number(ct[1]), size: Number(ct[2]) } : undefined,
    get fields(): FormatField[] { return get().fields; },
    get commonFields(): FormatField[] { return get().commonFields; },
    get printFmt(): string { return get().printFmt; },
    field: (n: string): FormatField | undefined => get().field(n),
    parsed: () => full !== undefined,
  };
  return f;
}

function eager(text: string, system: string): EventFormat | undefined {
  try {
    return parseEventFormat(text, system);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return fallbackFormat(text, system);
  }
}
