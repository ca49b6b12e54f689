/**
 * KVMTAX_PHASES=1: one stderr line per pipeline phase, "phase <ms since the process started> <thread> <what>
 * (faults <minor page faults so far>, rss <MB>)", to see where a run's wall time goes (start-up, each --jobs
 * slice, merge, summary) without a profiler. The faults are the process's: on this project's VMs a fresh page
 * costs about 13 us, so memory first touched is time (README, Performance).
 * Off, it costs one environment lookup per call; the calls are per phase, never per event.
 */
const on = typeof process !== 'undefined' && process.env.KVMTAX_PHASES === '1';
let thread: string | undefined;

export function phase(what: string): void {
  if (!on) return;
  thread ??= process.getBuiltinModule?.('node:worker_threads')?.isMainThread === false ? `worker${process.getBuiltinModule('node:worker_threads').threadId}` : 'main';
  const ru = process.resourceUsage();
  process.stderr.write(`phase ${(process.uptime() * 1000).toFixed(1)} ${thread} ${what} (faults ${ru.minorPageFault}, rss ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MB)\n`);
}
