import { describe, it, expect } from 'vitest';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from '../../support/paths.js';
import { parseEventFormat, readField, readString } from '../../../src/formats/tracefs-format.js';
import { FormatError } from '../../../src/formats/bytes.js';

const FORMATS = join(SHARED, 'captures', 'pvm-formats');
const haveFormats = existsSync(FORMATS);
if (!haveFormats) console.warn(`skipping real-format tests: ${FORMATS} is absent`);

const SAMPLE = `name: sched_switch
ID: 372
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:__data_loc char[] msg;\toffset:40;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] rel;\toffset:44;\tsize:4;\tsigned:0;

print fmt: "prev_comm=%s", REC->prev_comm
`;

describe('parseEventFormat', () => {
  it('parses fields, common fields, arrays, data_loc and print fmt', () => {
    const f = parseEventFormat(SAMPLE, 'sched');
    expect(f.system).toBe('sched');
    expect(f.name).toBe('sched_switch');
    expect(f.id).toBe(372);
    expect(f.commonFields.map((x) => x.name)).toEqual(['common_type', 'common_flags', 'common_preempt_count', 'common_pid']);
    expect(f.fields.map((x) => x.name)).toEqual(['prev_comm', 'prev_pid', 'prev_state', 'msg', 'rel']);
    expect(f.field('prev_comm')).toMatchObject({ type: 'char[]', offset: 8, size: 16, signed: false, isArray: true, arrayLen: 16, isDynamic: false });
    expect(f.field('prev_pid')).toMatchObject({ type: 'pid_t', offset: 24, size: 4, signed: true, isArray: false, arrayLen: 0 });
    expect(f.field('msg')).toMatchObject({ type: '__data_loc char[]', isDynamic: true, isArray: true, size: 4 });
    expect(f.field('common_pid')).toMatchObject({ offset: 4, size: 4, signed: true });
    expect(f.field('nope')).toBeUndefined();
    expect(f.printFmt).toBe('"prev_comm=%s", REC->prev_comm');
  });

  it('accepts the header_page style with a space after field: and no signed', () => {
    const f = parseEventFormat('name: x\nID: 1\nformat:\n\tfield: u64 timestamp;\toffset:0;\tsize:8;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n', 'ftrace');
    expect(f.fields.map((x) => [x.name, x.type, x.offset, x.size, x.signed])).toEqual([
      ['timestamp', 'u64', 0, 8, false],
      ['commit', 'local_t', 8, 8, true],
    ]);
  });

  it('throws FormatError with an offset on malformed text', () => {
    const bad = 'name: x\nID: 1\nformat:\n\tfield:int a;\toffset:zz;\tsize:4;\n';
    let err: unknown;
    try {
      parseEventFormat(bad, 's');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).offset).toBe(bad.indexOf('\tfield'));
    expect(() => parseEventFormat('ID: 3\nformat:\n', 's')).toThrow(FormatError);
    expect(() => parseEventFormat('name: a\nformat:\n', 's')).toThrow(/without an ID/);
    expect(() => parseEventFormat('name: a\nID: x1\n', 's')).toThrow(FormatError);
    expect(() => parseEventFormat('name: a\nID: 1\nhello\n', 's')).toThrow(FormatError);
  });

  it.skipIf(!haveFormats)('parses every real 6.18 format file', () => {
    for (const file of readdirSync(FORMATS).filter((n) => n.endsWith('.format'))) {
      const sys = file.startsWith('sched_') ? 'sched' : 'kvm';
      const f = parseEventFormat(readFileSync(join(FORMATS, file), 'utf8'), sys);
      expect(f.commonFields.length).toBe(4);
      expect(f.fields.length).toBeGreaterThan(0);
      expect(f.printFmt.startsWith('"')).toBe(true);
    }
    const exit = parseEventFormat(readFileSync(join(FORMATS, 'kvm_exit.format'), 'utf8'), 'kvm');
    expect(exit.id).toBe(103);
    expect(exit.fields.map((x) => `${x.name}@${x.offset}/${x.size}`)).toEqual([
      'exit_reason@8/4', 'guest_rip@16/8', 'isa@24/4', 'info1@32/8', 'info2@40/8', 'intr_info@48/4',
      'error_code@52/4', 'vcpu_id@56/4', 'requests@64/8',
    ]);
    expect(exit.printFmt).toContain('FAILED_VMENTRY');
  });
});

describe('readField / readString', () => {
  const f = parseEventFormat(SAMPLE, 'sched');
  function rec(le: boolean): Uint8Array {
    const b = new Uint8Array(64 + 16);
    const v = new DataView(b.buffer);
    v.setUint16(0, 372, le);
    v.setInt32(4, -7, le);
    b.set(new TextEncoder().encode('qemu-kvm'), 8);
    v.setInt32(24, 1234, le);
    v.setBigInt64(32, -2n, le);
    // __data_loc: offset 64, length 6 ("hello\0")
    v.setUint32(40, (6 << 16) | 64, le);
    b.set(new TextEncoder().encode('hello\0'), 64);
    // __rel_loc: relative to the end of the field (44 + 4 = 48): points at 70
    v.setUint32(44, (4 << 16) | 22, le);
    b.set(new TextEncoder().encode('abc\0'), 70);
    return b;
  }
  for (const le of [true, false]) {
    it(`reads integers and strings (${le ? 'little' : 'big'} endian)`, () => {
      const b = rec(le);
      // a record at a non-zero base inside a larger buffer
      const big = new Uint8Array(b.length + 10);
      big.set(b, 10);
      const view = new DataView(big.buffer);
      expect(readField(view, 10, f.field('common_type')!, le)).toBe(372n);
      expect(readField(view, 10, f.field('common_pid')!, le)).toBe(-7n);
      expect(readField(view, 10, f.field('prev_pid')!, le)).toBe(1234n);
      expect(readField(view, 10, f.field('prev_state')!, le)).toBe(-2n);
      expect(readString(big, 10, f.field('prev_comm')!, le)).toBe('qemu-kvm');
      expect(readString(big, 10, f.field('msg')!, le)).toBe('hello');
      expect(readString(big, 10, f.field('rel')!, le)).toBe('abc');
    });
  }
  it('unsigned 64-bit and 8-bit values', () => {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, 0xffffffffffffffffn, true);
    b[8] = 0xff;
    const u64 = { name: 'x', type: 'u64', offset: 0, size: 8, signed: false, isArray: false, arrayLen: 0, isDynamic: false };
    expect(readField(v, 0, u64, true)).toBe(0xffffffffffffffffn);
    expect(readField(v, 0, { ...u64, offset: 8, size: 1 }, true)).toBe(255n);
    expect(readField(v, 0, { ...u64, offset: 8, size: 1, signed: true }, true)).toBe(-1n);
  });
  it('throws FormatError (not RangeError) outside the record', () => {
    const v = new DataView(new ArrayBuffer(8));
    expect(() => readField(v, 4, f.field('prev_pid')!, true)).toThrow(FormatError);
    expect(() => readString(new Uint8Array(8), 0, f.field('prev_comm')!, true)).toThrow(FormatError);
    const odd = { name: 'x', type: 'u8[]', offset: 0, size: 3, signed: false, isArray: false, arrayLen: 0, isDynamic: false };
    expect(() => readField(v, 0, odd, true)).toThrow(FormatError);
  });
});
