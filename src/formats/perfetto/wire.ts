/**
 * Protocol Buffers wire format (https://protobuf.dev/programming-guides/encoding/): the bounded varint /
 * tag / length-delimited walk the Perfetto reader does by hand on its hot paths (packets, ftrace bundles),
 * and the sniff that recognizes a Perfetto trace from its first bytes.
 */
import { FormatError } from '../bytes.js';

/**
 * Does `h` start like a Perfetto trace, a sequence of `TracePacket packet = 1` fields (tag 0x0a, then a
 * length varint)? A few top-level fields are walked: each must be field 1, wire type 2, and fit the head.
 */
export function looksLikePerfetto(h: Uint8Array): boolean {
  let p = 0;
  for (let k = 0; k < 3 && p < h.length; k++) {
    if (h[p] !== 0x0a) return false;
    p++;
    let len = 0, shift = 0;
    for (;;) {
      if (p >= h.length || shift > 28) return k > 0;
      const c = h[p++]!;
      len |= (c & 0x7f) << shift;
      if (!(c & 0x80)) break;
      shift += 7;
    }
    p += len;
  }
  return true;
}

/** A bounded cursor over protobuf wire data; every error names the packet (its file offset). */
export class Wire {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number, readonly at: number, readonly what: string) {
    this.pos = start;
  }

  bad(msg: string): never {
    throw new FormatError(`${msg} in ${this.what} at offset ${this.at}`, this.at);
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  private byte(): number {
    if (this.pos >= this.end) this.bad('truncated varint');
    return this.buf[this.pos++]!;
  }

  /** A varint as a JS number (exact below 2^53: tags, lengths, small integers). */
  varint(): number {
    let v = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      v += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return v;
    }
    this.bad('varint longer than 10 bytes');
  }

  /** A varint as an unsigned 64-bit bigint. */
  varintBig(): bigint {
    let lo = 0;
    for (let i = 0; i < 7; i++) {
      const b = this.byte();
      lo += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return BigInt(lo);
    }
    let v = BigInt(lo);
    for (let i = 7; i < 10; i++) {
      const b = this.byte();
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return BigInt.asUintN(64, v);
    }
    this.bad('varint longer than 10 bytes');
  }

  /** The next tag: [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0 || field > 0x1fffffff) this.bad(`bad field number ${field}`);
    return [field, t % 8];
  }

  /**
   * The next tag as field * 8 + wire type: tag() without the pair it allocates (a bundle's walk takes one per
   * event). One- and two-byte tags are read here; anything else, errors included, goes through tag().
   */
  tagN(): number {
    const b = this.buf, p = this.pos;
    if (p < this.end) {
      const c = b[p]!;
      if (c < 0x80) {
        if (c >= 8) { this.pos = p + 1; return c; }
      } else if (p + 1 < this.end && b[p + 1]! < 0x80) {
        const t = (c & 0x7f) | (b[p + 1]! << 7);
        if (t >= 8) { this.pos = p + 2; return t; }
      }
    }
    const [field, wt] = this.tag();
    return field * 8 + wt;
  }

  /** The end of the payload lenStart() last found. */
  lenEnd = 0;

  /** A length-delimited payload: its start in buf (its end in lenEnd); lenDelim() without the pair. */
  lenStart(): number {
    const n = this.varint();
    if (n > this.end - this.pos) this.bad(`length ${n} past the end (${this.end - this.pos} bytes left)`);
    const s = this.pos;
    this.pos += n;
    this.lenEnd = this.pos;
    return s;
  }

  /** A length-delimited payload: its [start, end) in buf. */
  lenDelim(): [number, number] {
    const n = this.varint();
    if (n > this.end - this.pos) this.bad(`length ${n} past the end (${this.end - this.pos} bytes left)`);
    const s = this.pos;
    this.pos += n;
    return [s, this.pos];
  }

  skip(wt: number): void {
    switch (wt) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.lenDelim(); return;
      case 5: this.advance(4); return;
      default: this.bad(`unsupported wire type ${wt}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) this.bad('truncated fixed-size field');
    this.pos += n;
  }
}

