/**
 * A worker thread that decompresses one .gz/.xz file (formats/source.ts's openSource, in the worker)
 * and posts its content in 1 MiB transferred chunks, at most AHEAD of them ahead of the main thread, so
 * that decompression runs beside the scan instead of before each block of it. unpack-source.ts is the
 * main thread's side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSource } from '../formats/source.js';
import { KvmtaxError } from '../core/errors.js';

export const CHUNK = 1 << 20;
export const AHEAD = 4;

export type UnpackMessage =
  | { kind: 'head'; head: Uint8Array; compression?: string }
  | { kind: 'chunk'; data: Uint8Array; raw: number }
  | { kind: 'end'; raw: number }
  | { kind: 'error'; message: string; file?: string; line?: number; col?: number; offset?: number; exitCode?: number; internal?: boolean };

async function run(file: string): Promise<void> {
  const port = parentPort!;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  port.on('message', () => { inFlight--; wake?.(); wake = undefined; });
  try {
    const src = await openSource(file);
    try {
      port.postMessage({ kind: 'head', head: src.head, compression: src.compression } satisfies UnpackMessage);
      for (;;) {
        const buf = new Uint8Array(CHUNK);
        let n = 0;
        while (n < CHUNK) {
          const k = await src.read(buf, n, CHUNK - n);
          if (k === 0) break;
          n += k;
        }
        const raw = src.rawPosition?.() ?? 0;
        if (n === 0) { port.postMessage({ kind: 'end', raw } satisfies UnpackMessage); break; }
        inFlight++;
        port.postMessage({ kind: 'chunk', data: buf.subarray(0, n), raw } satisfies UnpackMessage, [buf.buffer]);
        while (inFlight >= AHEAD) await new Promise<void>((r) => { wake = r; });
      }
    } finally {
      src.close();
    }
  } catch (e) {
    const msg: UnpackMessage = e instanceof KvmtaxError
      ? { kind: 'error', message: e.message, file: e.file, line: e.line, col: e.col, offset: e.offset, exitCode: e.exitCode }
      : { kind: 'error', message: String((e as Error)?.stack ?? e), internal: true };
    port.postMessage(msg);
  }
  port.close();
}

if (parentPort && workerData) void run((workerData as { file: string }).file);
