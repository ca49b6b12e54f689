/**
 * A replay directory: a trace.dat's pages and metadata laid out like tracefs, for `kvmtax record|live
 * --tracefs DIR` without tracing (tests, demos). The pages of a trace.dat are exactly what
 * per_cpu/cpuN/trace_pipe_raw gave the recorder.
 *
 *   DIR/events/header_page, header_event, events/<sys>/<name>/format
 *   DIR/saved_cmdlines, saved_tgids, trace_clock, buffer_subbuf_size_kb, tracing_on, set_event
 *   DIR/per_cpu/cpuN/trace_pipe_raw (pages), per_cpu/cpuN/stats (when given)
 *   DIR/instances/ (empty)
 */
import fs from 'node:fs';
import path from 'node:path';
import { traceDatParts } from '../formats/tracedat/reader.js';

export function makeReplayDir(traceDat: string, dir: string, stats?: Map<number, string>): { cpus: number; pages: number } {
  const p = traceDatParts(traceDat);
  const w = (rel: string, data: string | Uint8Array): void => {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, data);
  };
  w('events/header_page', p.headerPage);
  w('events/header_event', p.headerEvent);
  for (const f of p.formats) {
    const name = /^\s*name:\s*(\S+)/m.exec(f.text)?.[1];
    if (name) w(`events/${f.system}/${name}/format`, f.text);
  }
  w('saved_cmdlines', p.cmdlines);
  w('saved_tgids', [...p.tgids].map(([t, g]) => `${t} ${g}\n`).join(''));
  w('trace_clock', `[${p.clock}]\n`);
  w('buffer_subbuf_size_kb', `${p.pageSize / 1024}\n`);
  w('tracing_on', '1\n');
  w('set_event', '');
  fs.mkdirSync(path.join(dir, 'instances'), { recursive: true });
  let pages = 0;
  const ncpu = p.cpus.reduce((m, c) => Math.max(m, c.cpu + 1), 0);
  for (let cpu = 0; cpu < ncpu; cpu++) {
    const c = p.cpus.find((x) => x.cpu === cpu);
    w(`per_cpu/cpu${cpu}/trace_pipe_raw`, Buffer.concat(c?.pages ?? []));
    pages += c?.pages.length ?? 0;
    const s = stats?.get(cpu);
    if (s !== undefined) w(`per_cpu/cpu${cpu}/stats`, s);
  }
  return { cpus: ncpu, pages };
}

/** Split a per-CPU stats dump (consecutive "entries: ..." blocks, CPU 0 first) into CPUs. */
export function splitStats(text: string): Map<number, string> {
  const m = new Map<number, string>();
  const blocks = text.split(/(?=^entries:)/m).filter((b) => b.trim());
  blocks.forEach((b, i) => m.set(i, b));
  return m;
}
