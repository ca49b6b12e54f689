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

/**
 * The main thread's side of one file's cut, shared by text and perf.data slices. `plan` is asked before each
 * read with the offset not read yet: once every worker is ready (and, for tests, `cutAfter` bytes past `start`
 * were read: the main thread then waits for them), it cuts the rest with `cuts` and gives the main slice's new
 * end; else nothing. `done` after the main slice's read: without a cut (the end came first, an error, or no cut
 * in what was left), the workers read nothing.
 */
export class Cutter {
  private decided = false;
  /** the slices were cut */
  cut = false;
  constructor(private readonly control: SliceControl, private readonly workers: number, private readonly o: {
    /** the data's first and end offsets */
    start: number; end: number;
    /** tests: cut only after this many bytes were read, waiting for the workers then */
    cutAfter?: number;
    /** cut only when at least this much is left (default 16 MiB) */
    minBytes?: number;
    /** the slices' bounds for what is left from `pos`: slice k is [bounds[k], bounds[k + 1]); undefined: no cut */
    cuts: (pos: number) => number[] | undefined;
    onCut?: (bounds: number[]) => void;
  }) {}

  plan(pos: number): number | undefined {
    if (this.decided) return undefined;
    const read = pos - this.o.start;
    if (this.o.cutAfter !== undefined && read >= this.o.cutAfter) this.control.waitReady(this.workers, 30_000);
    if (pos >= this.o.end) { this.done(); return undefined; }
    if (this.control.ready() < this.workers || read < (this.o.cutAfter ?? 0)) return undefined;
    this.decided = true;
    const bounds = this.o.end - pos >= (this.o.minBytes ?? 16 << 20) ? this.o.cuts(pos) : undefined;
    if (!bounds) { this.control.cancel(); return undefined; }
    this.cut = true;
    this.control.cut(bounds);
    this.o.onCut?.(bounds);
    return bounds[1];
  }

  done(): void {
    if (this.decided) return;
    this.decided = true;
    this.control.cancel();
  }
}
