/**
 * KVMTAX_PHASES=1: one stderr line per pipeline phase, "phase <ms since the process started> <thread> <what>",
 * to see where a run's wall time goes (start-up, each --jobs slice, merge, summary) without a profiler.
 * Off, it costs one environment lookup per call; the calls are per phase, never per event.
 */
const on = typeof process !== 'undefined' && process.env.KVMTAX_PHASES === '1';
let thread: string | undefined;

export function phase(what: string): void {
  if (!on) return;
  thread ??= process.getBuiltinModule?.('node:worker_threads')?.isMainThread === false ? `worker${process.getBuiltinModule('node:worker_threads').threadId}` : 'main';
  process.stderr.write(`phase ${(process.uptime() * 1000).toFixed(1)} ${thread} ${what}\n`);
}
