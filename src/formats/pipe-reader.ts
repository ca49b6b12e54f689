/**
 * A pipe or socket read by the scanning thread itself, straight into the scan's buffer: xz's output
 * (decompress.ts) and a piped standard input (source.ts).
 *
 * Taken as a stream's 'data' events, every write of the producer woke the main thread for one read and one
 * callback: `xz -dc` writes 8 KiB at a time, 28,000 wake-ups and about 0.9 s of the main thread's CPU for
 * 256 MiB. Here the descriptor (non-blocking, as libuv leaves it) is read with readSync until it has nothing
 * more; what has come is handed to the scan once it holds PIPE_HANDOFF bytes; otherwise the thread sleeps a
 * little (Atomics.wait) so that several writes gather, and nobody is woken by a write. The event loop gets a
 * turn every PIPE_YIELD_MS while the reader waits, so signals (Ctrl-C, with the temporary output's removal)
 * and the producer's exit are seen.
 */
import fs from 'node:fs';

/** Bytes pulled into the caller's buffer: read up to `len` bytes into dst[off..]; 0 at the end. */
export interface PullReader {
  read(dst: Uint8Array, off: number, len: number): Promise<number>;
  /** Stop early (the consumer is done): the producer is stopped too, where there is one to stop. */
  close(): void;
  /** How many bytes of the compressed input have been read so far, if known. */
  rawPosition(): number | undefined;
}

const NAP = new Int32Array(new SharedArrayBuffer(4));
/** The first sleep (ms) when there is nothing to read. xz writes 8 KiB about every 30 us; a pipe holds 64 KiB
 * (a quarter of a millisecond of it), the socket to a child about 200 KB. `xz -dc` of 256 MiB piped into
 * `kvmtax report -`, 5 alternating runs: 1938 ms as a stream, 2119 sleeping 0.3 ms (xz blocked on the full pipe
 * a fifth of the time), 1800 at 0.2, 1528 at 0.1, 1700 at 0.05. Each further empty read doubles it, up to
 * PIPE_NAP_MAX_MS, so that an idle producer costs little CPU. */
const PIPE_NAP_MS = 0.1;
const PIPE_NAP_MAX_MS = 5;
/** What has arrived is handed to the scan once it holds this much and nothing more is there. */
const PIPE_HANDOFF = 64 << 10;
/** The event loop gets a turn at least this often (ms) while the reader waits. */
const PIPE_YIELD_MS = 20;

/**
 * The readable end `fd` of a pipe or socket, non-blocking. `atEnd` runs once the producer has closed its end
 * (it may throw, to say why the producer failed); `stop` on close() before the end.
 */
export class PipeReader implements PullReader {
  private ended = false;
  private lastYield = performance.now();
  constructor(private readonly fd: number, private readonly atEnd: () => Promise<void>, private readonly stop: () => void,
    private readonly position: () => number | undefined = () => undefined) {}

  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    if (this.ended) { await this.atEnd(); return 0; }
    let got = 0;
    let nap = PIPE_NAP_MS;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, dst, off + got, len - got, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EINTR') throw e;
        n = -1;
      }
      if (n > 0) {
        got += n;
        nap = PIPE_NAP_MS;
        if (got === len) return got;
        continue;
      }
      if (n === 0) {
        this.ended = true;
        if (got > 0) return got;
        await this.atEnd();
        return 0;
      }
      if (got >= PIPE_HANDOFF) return got;
      const now = performance.now();
      if (now - this.lastYield >= PIPE_YIELD_MS) {
        this.lastYield = now;
        await new Promise<void>((r) => setImmediate(r));
      } else {
        Atomics.wait(NAP, 0, 0, nap);
        nap = Math.min(nap * 2, PIPE_NAP_MAX_MS);
      }
    }
  }
  close(): void {
    if (!this.ended) this.stop();
  }
  rawPosition(): number | undefined {
    return this.position();
  }
}

/**
 * The descriptor under a Node stream made over a pipe or socket (a child's stdout, process.stdin), with the
 * stream's own reading stopped so that every byte comes through PipeReader; undefined when it has none to give.
 */
export function streamFd(stream: unknown): number | undefined {
  const h = (stream as { _handle?: { fd?: unknown; reading?: boolean; readStop?: () => number } } | null)?._handle;
  if (!h || typeof h.fd !== 'number' || h.fd < 0 || typeof h.readStop !== 'function') return undefined;
  // a child's stdout starts reading as it is made (net.Socket's read(0)): stop that before the loop polls it,
  // as net.Socket's own pauseOnCreate does
  h.reading = false;
  h.readStop();
  return h.fd;
}
