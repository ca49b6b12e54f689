/**
 * Standard output without process.stdout where it is not needed. Node builds process.stdout on first use: 3 ms
 * for a file or /dev/null (an fs stream), 6 ms for a pipe (a net socket), on a short run whose whole start-up
 * beyond node is about 60 ms. A command's output, written once, goes straight to fd 1 (output.ts writeStdout);
 * the stream is built when something needs it (a terminal's width, yargs' help, live screens), and gets the
 * run's error handler then.
 */
import fs from 'node:fs';

let onError: ((e: NodeJS.ErrnoException) => void) | undefined;
let stream: NodeJS.WriteStream | undefined;

/** The handler for write errors on the stream (cli/main.ts run()), given to it when it is built. */
export function setStdoutErrorHandler(h: (e: NodeJS.ErrnoException) => void): void {
  onError = h;
  if (stream) stream.on('error', h);
}

/** process.stdout, with the run's error handler. */
export function stdoutStream(): NodeJS.WriteStream {
  if (!stream) {
    stream = process.stdout;
    if (onError) stream.on('error', onError);
  }
  return stream;
}

/** Whether process.stdout was built through stdoutStream (then output goes through it, in order). */
export function stdoutStreamBuilt(): boolean {
  return stream !== undefined;
}

const terminal: Array<boolean | undefined> = [];
/** Is fd 1 a terminal? A file, pipe, socket or /dev/null is told without building process.stdout. */
export function stdoutIsTerminal(): boolean {
  return (terminal[1] ??= fdIsTerminal(1, () => stdoutStream()));
}
/** Is fd 2 a terminal? Told as for fd 1, without building process.stderr unless it is a character device. */
export function stderrIsTerminal(): boolean {
  return (terminal[2] ??= fdIsTerminal(2, () => process.stderr));
}
function fdIsTerminal(fd: number, stream: () => NodeJS.WriteStream): boolean {
  let st: fs.Stats;
  try { st = fs.fstatSync(fd); } catch { return false; }
  if (!st.isCharacterDevice()) return false;
  try { if (st.rdev === fs.statSync('/dev/null').rdev) return false; } catch { /* no /dev/null: ask the stream */ }
  return stream().isTTY === true;
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/**
 * Write all of `data` to fd 1 now. A descriptor another process left non-blocking (EAGAIN) is waited on, 2 ms
 * at a time. Errors are thrown as they come (EPIPE included).
 */
export function writeFd1(data: Uint8Array): void {
  for (let off = 0; off < data.length;) {
    try {
      off += fs.writeSync(1, data, off, data.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}
