/**
 * The k-way merge of per-CPU event streams by timestamp that trace.dat and Perfetto readers share (equal
 * timestamps: the order `less` gives, lower CPU first in both): a binary min-heap over the streams' heads.
 */
export class KWayMerge<T> {
  constructor(private readonly heap: T[], private readonly less: (a: T, b: T) => boolean) {
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.heap.length;
  }

  /** The stream whose head comes first. */
  top(): T {
    return this.heap[0]!;
  }

  /** The top stream's head changed (it advanced): restore the order. */
  advanced(): void {
    this.down(0);
  }

  /** The top stream ran out. */
  drop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      let m = l;
      if (l + 1 < n && this.less(heap[l + 1]!, heap[l]!)) m = l + 1;
      if (!this.less(heap[m]!, heap[i]!)) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  }
}
