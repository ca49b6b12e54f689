/**
 * The entry of a --jobs worker thread (jobs.ts starts it): reads its slice with jobs-worker.ts's
 * scanSlice (text) or readTraceDatSlice (trace.dat) and posts the result. Kept apart so that the main thread does not load node:worker_threads
 * at start-up (only when it starts workers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useModule } from '../wasm/core.js';
import { readTraceDatSlice, scanSlice, type SliceJob, type TraceDatJob } from './jobs-worker.js';

if (parentPort && workerData) {
  const job = workerData as SliceJob | TraceDatJob;
  if (job.module) useModule(job.module);
  const run = 'kind' in job && job.kind === 'tracedat' ? readTraceDatSlice(job, true) : scanSlice(job as SliceJob, true);
  void run.then((r) => parentPort!.postMessage(r, r.packed ? [r.packed.pairs.buffer as ArrayBuffer, r.packed.histAt.buffer as ArrayBuffer] : []));
}
