/**
 * Where the commands write: stdout, or a file named by -o / --perfetto / --parquet / --db. The rules:
 *
 * - a file is written beside its final name under a temporary name (".NAME.kvmtax-PID-N.tmp") and renamed
 *   into place once complete: a file that looks complete is complete, and a failed run leaves the old
 *   file as it was;
 * - an existing FIFO or character device (-o /dev/stdout, -o FIFO) is written into, never replaced; a
 *   symlink is followed and its target replaced; a directory, socket or block device is refused;
 * - an output that is one of the input traces is refused (a usage error);
 * - a write error (full disk, closed pipe other than EPIPE, no such directory) is one line and exit 1;
 * - temporary files and scratch directories are removed on SIGINT and SIGTERM as on errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KvmtaxError, EXIT_INPUT, EXIT_USAGE } from './errors.js';
import { registerScratch, releaseScratch, removeScratch } from './scratch.js';
import { stdoutStream, stdoutStreamBuilt, writeFd1 } from './stdout.js';

/** How the CLI passes a "-" argument through its parser (formats/source.ts STDIN; core imports no reader). */
const STDIN = '\u0000stdin';

export { registerScratch, releaseScratch, removeScratch };

/** An fs error as the one line a user reads. */
export function writeError(e: unknown, what: string): KvmtaxError {
  if (e instanceof KvmtaxError) return e;
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such directory', ENOTDIR: 'a part of the path is not a directory', EISDIR: 'is a directory',
    EACCES: 'permission denied', EPERM: 'operation not permitted', ENOSPC: 'no space left on device',
    EROFS: 'read-only file system', EDQUOT: 'disk quota exceeded', EFBIG: 'file too large', EIO: 'I/O error',
    EXDEV: 'cross-device rename',
  };
  return new KvmtaxError(`cannot write: ${(err?.code && why[err.code]) ?? err?.message ?? String(e)}`, what);
}

const isStdout = (p: string) => p === '-' || p === STDIN;

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** A usage error when `out` is one of the inputs (the same file, whatever the names). */
export function refuseInput(out: string, inputs: string[], flag: string): void {
  let o: fs.Stats;
  try { o = fs.statSync(out); } catch { return; }
  for (const i of inputs) {
    if (isStdout(i)) continue;
    try {
      if (sameFile(o, fs.statSync(i))) throw new KvmtaxError(`${flag} ${out} is the input ${i}: refusing to overwrite a trace`, undefined, undefined, undefined, undefined, EXIT_USAGE);
    } catch (e) {
      if (e instanceof KvmtaxError) throw e;
    }
  }
}

export type Target =
  | { kind: 'stdout' }
  /** an existing FIFO or character device: written into */
  | { kind: 'stream'; path: string }
  /** a regular file (new or existing) at `path` (symlinks resolved), replaced by rename */
  | { kind: 'file'; path: string; mode?: number };

/**
 * What writing to `out` means; one-line errors for what cannot be written. `streams`: whether a FIFO or
 * character device may be written into (false where the output must be a seekable file).
 */
export function target(out: string | undefined, inputs: string[], flag: string, streams = true): Target {
  if (out === undefined || isStdout(out)) return { kind: 'stdout' };
  if (out === '') throw new KvmtaxError(`${flag}: name a file (or - for stdout)`, undefined, undefined, undefined, undefined, EXIT_USAGE);
  refuseInput(out, inputs, flag);
  let st: fs.Stats | undefined;
  try { st = fs.lstatSync(out); } catch { st = undefined; }
  let real = out;
  if (st?.isSymbolicLink()) {
    try {
      real = fs.realpathSync(out);
      st = fs.statSync(real);
    } catch {
      // a dangling link: its target is created where it points
      real = path.resolve(path.dirname(out), fs.readlinkSync(out));
      st = undefined;
    }
  }
  if (st) {
    if (st.isDirectory()) throw new KvmtaxError(`cannot write: is a directory`, out);
    if (st.isFIFO() || st.isCharacterDevice()) {
      if (streams) return { kind: 'stream', path: real };
      throw new KvmtaxError(`cannot write: not a regular file (a FIFO or device is never replaced; write to - and redirect)`, out);
    }
    if (!st.isFile()) throw new KvmtaxError(`cannot write: not a regular file`, out);
    return { kind: 'file', path: real, mode: st.mode & 0o7777 };
  }
  const dir = path.dirname(real);
  let d: fs.Stats;
  try { d = fs.statSync(dir); } catch { throw new KvmtaxError(`cannot write: no such directory ${dir}`, out); }
  if (!d.isDirectory()) throw new KvmtaxError(`cannot write: ${dir} is not a directory`, out);
  return { kind: 'file', path: real };
}

let seq = 0;
/** A temporary name in the same directory as `file` (so the final rename is atomic), registered as scratch. */
export function tempBeside(file: string, suffix = '.tmp'): string {
  const p = path.join(path.dirname(file), `.${path.basename(file)}.kvmtax-${process.pid}-${++seq}${suffix}`);
  registerScratch(p);
  return p;
}

/** Rename the complete temporary `tmp` onto `file` (keeping an existing file's mode). */
export function commit(tmp: string, file: string, mode?: number): void {
  try {
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true, recursive: true });
    throw writeError(e, file);
  } finally {
    releaseScratch(tmp);
  }
}

/** Write all of `data` to fd (full-disk errors surface here, not later). */
function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off);
}

// A long text is encoded in pieces through one buffer rather than copied whole into a new one: the copy of
// a 2 MB JSON report was 540 fresh pages, and each fresh page costs (README, Performance).
const PIECE = 256 << 10;
let pieceBuf: Uint8Array | undefined;
const encoder = new TextEncoder();
/** Write `text` as UTF-8 through `write` (all of the bytes it is given, or it throws). */
function writeText(text: string, write: (bytes: Uint8Array) => void): void {
  if (text.length <= PIECE / 4) return write(Buffer.from(text));
  pieceBuf ??= new Uint8Array(PIECE);
  for (let at = 0; at < text.length;) {
    // a piece of at most PIECE / 3 UTF-16 units always fits in PIECE bytes (3 bytes per unit at most);
    // a surrogate pair is never split: the piece then ends one unit early
    let end = Math.min(at + Math.floor(PIECE / 3), text.length);
    if (end < text.length && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--;
    const { read, written } = encoder.encodeInto(text.slice(at, end), pieceBuf);
    if (read !== end - at) throw new Error(`writeText: ${read} of ${end - at} units encoded`);
    write(pieceBuf.subarray(0, written));
    at = end;
  }
}

/** Write a file atomically: temporary, fsync, rename. */
export function writeFileAtomic(t: Extract<Target, { kind: 'file' }>, data: string | readonly string[] | Buffer, shown: string): void {
  const tmp = tempBeside(t.path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o666);
    const to = fd;
    const write = (b: Uint8Array): void => writeAll(to, b);
    if (typeof data === 'string') writeText(data, write);
    else if (Array.isArray(data)) for (const p of data as readonly string[]) writeText(p, write);
    else write(data as Buffer);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* closing after a failed write */ }
    fs.rmSync(tmp, { force: true });
    releaseScratch(tmp);
    throw writeError(e, shown);
  }
  commit(tmp, t.path, t.mode);
}

/** Write to stdout, resolving when written; a write error other than EPIPE is a one-line error. */
export function writeStdout(data: string | Buffer): Promise<void> {
  // straight to fd 1 while nothing has built process.stdout (core/stdout.ts); a reader that went away (EPIPE)
  // ends the output quietly, as through the stream
  if (!stdoutStreamBuilt()) {
    try {
      if (typeof data === 'string') writeText(data, writeFd1);
      else writeFd1(data);
      return Promise.resolve();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return Promise.resolve();
      return Promise.reject(writeError(e, 'standard output'));
    }
  }
  return new Promise((resolve, reject) => {
    stdoutStream().write(data, (e) => {
      if (!e) return resolve();
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return resolve();
      reject(writeError(e, 'standard output'));
    });
  });
}

/**
 * The text output of a command: stdout, or the file `-o` names (atomically), never one of `inputs`. `text` may
 * come in pieces, written one after the other (a long JSON body and its newline, never joined).
 */
export async function writeOutput(text: string | readonly string[], out: string | undefined, inputs: string[], flag = '-o'): Promise<void> {
  const t = target(out, inputs, flag);
  const pieces = typeof text === 'string' ? [text] : text;
  if (t.kind === 'stdout') {
    for (const p of pieces) await writeStdout(p);
    return;
  }
  if (t.kind === 'stream') {
    try {
      const fd = fs.openSync(t.path, 'w');
      try { for (const p of pieces) writeText(p, (b) => writeAll(fd, b)); } finally { fs.closeSync(fd); }
    } catch (e) { throw writeError(e, out!); }
    return;
  }
  writeFileAtomic(t, pieces, out!);
}

export { EXIT_INPUT };
