/**
 * The memory budget's young generation (issue 15): V8 doubles the young generation up to 2 x 16 MiB when a
 * summary allocates fast; kept at its first size, peak RSS at 256 vCPUs is 25 MB lower, in the same wall
 * time (README, Performance).
 *
 * Set when a run is going to be large (analyze: an input over LARGE_INPUT bytes or of unknown size; live),
 * not at start-up: loading node:v8 for its setFlagsFromString costs every run about 3 ms, and a short run's
 * young generation never grows. It is also never set before bin/kvmtax.js compiles the CLI, since V8 stamps
 * its code cache with a hash of the flags: the cache is made and used with V8's defaults.
 */
let kept = false;

/** An input of more bytes than this (or of unknown size) keeps the young generation small. */
export const LARGE_INPUT = 16 << 20;

export function keepYoungGenerationSmall(): void {
  if (kept) return;
  kept = true;
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}
