/**
 * Reads into core memory off the main thread: fs.read runs on libuv's thread pool while the core works on
 * the previous chunk (the kernel's copy from the page cache is a tenth to an eighth of a run's time on a
 * 1 GB file, and the second core is otherwise idle). Used by the text path (text/text.ts) and the
 * perf.data path (perfdata/core-path.ts).
 */
import * as fs from 'node:fs';
import os from 'node:os';

function readAsync(fd: number, dst: Uint8Array, position: number): Promise<number> {
  return new Promise((res, rej) => fs.read(fd, dst, 0, dst.length, position, (err, n) => (err ? rej(err) : res(n))));
}

/**
 * Read file bytes [at, at + len) of `fd` into core memory at `ptr` (`memory()` gives the core's current
 * buffer): the number read (less than len only at the end of the file).
 */
export async function readIntoCore(fd: number, memory: () => ArrayBuffer, ptr: number, len: number, at: number): Promise<number> {
  let got = 0;
  while (got < len) {
    const mem = memory();
    const r = await readAsync(fd, new Uint8Array(mem, ptr + got, len - got), at + got);
    // memory that grew while the read was pending is a new ArrayBuffer over the same bytes (V8 reserves a
    // 32-bit memory's whole range); the read is done again into the new one all the same, synchronously
    if (r > 0 && memory() !== mem) {
      const again = fs.readSync(fd, new Uint8Array(memory(), ptr + got, r), 0, r, at + got);
      if (again !== r) return got + Math.max(again, 0);
    }
    if (r <= 0) break;
    got += r;
  }
  return got;
}

/** The same read done now, on this thread (when no CPU is left for a reader: --jobs slices on every CPU). */
export function readIntoCoreNow(fd: number, memory: () => ArrayBuffer, ptr: number, len: number, at: number): number {
  let got = 0;
  while (got < len) {
    const r = fs.readSync(fd, new Uint8Array(memory(), ptr + got, len - got), 0, len - got, at + got);
    if (r <= 0) break;
    got += r;
  }
  return got;
}

/**
 * Do `slices` --jobs slices read ahead? Only with a CPU left for the reads: with a slice on every CPU a reader
 * thread per slice only takes turns with the scans (2 slices on 2 CPUs: 7-9% slower reading ahead, text and
 * perf.data alike). `forced` (AnalyzeOptions.sliceReadAhead, tests) decides instead.
 */
export function slicesReadAhead(slices: number, forced?: boolean): boolean {
  return forced ?? slices < os.availableParallelism();
}
