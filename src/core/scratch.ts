/**
 * Temporary files and directories kvmtax makes (staging outputs, scratch databases, spooled binary input),
 * removed when the run is interrupted (SIGINT, SIGTERM) as they are on errors: a kill leaves nothing behind
 * in the system's temporary directory or beside an output.
 */
import fs from 'node:fs';

const scratch = new Set<string>();
let handlersInstalled = false;

/** Remove `p` (recursively) if SIGINT/SIGTERM arrives before releaseScratch(p). */
export function registerScratch(p: string): void {
  scratch.add(p);
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      removeScratch();
      process.stderr.write(`kvmtax: interrupted (${sig}): temporary files removed\n`);
      // die of the signal, as the shell expects (exit status 130 / 143); process.exit() would wait for a
      // thread still blocked opening a FIFO
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
    });
  }
}

export function releaseScratch(p: string): void {
  scratch.delete(p);
}

/** Remove every registered temporary path (best effort). */
export function removeScratch(): void {
  for (const p of scratch) {
    try { fs.rmSync(p, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  scratch.clear();
}
