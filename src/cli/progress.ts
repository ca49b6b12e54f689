import { stderrIsTerminal } from '../core/stdout.js';

/**
 * A progress line on stderr for work longer than a second: bytes, rate and ETA. Only when stderr is a
 * terminal and not --quiet; it erases itself when done, so nothing is left in a captured log.
 */
export class Progress {
  private start = Date.now();
  private lastDraw = 0;
  private drawn = false;
  private doneBefore = 0;

  constructor(private readonly total: number | undefined, private readonly out: NodeJS.WriteStream = process.stderr) {}

  /** `out`: the stream it would draw on (tests); by default fd 2, told without building process.stderr. */
  static enabled(quiet: boolean, out?: NodeJS.WriteStream): boolean {
    return !quiet && (out ? out.isTTY === true : stderrIsTerminal());
  }

  /** A new file begins: earlier files' bytes count as done. */
  nextFile(doneSoFar: number): void {
    this.doneBefore = doneSoFar;
  }

  update(fileBytes: number): void {
    const now = Date.now();
    if (now - this.start < 1000 || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const done = this.doneBefore + fileBytes;
    const secs = (now - this.start) / 1000;
    const rate = done / secs;
    let line = `kvmtax: ${mb(done)}`;
    if (this.total) line += ` of ${mb(this.total)} (${((100 * done) / this.total).toFixed(0)}%)`;
    line += `, ${mb(rate)}/s`;
    if (this.total && rate > 0) line += `, ETA ${Math.max(0, (this.total - done) / rate).toFixed(0)} s`;
    this.out.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
  }
}

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}
