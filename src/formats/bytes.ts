/**
 * The byte plumbing every binary reader shares: the one error type of malformed input (FormatError, a
 * message and the byte offset it is about, printed by the pipeline as `file: byte N: message`) and a
 * bounds-checked cursor over a window of the file.
 */

/** Malformed binary input at byte `offset` of the file. */
export class FormatError extends Error {
  constructor(message: string, public offset: number) {
    super(message);
    this.name = 'FormatError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Bytes as text up to the first NUL (or `end`). */
export function cstr(bytes: Uint8Array, start: number, end: number): string {
  let e = start;
  while (e < end && bytes[e] !== 0) e++;
  return utf8.decode(bytes.subarray(start, e));
}

/** A u64 as a JS number (exact below 2^53). */
export function u64n(view: DataView, off: number, le: boolean): number {
  const lo = view.getUint32(off + (le ? 0 : 4), le);
  const hi = view.getUint32(off + (le ? 4 : 0), le);
  return hi * 4294967296 + lo;
}

/**
 * A bounds-checked cursor over bytes[pos..end) that belong to a file region starting at `fileBase`: a
 * read past `end` throws FormatError(`<prefix>truncated <what> at offset N`) with N the file offset.
 */
export class ByteCursor {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, public pos: number, readonly end: number, readonly le: boolean,
              readonly fileBase: number, readonly what: string, readonly prefix = '') {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  truncated(off = this.fileBase + this.pos): FormatError {
    return new FormatError(`${this.prefix}truncated ${this.what} at offset ${off}`, off);
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw this.truncated();
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  u32(le = this.le): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, le);
    this.pos += 4;
    return v;
  }
  u64(le = this.le): number {
    this.need(8);
    const v = u64n(this.view, this.pos, le);
    this.pos += 8;
    return v;
  }
  take(n: number): Uint8Array {
    if (!Number.isSafeInteger(n)) throw this.truncated();
    this.need(n);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(n: number): void {
    this.take(n);
  }
  /** NUL-terminated string */
  cstring(): string {
    const start = this.pos;
    while (this.pos < this.end && this.bytes[this.pos] !== 0) this.pos++;
    if (this.pos >= this.end) throw this.truncated(this.fileBase + start);
    const s = utf8.decode(this.bytes.subarray(start, this.pos));
    this.pos++;
    return s;
  }
  /** perf_header_string: u32 len, then len bytes holding a NUL-terminated string */
  headerString(): string {
    const len = this.u32();
    const b = this.take(len);
    return cstr(b, 0, b.length);
  }
  get remaining(): number {
    return this.end - this.pos;
  }
}
