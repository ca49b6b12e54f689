/**
 * A compressed file's content decompressed on a worker thread (unpack-worker.ts) while the main thread
 * scans: a ByteSource like formats/source.ts's, read in order. Used for compressed files large enough
 * that the worker's start-up (tens of ms) is paid back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KvmtaxError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';
import type { ByteSource } from '../formats/source.js';
import type { UnpackMessage } from './unpack-worker.js';

/** Compressed files at least this large are decompressed on a worker thread. */
export const UNPACK_WORKER_MIN = 4 << 20;

export class UnpackSource implements ByteSource {
  head: Uint8Array = new Uint8Array(0);
  compression?: string;
  private readonly queue: UnpackMessage[] = [];
  private waiting: (() => void) | undefined;
  private pending: Uint8Array = new Uint8Array(0);
  private raw = 0;
  private ended = false;
  private readonly worker: import('node:worker_threads').Worker;

  private constructor(readonly name: string) {
    const entry = path.join(packageRoot(), 'dist', 'src', 'pipeline', 'unpack-worker.js');
    const { Worker } = process.getBuiltinModule('node:worker_threads');
    this.worker = new Worker(entry, { workerData: { file: name } });
    this.worker.on('message', (m: UnpackMessage) => { this.queue.push(m); this.waiting?.(); this.waiting = undefined; });
    this.worker.on('error', (e) => { this.queue.push({ kind: 'error', message: String(e?.stack ?? e), internal: true }); this.waiting?.(); });
  }

  /** Start the worker and wait for the head of the content. */
  static async open(file: string): Promise<UnpackSource> {
    const s = new UnpackSource(file);
    const m = await s.next();
    if (m?.kind !== 'head') { s.close(); throw new Error('unpack worker: no head'); }
    s.head = m.head;
    s.compression = m.compression;
    return s;
  }

  private async next(): Promise<UnpackMessage | undefined> {
    while (this.queue.length === 0) await new Promise<void>((r) => { this.waiting = r; });
    const m = this.queue.shift()!;
    if (m.kind === 'error') {
      this.ended = true;
      if (m.internal) throw new Error(m.message);
      throw new KvmtaxError(m.message, { file: m.file, line: m.line, col: m.col, offset: m.offset, exitCode: m.exitCode });
    }
    return m;
  }

  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    let got = 0;
    while (got < len) {
      if (this.pending.length === 0) {
        if (this.ended) break;
        const m = await this.next();
        if (m!.kind === 'end') { this.ended = true; this.raw = m!.raw; break; }
        if (m!.kind !== 'chunk') continue;
        this.pending = m!.data;
        this.raw = m!.raw;
        this.worker.postMessage(0); // one chunk taken: the worker may decompress another
      }
      const k = Math.min(len - got, this.pending.length);
      dst.set(this.pending.subarray(0, k), off + got);
      this.pending = this.pending.subarray(k);
      got += k;
    }
    return got;
  }

  rawPosition(): number { return this.raw; }

  close(): void { void this.worker.terminate(); }
}

/** Whether `file` is a regular file large enough for UnpackSource (compression is known by openSource). */
export function bigEnoughToUnpackAside(file: string): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && st.size >= UNPACK_WORKER_MIN;
  } catch {
    return false;
  }
}
