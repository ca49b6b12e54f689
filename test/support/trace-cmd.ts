/**
 * trace-cmd, the reference reader of trace.dat that tests compare kvmtax with (`trace-cmd report`, and
 * `trace-cmd convert` for the v6 and uncompressed v7 twins of the captures): Debian's package, installed by
 * scripts/install-test-tools.sh. Without it those checks skip with a note, except under CI=true, where a test
 * fails (requireTraceCmdUnderCi): CI must run them, not pass by skipping.
 */
import { spawnSync } from 'node:child_process';
import { it } from 'vitest';

// (`trace-cmd --version` exits with 1 on 3.1.6: only a failure to start it counts)
export const HAVE_TRACE_CMD = spawnSync('trace-cmd', ['--version'], { stdio: 'ignore' }).error === undefined;
export const TRACE_CMD_REQUIRED = process.env.CI === 'true' || process.env.CI === '1';

/** In a describe block: under CI=true without trace-cmd, a test that fails and says why; otherwise the note. */
export function requireTraceCmdUnderCi(what: string): void {
  if (HAVE_TRACE_CMD) return;
  if (TRACE_CMD_REQUIRED) {
    it(`needs trace-cmd under CI (${what})`, () => {
      throw new Error('trace-cmd is not installed and CI=true: its checks must run in CI (call scripts/install-test-tools.sh from .ci/run)');
    });
  } else {
    console.warn(`note: trace-cmd is not installed (scripts/install-test-tools.sh, or apt-get install trace-cmd): ${what} are skipped`);
  }
}
