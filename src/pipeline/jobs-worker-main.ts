/**
 * The entry of a --jobs worker thread (jobs.ts starts it): reads its slice with jobs-worker.ts's
 * scanSlice and posts the result. Kept apart so that the main thread does not load node:worker_threads
 * at start-up (only when it starts workers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useModule } from '../wasm/core.js';
import { scanSlice, type SliceJob } from './jobs-worker.js';

if (parentPort && workerData) {
  const job = workerData as SliceJob;
  if (job.module) useModule(job.module);
  void scanSlice(job, true).then((r) => parentPort!.postMessage(r, r.packed ? [r.packed.pairs.buffer as ArrayBuffer, r.packed.histAt.buffer as ArrayBuffer] : []));
}
