/**
 * Where a text file's --jobs slices are cut, decided while it is read (jobs.ts). The main thread starts reading
 * the file from its start at once; each worker, once started (tens of milliseconds), says so here and waits.
 * When every worker is ready, the main thread cuts what it has not read yet into even line-aligned shares:
 * it keeps the first, each worker gets one. A worker's start-up thus costs no balance (cut at even shares of
 * the whole file, the main thread read about 80 ms of work more than each worker on 2 cores). If the main
 * thread reaches the end first (a small file), the workers are told so and read nothing.
 *
 * One SharedArrayBuffer: Int32 [ready workers, state], then Float64 cut offsets [0..jobs].
 */
const READY = 0, STATE = 1;
const PLANNING = 0, CUT = 1, CANCELLED = 2;

export class SliceControl {
  private readonly i32: Int32Array;
  private readonly at: Float64Array;
  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, 2);
    this.at = new Float64Array(sab, 8);
  }

  static create(jobs: number): SliceControl {
    return new SliceControl(new SharedArrayBuffer(8 + 8 * (jobs + 1)));
  }

  /** A worker: say it is ready, wait for the cut; its slice [start, end), or undefined when the main thread read everything. */
  awaitSlice(k: number): { start: number; end: number } | undefined {
    Atomics.add(this.i32, READY, 1);
    Atomics.notify(this.i32, READY);
    while (Atomics.load(this.i32, STATE) === PLANNING) Atomics.wait(this.i32, STATE, PLANNING);
    if (Atomics.load(this.i32, STATE) === CANCELLED) return undefined;
    return { start: this.at[k]!, end: this.at[k + 1]! };
  }

  /** The main thread: how many workers are ready. */
  ready(): number { return Atomics.load(this.i32, READY); }

  /** The main thread (tests): wait until `n` workers are ready or `ms` passed. */
  waitReady(n: number, ms: number): boolean {
    const until = Date.now() + ms;
    for (let r; (r = this.ready()) < n;) {
      const left = until - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.i32, READY, r, left);
    }
    return true;
  }

  /** The main thread: the slices are [cuts[k], cuts[k + 1]); the workers start. */
  cut(cuts: number[]): void {
    cuts.forEach((c, k) => { this.at[k] = c; });
    Atomics.store(this.i32, STATE, CUT);
    Atomics.notify(this.i32, STATE);
  }

  /** The main thread read the whole file: the workers read nothing. */
  cancel(): void {
    Atomics.store(this.i32, STATE, CANCELLED);
    Atomics.notify(this.i32, STATE);
  }
}
