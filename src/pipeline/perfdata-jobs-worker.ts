/**
 * The entry of a perf.data --jobs worker thread (perfdata-jobs.ts starts it): reads its slice and posts the
 * result. Kept apart so that the main thread does not load node:worker_threads at start-up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useModule } from '../wasm/core.js';
import { readPerfSlice, type PerfSliceJob } from './perfdata-jobs.js';

if (parentPort && workerData) {
  const job = workerData as PerfSliceJob;
  if (job.module) useModule(job.module);
  void readPerfSlice(job, true).then((r) => parentPort!.postMessage(r, r.packed ? [r.packed.pairs.buffer as ArrayBuffer, r.packed.histAt.buffer as ArrayBuffer] : []));
}
