/**
 * --jobs for perf.data: where a file can be cut into slices of its delivered event stream, and one slice's
 * read. Records carry no sync mark, so a cut is a FINISHED_ROUND record (bytes 44 00 00 00 00 00 08 00) found
 * near an even share of the data section and checked by walking the records after it; the slice before a cut
 * walks through it and fails (assembly/perfdata.ts SLF_CUT_NOT_RECORD) if the cut is not a record after all.
 * Which events each slice delivers, and the conditions under which the slices add up to the one-job stream,
 * are in assembly/perfdata.ts (pdSlice); a slice that finds them unmet says so and the file is read by one job.
 */
import fs from 'node:fs';
import { FILE_HEADER_SIZE, MAGIC, latin1 } from './header.js';

/** Record types perf writes (tools/lib/perf/include/perf/event.h: kernel 1-21, user 64-83). */
const plausibleType = (t: number): boolean => (t >= 1 && t <= 21) || (t >= 64 && t <= 90);

/** The data section [start, end) of a little-endian file-mode perf.data, or undefined. */
export function dataSection(fd: number): { start: number; end: number } | undefined {
  const h = Buffer.alloc(FILE_HEADER_SIZE);
  if (fs.readSync(fd, h, 0, h.length, 0) < h.length) return undefined;
  if (latin1.decode(h.subarray(0, 8)) !== MAGIC || Number(h.readBigUInt64LE(8)) !== FILE_HEADER_SIZE) return undefined;
  const start = Number(h.readBigUInt64LE(40));
  const size = Number(h.readBigUInt64LE(48));
  return size > 0 ? { start, end: start + size } : undefined;
}

/** A FINISHED_ROUND record: type 68, misc 0, size 8. */
const ROUND = Buffer.from([0x44, 0, 0, 0, 0, 0, 8, 0]);

/** Walk `span` bytes of records from p in b: false at the first implausible header (true at b's end). */
function walksFrom(b: Buffer, p: number, limit: number): boolean {
  while (p + 8 <= limit) {
    const size = b.readUInt16LE(p + 6);
    if (size < 8 || size % 8 !== 0 || !plausibleType(b.readUInt32LE(p))) return false;
    p += size;
  }
  return true;
}

/**
 * Cuts for `jobs` slices of what is not read yet (from file offset `unread`): near even shares of the rest of the
 * data section, all strictly after `unread`; undefined unless every one is found.
 */
export function cutsFrom(file: string, unread: number, jobs: number): number[] | undefined {
  const cuts = cutsNear(file, (d) => Array.from({ length: jobs - 1 }, (_, i) => unread + Math.floor(((d.end - unread) * (i + 1)) / jobs)));
  return cuts.length === jobs - 1 && cuts[0]! > unread ? cuts : undefined;
}

/**
 * A FINISHED_ROUND record at or after each target offset, within 4 MiB of it, checked by walking 1 MiB of
 * records after it; targets without one near them give no cut.
 */
function cutsNear(file: string, targets: (d: { start: number; end: number }) => number[]): number[] {
  const fd = fs.openSync(file, 'r');
  try {
    const d = dataSection(fd);
    if (!d) return [];
    const WINDOW = 4 << 20, CHECK = 1 << 20;
    const b = Buffer.allocUnsafe(WINDOW + CHECK);
    const cuts: number[] = [];
    for (const at of targets(d)) {
      if (at <= (cuts[cuts.length - 1] ?? d.start) || at >= d.end) continue;
      const n = fs.readSync(fd, b, 0, b.length, at);
      // records are 8-byte aligned in the data section: the record's bytes found by a native search, then aligned
      const first = (8 - ((at - d.start) % 8)) % 8;
      for (let p = b.indexOf(ROUND, first); p >= 0 && p + 8 <= Math.min(n, WINDOW); p = b.indexOf(ROUND, p + 1)) {
        if ((p - first) % 8 !== 0) continue;
        const limit = Math.min(n, p + CHECK, d.end - at);
        if (at + limit < d.end && limit - p < CHECK / 2) continue;
        if (walksFrom(b, p, limit)) { cuts.push(at + p); break; }
      }
    }
    return cuts;
  } finally {
    fs.closeSync(fd);
  }
}
