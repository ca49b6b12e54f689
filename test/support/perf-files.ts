/**
 * Test helpers for the perf.data reader: the real captures (read in place from ../shared, .xz decompressed to a
 * temp dir, never copied into the repository), the perf-script text twins, and the fixtures of perf-fixtures/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { XzReadableStream } from 'xz-decompress';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perf-fixtures');

let tmp: string | undefined;
/** A temp directory for this test file; removePerfTmpDir() (in afterAll) deletes it. */
export function perfTmpDir(): string {
  if (!tmp) tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-perf-'));
  return tmp;
}

/** Delete the temp directory and forget the decompressed copies in it. */
export function removePerfTmpDir(): void {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
  materialized.clear();
}

async function xzBytes(p: string): Promise<Uint8Array> {
  const web = Readable.toWeb(fs.createReadStream(p)) as unknown as ReadableStream<Uint8Array>;
  return new Uint8Array(await new Response(new XzReadableStream(web)).arrayBuffer());
}

const materialized = new Map<string, Promise<string>>();
/** The path of a readable copy of `p`: itself, or for `x.xz` a decompressed copy in the temp dir. */
export function materialize(p: string): Promise<string> {
  if (!p.endsWith('.xz')) return Promise.resolve(p);
  let r = materialized.get(p);
  if (!r) {
    r = (async () => {
      const out = path.join(perfTmpDir(), `${materialized.size}-${path.basename(p, '.xz')}`);
      fs.writeFileSync(out, await xzBytes(p));
      return out;
    })();
    materialized.set(p, r);
  }
  return r;
}

/** The text of `p`, decompressing `.xz`. */
export async function readTextFile(p: string): Promise<string> {
  if (p.endsWith('.xz')) return new TextDecoder().decode(await xzBytes(p));
  return fs.readFileSync(p, 'utf8');
}

/** `name` or `name.xz`, whichever exists in `dir` (undefined when neither does). */
export function findMaybeXz(dir: string, name: string): string | undefined {
  const p = path.join(dir, name);
  if (fs.existsSync(p)) return p;
  if (fs.existsSync(p + '.xz')) return p + '.xz';
  return undefined;
}

/** Write bytes to a fresh temp file. */
export function tmpFile(name: string, bytes: Uint8Array): string {
  const p = path.join(perfTmpDir(), `${Math.random().toString(36).slice(2)}-${name}`);
  fs.writeFileSync(p, bytes);
  return p;
}
