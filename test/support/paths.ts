import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TRACES = path.join(ROOT, 'traces');
/**
 * ../shared beside the repository (CI has it), or $KVMTAX_SHARED (a worktree elsewhere); tests that need it
 * skip with a message when it is absent.
 */
export const SHARED = process.env.KVMTAX_SHARED ? path.resolve(process.env.KVMTAX_SHARED) : path.resolve(ROOT, '..', 'shared');
export const HAVE_SHARED = fs.existsSync(path.join(SHARED, 'captures'));
if (!HAVE_SHARED) console.warn(`note: ${SHARED} is absent: tests on ../shared captures and public traces are skipped`);

/** Write `text` to a fresh temp file and return its path. */
export function tmpTrace(text: string | Uint8Array, name = 'trace.txt'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-test-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}
