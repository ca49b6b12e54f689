/**
 * A long text written to a file (src/core/output.ts) is encoded in pieces through one buffer: the file holds
 * exactly the text's UTF-8, whatever falls on a piece's edge (a character of 2, 3 or 4 bytes, a surrogate
 * pair), and a short text is written as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOutput } from '../../src/core/output.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-write-text-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// a piece is at most floor(256 KiB / 3) = 87381 UTF-16 units (src/core/output.ts)
const PIECE_UNITS = Math.floor((256 << 10) / 3);

async function roundTrip(text: string): Promise<Buffer> {
  const file = path.join(dir, `out-${Math.random().toString(36).slice(2)}.txt`);
  await writeOutput(text, file, []);
  return fs.readFileSync(file);
}

describe('writing a text to a file', () => {
  it('a short text', async () => {
    const t = 'kvmtax µs ≥ 😀\n';
    expect((await roundTrip(t)).equals(Buffer.from(t))).toBe(true);
  });

  for (const [name, ch] of [['ASCII', 'x'], ['2-byte', 'é'], ['3-byte', '≥'], ['a surrogate pair', '😀']] as const) {
    it(`a long text with ${name} characters across every piece edge`, async () => {
      // the character at each offset around the first and second piece edges
      for (const shift of [-2, -1, 0, 1]) {
        const head = 'a'.repeat(PIECE_UNITS + shift);
        const t = head + ch + 'b'.repeat(PIECE_UNITS - 1) + ch + 'c'.repeat(1000) + '\n';
        const got = await roundTrip(t);
        expect(got.length).toBe(Buffer.byteLength(t));
        expect(got.equals(Buffer.from(t))).toBe(true);
      }
    });
  }

  it('a text in pieces (a JSON body and its newline) is written whole, in order', async () => {
    const body = JSON.stringify({ a: 'é'.repeat(PIECE_UNITS), b: [1, 2, 3] }, null, 2);
    const file = path.join(dir, 'pieces.json');
    await writeOutput([body, '\n'], file, []);
    expect(fs.readFileSync(file, 'utf8')).toBe(body + '\n');
  });

  it('a long text made of 4-byte characters only (each piece is whole pairs)', async () => {
    const t = '😀'.repeat(200_000) + '\n';
    const got = await roundTrip(t);
    expect(got.equals(Buffer.from(t))).toBe(true);
    expect(got.toString('utf8')).toBe(t);
  });
});
